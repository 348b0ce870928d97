//! The NuGet feeds this machine is configured for, asked which versions of r2r's packs they
//! serve, and the packs already restored here.
//!
//! The feeds are the ones `dotnet restore` would use: `dotnet nuget list source` run in the
//! directory r2r restores in (NuGet reads the `NuGet.Config` files from there up to the root,
//! then the user's and the machine's). An HTTP feed is read by the NuGet v3 protocol: its
//! service index names the `PackageBaseAddress` resource, whose
//! `{base}/{id lowercase}/index.json` lists a package's versions (no search service is
//! needed). A local folder feed is read as NuGet lays one out (`{id}/{version}/`, or flat
//! `{id}.{version}.nupkg` files).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Mutex;
use std::time::Duration;

use crate::model::dotnet_version::{Served, Version, VersionSource};

/// How long connecting to a feed may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// How long one request to a feed may take.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(60);

/// The machine's NuGet feeds and restored packages, as a [`VersionSource`]. Answers are
/// kept for the life of the value (one command asks once).
#[derive(Debug)]
pub struct NugetFeeds {
    /// Where r2r restores packs (`<packages>/<id lowercase>/<version>/`); NuGet's global
    /// packages folder is looked in too.
    pub packages: PathBuf,
    /// The directory whose NuGet configuration applies (where r2r restores).
    pub directory: PathBuf,
    answers: Mutex<BTreeMap<Vec<String>, Served>>,
}

impl NugetFeeds {
    /// The feeds configured for `directory`, packs restored under `packages`.
    pub fn new(packages: PathBuf, directory: PathBuf) -> NugetFeeds {
        NugetFeeds {
            packages,
            directory,
            answers: Mutex::new(BTreeMap::new()),
        }
    }

    /// The feeds of a work directory (`.r2r/work`): packs under `<work>/packages`.
    pub fn for_work_dir(work: &Path) -> NugetFeeds {
        NugetFeeds::new(work.join("packages"), work.to_path_buf())
    }

    /// Where restored packages are looked for: r2r's, then NuGet's global packages folder
    /// (`NUGET_PACKAGES`, or `~/.nuget/packages`).
    fn package_roots(&self) -> Vec<PathBuf> {
        let mut roots = vec![self.packages.clone()];
        if let Some(global) = std::env::var_os("NUGET_PACKAGES") {
            roots.push(PathBuf::from(global));
        } else if let Some(home) = std::env::var_os("HOME") {
            roots.push(PathBuf::from(home).join(".nuget/packages"));
        }
        roots
    }

    /// Whether a pack is restored: r2r's packs in r2r's packages directory (its restore puts
    /// them there), the Native AOT compiler (restored by `dotnet publish`) in either.
    fn pack_restored(&self, id: &str, version: &str) -> bool {
        let roots = if id.ends_with("Microsoft.DotNet.ILCompiler") {
            self.package_roots()
        } else {
            vec![self.packages.clone()]
        };
        roots.iter().any(|root| {
            root.join(id.to_ascii_lowercase())
                .join(version)
                .join(".nupkg.metadata")
                .is_file()
        })
    }

    /// The enabled package sources, as `dotnet nuget list source` gives them.
    pub fn sources(&self) -> Result<Vec<String>, String> {
        // NuGet reads the configuration of the directory it runs in; the work directory may
        // not exist yet, so its nearest existing ancestor stands in (the same files apply).
        let directory = self
            .directory
            .ancestors()
            .find(|dir| dir.is_dir())
            .unwrap_or(Path::new("/"));
        let mut command = Command::new(dotnet_executable());
        command
            .args(["nuget", "list", "source", "--format", "short"])
            .current_dir(directory)
            .env("DOTNET_CLI_TELEMETRY_OPTOUT", "1")
            .env("DOTNET_NOLOGO", "1");
        let output = crate::support::children::output(&mut command).map_err(|error| {
            format!("`dotnet nuget list source` could not be started ({error}); the .NET SDK must be on PATH")
        })?;
        let text = String::from_utf8_lossy(&output.stdout);
        if !output.status.success() {
            return Err(format!(
                "`dotnet nuget list source` in {} failed ({}): {}{}",
                directory.display(),
                output.status,
                text.trim(),
                String::from_utf8_lossy(&output.stderr).trim()
            ));
        }
        Ok(parse_sources(&text)
            .into_iter()
            .map(|source| absolute_source(&source, directory))
            .collect())
    }
}

/// The `dotnet` executable: `DOTNET_HOST_PATH`, else `dotnet` on PATH.
fn dotnet_executable() -> PathBuf {
    std::env::var_os("DOTNET_HOST_PATH")
        .map(PathBuf::from)
        .filter(|path| path.is_file())
        .unwrap_or_else(|| PathBuf::from("dotnet"))
}

