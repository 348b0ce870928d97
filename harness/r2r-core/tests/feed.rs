//! .NET versions from NuGet feeds as the machine configures them (`dotnet nuget list source`):
//! the machine's own feed, a local folder feed, and a feed that does not answer.

use std::path::{Path, PathBuf};

use r2r_core::model::dotnet_version::{self, resolve, Version, VersionRequest, VersionSource};
use r2r_core::model::feed::NugetFeeds;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn request(text: &str) -> VersionRequest {
    VersionRequest::parse(text).unwrap()
}

/// A directory whose NuGet configuration has only `sources` (`<clear />` drops the user's and
/// the machine's).
fn configured(sources: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let adds: String = sources
        .iter()
        .map(|(key, value)| format!("    <add key=\"{key}\" value=\"{value}\" />\n"))
        .collect();
    std::fs::write(
        dir.path().join("nuget.config"),
        format!("<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<configuration>\n  <packageSources>\n    <clear />\n{adds}  </packageSources>\n</configuration>\n"),
    )
    .unwrap();
    dir
}

/// Marks `packs` restored in `version` under `packages`, as a finished restore leaves them.
fn restore(packages: &Path, packs: &[String], version: &str) {
    for id in packs {
        let dir = packages.join(id.to_ascii_lowercase()).join(version);
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join(".nupkg.metadata"), b"{}").unwrap();
    }
}

#[test]
fn a_band_resolves_to_the_newest_patch_the_configured_feed_serves() {
    let feeds = NugetFeeds::for_work_dir(&root().join(".r2r/work"));
    let packs = dotnet_version::packs(false);
    let served = feeds
        .served(&packs)
        .unwrap_or_else(|error| panic!("this test needs the machine's NuGet feed: {error}"));
    assert!(!served.feeds.is_empty(), "{served:?}");
    let resolved = resolve(&request("10.0"), &packs, &feeds).unwrap();
    assert!(!resolved.restored);
    // Every pack is served in it, and in no newer released 10.0 patch.
    for (id, versions) in &served.packs {
        assert!(versions.contains(&resolved.version), "{id}: {versions:?}");
    }
    let chosen = Version::parse(&resolved.version).unwrap();
    assert_eq!(chosen.band(), (10, 0));
    for version in served.complete() {
        if version.band() == (10, 0) && !version.is_prerelease() {
            assert!(version <= chosen, "{version} is newer than {chosen}");
        }
    }
    // Patches are added, never taken away: at least the one served since 2026-11-25.
    assert!(chosen >= Version::parse("10.0.15").unwrap(), "{chosen}");
    // `10.0.*` is the same band; an exact version stays exact.
    assert_eq!(
        resolve(&request("10.0.*"), &packs, &feeds).unwrap(),
        resolved
    );
    let exact = resolve(&request(&resolved.version), &packs, &feeds).unwrap();
    assert_eq!(exact.version, resolved.version);
    // A version the feed does not serve is refused, naming what it serves.
    let error = resolve(&request("10.0.999"), &packs, &feeds)
        .unwrap_err()
        .to_string();
    assert!(
        error.contains(".NET 10.0.999 is not served") && error.contains(&resolved.version),
        "{error}"
    );
}

#[test]
fn a_local_folder_feed_is_read_as_nuget_lays_it_out() {
    let dir = configured(&[("local", "feed")]);
    let packs = dotnet_version::packs(false);
    let feed = dir.path().join("feed");
    // 10.0.21 lacks crossgen2: 10.0.20 is the newest complete patch.
    for version in ["10.0.19", "10.0.20", "10.0.21"] {
        for id in &packs {
            if version == "10.0.21" && id == dotnet_version::CROSSGEN2_PACK {
                continue;
            }
            std::fs::create_dir_all(feed.join(id.to_ascii_lowercase()).join(version)).unwrap();
        }
    }
    let feeds = NugetFeeds::new(dir.path().join("packages"), dir.path().to_path_buf());
    let sources = feeds.sources().unwrap();
    assert_eq!(sources.len(), 1, "{sources:?}");
    assert!(sources[0].ends_with("feed"), "{sources:?}");
    assert_eq!(
        resolve(&request("10.0"), &packs, &feeds).unwrap().version,
        "10.0.20"
    );
    let error = resolve(&request("10.0.21"), &packs, &feeds)
        .unwrap_err()
        .to_string();
    assert!(
        error.contains("missing: Microsoft.NETCore.App.Crossgen2.linux-x64")
            && error.contains("they serve: 10.0.19, 10.0.20"),
        "{error}"
    );
}

#[test]
fn without_a_feed_restored_exact_versions_work_and_the_rest_say_what_would() {
    // Nothing listens on the discard port of the loopback address.
    let dir = configured(&[("closed", "http://127.0.0.1:9/v3/index.json")]);
    let packs = dotnet_version::packs(false);
    let packages = dir.path().join("packages");
    restore(&packages, &packs, "10.0.14");
    restore(&packages, &packs[..2], "10.0.15");
    let feeds = NugetFeeds::new(packages, dir.path().to_path_buf());
    let resolved = resolve(&request("10.0.14"), &packs, &feeds).unwrap();
    assert!(resolved.restored && resolved.version == "10.0.14");
    assert_eq!(feeds.restored_versions(&packs), ["10.0.14"]);
    for asked in ["10.0", "10.0.15"] {
        let error = resolve(&request(asked), &packs, &feeds)
            .unwrap_err()
            .to_string();
        assert!(
            error.contains(&format!("cannot ask the NuGet feeds for .NET {asked}"))
                && error.contains("127.0.0.1:9")
                && error.contains("usable without a feed): 10.0.14"),
            "{error}"
        );
    }
}