/// The enabled sources of `dotnet nuget list source --format short` output: one line per
/// source, a legend (`E` enabled or `D` disabled, then `M` machine-wide and `O` official) and
/// the source.
pub fn parse_sources(text: &str) -> Vec<String> {
    text.lines()
        .filter_map(|line| {
            let (legend, source) = line.trim().split_once(' ')?;
            let is_legend = !legend.is_empty() && legend.chars().all(|c| "EDMO".contains(c));
            (is_legend && legend.starts_with('E')).then(|| source.trim().to_string())
        })
        .filter(|source| !source.is_empty())
        .collect()
}

fn is_http(source: &str) -> bool {
    source.starts_with("https://") || source.starts_with("http://")
}

fn absolute_source(source: &str, directory: &Path) -> String {
    if is_http(source) || Path::new(source).is_absolute() {
        source.to_string()
    } else {
        directory.join(source).display().to_string()
    }
}

impl VersionSource for NugetFeeds {
    fn restored(&self, version: &str, packs: &[String]) -> bool {
        packs.iter().all(|id| self.pack_restored(id, version))
    }

    fn restored_versions(&self, packs: &[String]) -> Vec<String> {
        let Some(first) = packs.first() else {
            return Vec::new();
        };
        let mut versions: Vec<Version> = self
            .package_roots()
            .iter()
            .flat_map(|root| subdirectories(&root.join(first.to_ascii_lowercase())))
            .filter(|version| self.restored(version, packs))
            .filter_map(|version| Version::parse(&version))
            .collect();
        versions.sort();
        versions.dedup();
        versions.iter().map(Version::to_string).collect()
    }

    fn served(&self, packs: &[String]) -> Result<Served, String> {
        let mut answers = self.answers.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(served) = answers.get(packs) {
            return Ok(served.clone());
        }
        let sources = self.sources()?;
        if sources.is_empty() {
            return Ok(Served {
                feeds: Vec::new(),
                packs: packs.iter().map(|id| (id.clone(), Vec::new())).collect(),
            });
        }
        let mut served = Served {
            feeds: Vec::new(),
            packs: packs.iter().map(|id| (id.clone(), Vec::new())).collect(),
        };
        let mut failures = Vec::new();
        for source in &sources {
            let answer = if is_http(source) {
                ask_http(source, packs)
            } else {
                Ok(ask_folder(Path::new(source), packs))
            };
            match answer {
                Ok(lists) => {
                    served.feeds.push(source.clone());
                    for (id, versions) in lists {
                        served.packs.entry(id).or_default().extend(versions);
                    }
                }
                Err(error) => failures.push(format!("{source}: {error}")),
            }
        }
        if served.feeds.is_empty() {
            return Err(failures.join("; "));
        }
        for failure in &failures {
            tracing::warn!("a NuGet feed did not answer, the others are used: {failure}");
        }
        answers.insert(packs.to_vec(), served.clone());
        Ok(served)
    }
}

fn subdirectories(directory: &Path) -> Vec<String> {
    std::fs::read_dir(directory)
        .into_iter()
        .flatten()
        .flatten()
        .filter(|entry| entry.path().is_dir())
        .filter_map(|entry| entry.file_name().to_str().map(str::to_string))
        .collect()
}

/// The versions a local folder feed holds of each pack: `{id lowercase}/{version}/`
/// directories (the hierarchical layout), and `{id}.{version}.nupkg` files (the flat one).
pub fn ask_folder(folder: &Path, packs: &[String]) -> BTreeMap<String, Vec<String>> {
    let files: Vec<String> = std::fs::read_dir(folder)
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|entry| entry.file_name().to_str().map(str::to_ascii_lowercase))
        .filter(|name| name.ends_with(".nupkg"))
        .collect();
    packs
        .iter()
        .map(|id| {
            let lower = id.to_ascii_lowercase();
            let mut versions: Vec<String> = subdirectories(&folder.join(&lower))
                .into_iter()
                .filter(|version| Version::parse(version).is_some())
                .collect();
            let prefix = format!("{lower}.");
            versions.extend(files.iter().filter_map(|name| {
                let version = name.strip_prefix(&prefix)?.strip_suffix(".nupkg")?;
                Version::parse(version).map(|_| version.to_string())
            }));
            (id.clone(), versions)
        })
        .collect()
}

/// The versions an HTTP feed (its v3 service index) serves of each pack.
fn ask_http(index: &str, packs: &[String]) -> Result<BTreeMap<String, Vec<String>>, String> {
    // Its own thread and runtime: the answer is needed by code that is not async (loading a
    // scenario), which may itself run inside an async runtime.
    std::thread::scope(|scope| {
        scope
            .spawn(|| {
                let runtime = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .map_err(|error| format!("cannot start an async runtime: {error}"))?;
                runtime.block_on(ask_http_async(index, packs))
            })
            .join()
            .unwrap_or_else(|_| Err("the feed request panicked".to_string()))
    })
}

async fn get_json(
    client: &reqwest::Client,
    url: &str,
) -> Result<Option<serde_json::Value>, String> {
    let response = client
        .get(url)
        .send()
        .await
        .map_err(|error| format!("GET {url}: {}", crate::support::error_chain(&error)))?;
    if response.status() == reqwest::StatusCode::NOT_FOUND {
        return Ok(None);
    }
    if !response.status().is_success() {
        return Err(format!("GET {url}: HTTP {}", response.status()));
    }
    let bytes = response
        .bytes()
        .await
        .map_err(|error| format!("GET {url}: {}", crate::support::error_chain(&error)))?;
    serde_json::from_slice(&bytes)
        .map(Some)
        .map_err(|error| format!("GET {url}: not JSON: {error}"))
}

async fn ask_http_async(
    index: &str,
    packs: &[String],
) -> Result<BTreeMap<String, Vec<String>>, String> {
    // reqwest's TLS is rustls with the ring provider, installed once per process.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let client = reqwest::Client::builder()
        .connect_timeout(CONNECT_TIMEOUT)
        .timeout(REQUEST_TIMEOUT)
        .user_agent(concat!("r2r/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|error| {
            format!(
                "cannot make an HTTP client: {}",
                crate::support::error_chain(&error)
            )
        })?;
    let document = get_json(&client, index)
        .await?
        .ok_or_else(|| format!("GET {index}: not found"))?;
    let base = package_base_address(&document)
        .ok_or_else(|| format!("{index} lists no PackageBaseAddress/3.0.0 resource"))?;
    let mut lists = BTreeMap::new();
    for id in packs {
        let url = format!(
            "{}/{}/index.json",
            base.trim_end_matches('/'),
            id.to_ascii_lowercase()
        );
        let versions = match get_json(&client, &url).await? {
            None => Vec::new(),
            Some(document) => document["versions"]
                .as_array()
                .ok_or_else(|| format!("{url} has no `versions` list"))?
                .iter()
                .filter_map(|v| v.as_str().map(str::to_string))
                .collect(),
        };
        lists.insert(id.clone(), versions);
    }
    Ok(lists)
}

/// The `@id` of a service index's `PackageBaseAddress/3.0.0` resource.
pub fn package_base_address(index: &serde_json::Value) -> Option<String> {
    index["resources"].as_array()?.iter().find_map(|resource| {
        let kind = resource["@type"].as_str()?;
        (kind == "PackageBaseAddress/3.0.0")
            .then(|| resource["@id"].as_str().map(str::to_string))
            .flatten()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn enabled_sources_are_read_from_the_short_listing() {
        let text = "E https://feed.example/v3/index.json\nD https://off.example/v3/index.json\nEMO /opt/feed with space\n\nwarn: something\n";
        assert_eq!(
            parse_sources(text),
            ["https://feed.example/v3/index.json", "/opt/feed with space"]
        );
    }

    #[test]
    fn the_package_base_address_is_found_in_the_service_index() {
        let index = serde_json::json!({"version": "3.0.0", "resources": [
            {"@id": "https://feed.example/registration/", "@type": "RegistrationsBaseUrl/3.6.0"},
            {"@id": "https://feed.example/flat/", "@type": "PackageBaseAddress/3.0.0"}
        ]});
        assert_eq!(
            package_base_address(&index).as_deref(),
            Some("https://feed.example/flat/")
        );
        assert_eq!(
            package_base_address(&serde_json::json!({"resources": []})),
            None
        );
    }

    #[test]
    fn folder_feeds_are_read_in_both_layouts() {
        let folder = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(folder.path().join("pack.a/10.0.14")).unwrap();
        std::fs::create_dir_all(folder.path().join("pack.a/not-a-version")).unwrap();
        std::fs::write(folder.path().join("Pack.A.10.0.15.nupkg"), b"").unwrap();
        std::fs::write(folder.path().join("pack.a.extra.1.0.0.nupkg"), b"").unwrap();
        std::fs::write(folder.path().join("pack.b.10.0.15.nupkg"), b"").unwrap();
        let packs = vec!["Pack.A".to_string(), "Pack.B".to_string()];
        let mut lists = ask_folder(folder.path(), &packs);
        lists.values_mut().for_each(|v| v.sort());
        assert_eq!(lists["Pack.A"], ["10.0.14", "10.0.15"]);
        assert_eq!(lists["Pack.B"], ["10.0.15"]);
    }

    #[test]
    fn restored_means_every_pack_restored() {
        let packages = tempfile::tempdir().unwrap();
        let feeds = NugetFeeds::new(packages.path().to_path_buf(), packages.path().to_path_buf());
        let packs = vec!["Pack.A".to_string(), "Pack.B".to_string()];
        for (id, version) in [
            ("pack.a", "10.0.12"),
            ("pack.b", "10.0.12"),
            ("pack.a", "10.0.14"),
        ] {
            let dir = packages.path().join(id).join(version);
            std::fs::create_dir_all(&dir).unwrap();
            std::fs::write(dir.join(".nupkg.metadata"), b"{}").unwrap();
        }
        // A directory without its metadata is a restore that did not finish.
        std::fs::create_dir_all(packages.path().join("pack.b/10.0.14")).unwrap();
        assert!(feeds.restored("10.0.12", &packs));
        assert!(!feeds.restored("10.0.14", &packs));
        assert_eq!(feeds.restored_versions(&packs), ["10.0.12"]);
    }
}
