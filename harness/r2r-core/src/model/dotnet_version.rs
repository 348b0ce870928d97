//! .NET versions as a scenario asks for them and as NuGet serves them.
//!
//! A scenario's `dotnet` is an exact version (`10.0.12`) or a feature band to follow (`10.0`,
//! also written `10.0.*`). Which versions exist is not a list in the project: it is what the
//! NuGet feeds this machine is configured for serve. A version can be built when the feeds
//! serve every pack r2r restores for it ([`packs`]); `10.0` resolves to the newest such
//! patch (prereleases excepted), at plan time. An exact version whose packs are already
//! restored on this machine needs no feed at all, so a machine without network keeps working
//! on what it has.
//!
//! The picking is pure ([`pick`]) and the feed is behind [`VersionSource`]:
//! [`crate::model::feed::NugetFeeds`] asks the real feeds, [`FixedVersions`] answers from
//! lists given to it.

use std::cmp::Ordering;
use std::collections::BTreeMap;
use std::fmt;

use crate::model::framework::Framework;
use crate::model::names::{self, NameError};

/// The crossgen2 pack r2r compiles composites with.
pub const CROSSGEN2_PACK: &str = "Microsoft.NETCore.App.Crossgen2.linux-x64";
/// The app host pack self-contained apps are published with.
pub const HOST_PACK: &str = "Microsoft.NETCore.App.Host.linux-x64";

/// The NuGet packs a version must be served with for r2r to build a scenario on it (images
/// for linux-x64, compiled on linux-x64): the runtime and ASP.NET Core runtime packs,
/// crossgen2 and the app host, and the Native AOT compiler when a variant publishes an app
/// with Native AOT.
pub fn packs(native_aot: bool) -> Vec<String> {
    let packs = packs_for("linux-x64", "linux-x64", native_aot);
    debug_assert!(packs.contains(&Framework::Runtime.runtime_pack().to_string()));
    packs
}

/// The packs of [`packs`] for images of `target` (a runtime identifier such as
/// `linux-arm64`) compiled on a `host` (crossgen2 and the Native AOT compiler run there).
pub fn packs_for(target: &str, host: &str, native_aot: bool) -> Vec<String> {
    let mut packs = vec![
        format!("Microsoft.NETCore.App.Runtime.{target}"),
        format!("Microsoft.AspNetCore.App.Runtime.{target}"),
        format!("Microsoft.NETCore.App.Crossgen2.{host}"),
        format!("Microsoft.NETCore.App.Host.{target}"),
    ];
    if native_aot {
        packs.push("Microsoft.DotNet.ILCompiler".to_string());
        packs.push(format!("runtime.{host}.Microsoft.DotNet.ILCompiler"));
    }
    packs
}

/// A version as NuGet writes it: dot-separated numbers and an optional prerelease label,
/// ordered as NuGet orders them (numbers numerically; a prerelease before its release).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Version {
    numbers: Vec<u64>,
    prerelease: Option<String>,
    text: String,
}

impl Version {
    /// Reads a version; `None` for text that is not one (a feed may list odd entries).
    pub fn parse(text: &str) -> Option<Version> {
        let (release, prerelease) = match text.split_once('-') {
            Some((release, prerelease)) => (release, Some(prerelease)),
            None => (text, None),
        };
        let numbers: Option<Vec<u64>> = release.split('.').map(|n| n.parse().ok()).collect();
        let numbers = numbers?;
        if numbers.len() < 2 || prerelease.is_some_and(str::is_empty) {
            return None;
        }
        Some(Version {
            numbers,
            prerelease: prerelease.map(str::to_string),
            text: text.to_string(),
        })
    }

    /// `(major, minor)`.
    pub fn band(&self) -> (u64, u64) {
        (self.numbers[0], self.numbers[1])
    }

    /// Whether it is a prerelease (`11.0.0-preview.1`).
    pub fn is_prerelease(&self) -> bool {
        self.prerelease.is_some()
    }

    /// The version as written.
    pub fn as_str(&self) -> &str {
        &self.text
    }
}

impl Ord for Version {
    fn cmp(&self, other: &Self) -> Ordering {
        let width = self.numbers.len().max(other.numbers.len());
        let number = |v: &Version, i: usize| v.numbers.get(i).copied().unwrap_or(0);
        for i in 0..width {
            match number(self, i).cmp(&number(other, i)) {
                Ordering::Equal => {}
                unequal => return unequal,
            }
        }
        let order = match (&self.prerelease, &other.prerelease) {
            (None, None) => Ordering::Equal,
            (None, Some(_)) => Ordering::Greater,
            (Some(_), None) => Ordering::Less,
            (Some(a), Some(b)) => compare_prerelease(a, b),
        };
        order.then_with(|| self.text.cmp(&other.text))
    }
}

impl PartialOrd for Version {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

/// SemVer's order of prerelease labels: part by part, numbers numerically and before words.
fn compare_prerelease(a: &str, b: &str) -> Ordering {
    let mut left = a.split('.');
    let mut right = b.split('.');
    loop {
        match (left.next(), right.next()) {
            (None, None) => return Ordering::Equal,
            (None, Some(_)) => return Ordering::Less,
            (Some(_), None) => return Ordering::Greater,
            (Some(x), Some(y)) => {
                let order = match (x.parse::<u64>(), y.parse::<u64>()) {
                    (Ok(x), Ok(y)) => x.cmp(&y),
                    (Ok(_), Err(_)) => Ordering::Less,
                    (Err(_), Ok(_)) => Ordering::Greater,
                    (Err(_), Err(_)) => x.to_ascii_lowercase().cmp(&y.to_ascii_lowercase()),
                };
                if order != Ordering::Equal {
                    return order;
                }
            }
        }
    }
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

/// What a scenario's `dotnet` asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VersionRequest {
    /// Exactly this version (`10.0.12`).
    Exact(String),
    /// The newest released patch of a feature band (`10.0` or `10.0.*`).
    Newest {
        /// The major version.
        major: u64,
        /// The minor version.
        minor: u64,
    },
}

impl VersionRequest {
    /// Reads a scenario's `dotnet`: `MAJOR.MINOR`, `MAJOR.MINOR.*`, or an exact version in
    /// the form [`names::check_version`] allows.
    pub fn parse(text: &str) -> Result<VersionRequest, NameError> {
        let band = text.strip_suffix(".*").unwrap_or(text);
        let parts: Vec<&str> = band.split('.').collect();
        let number = |part: &str| {
            (!part.is_empty() && part.len() <= 5 && part.bytes().all(|b| b.is_ascii_digit()))
                .then(|| part.parse::<u64>().ok())
                .flatten()
        };
        if parts.len() == 2 {
            if let (Some(major), Some(minor)) = (number(parts[0]), number(parts[1])) {
                return Ok(VersionRequest::Newest { major, minor });
            }
        }
        names::check_version(text)?;
        Ok(VersionRequest::Exact(text.to_string()))
    }

    /// Whether a version of a feed answers this request (an exact request: that version; a
    /// band: any released patch of it).
    pub fn admits(&self, version: &Version) -> bool {
        match self {
            VersionRequest::Exact(exact) => version.as_str() == exact,
            VersionRequest::Newest { major, minor } => {
                version.band() == (*major, *minor) && !version.is_prerelease()
            }
        }
    }
}

impl fmt::Display for VersionRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            VersionRequest::Exact(version) => f.write_str(version),
            VersionRequest::Newest { major, minor } => write!(f, "{major}.{minor}"),
        }
    }
}

/// What the feeds serve: per pack id, its versions.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Served {
    /// The feeds asked, as configured (URLs or folders), for messages.
    pub feeds: Vec<String>,
    /// Versions per pack id (any order; duplicates allowed).
    pub packs: BTreeMap<String, Vec<String>>,
}

impl Served {
    /// The versions every pack is served in, oldest first.
    pub fn complete(&self) -> Vec<Version> {
        let mut packs = self.packs.values();
        let Some(first) = packs.next() else {
            return Vec::new();
        };
        let rest: Vec<&Vec<String>> = packs.collect();
        let mut versions: Vec<Version> = first
            .iter()
            .filter(|version| rest.iter().all(|other| other.iter().any(|v| v == *version)))
            .filter_map(|version| Version::parse(version))
            .collect();
        versions.sort();
        versions.dedup();
        versions
    }

    /// The packs not served in `version`.
    pub fn missing(&self, version: &str) -> Vec<String> {
        self.packs
            .iter()
            .filter(|(_, versions)| !versions.iter().any(|v| v == version))
            .map(|(id, _)| id.clone())
            .collect()
    }
}

/// Why a version cannot be used.
#[derive(Debug, Clone, thiserror::Error)]
pub enum VersionError {
    /// The feeds do not serve every pack of the version (or of any patch of the band).
    #[error("{}", not_served(.requested, .feeds, .served, .missing))]
    NotServed {
        /// What the scenario asked for.
        requested: String,
        /// The feeds asked.
        feeds: Vec<String>,
        /// The versions they serve every pack of, oldest first.
        served: Vec<String>,
        /// For an exact version: the packs it is not served with.
        missing: Vec<String>,
    },
    /// No feed answered, and the version's packs are not restored on this machine.
    #[error("cannot ask the NuGet feeds for .NET {requested}: {cause}; {}", offline_hint(.requested, .restored))]
    Unreachable {
        /// What the scenario asked for.
        requested: String,
        /// What went wrong (feeds and their errors).
        cause: String,
        /// Exact versions whose packs are restored on this machine, oldest first.
        restored: Vec<String>,
    },
}

fn not_served(requested: &str, feeds: &[String], served: &[String], missing: &[String]) -> String {
    if feeds.is_empty() {
        return format!(
            ".NET {requested} cannot be restored: no NuGet feed is configured on this machine (`dotnet nuget list source` lists none) and its packs are not restored here"
        );
    }
    let feeds = format!("the NuGet feeds ({})", feeds.join(", "));
    let served = if served.is_empty() {
        "none".to_string()
    } else {
        served.join(", ")
    };
    let missing = if missing.is_empty() {
        String::new()
    } else {
        format!(" (missing: {})", missing.join(", "))
    };
    format!(".NET {requested} is not served by {feeds} with every pack r2r needs{missing}; they serve: {served}")
}

fn offline_hint(requested: &str, restored: &[String]) -> String {
    match restored {
        [] => format!("no .NET version's packs are restored on this machine either; connect to the feed, or restore .NET {requested} elsewhere first"),
        _ => format!(
            "restored on this machine (usable without a feed): {}; name one exactly",
            restored.join(", ")
        ),
    }
}

/// Where versions come from: what the feeds serve, and what is restored here already.
pub trait VersionSource: fmt::Debug + Send + Sync {
    /// Whether every one of `packs` is restored on this machine in `version`.
    fn restored(&self, version: &str, packs: &[String]) -> bool;

    /// The versions every one of `packs` is restored in on this machine, oldest first.
    fn restored_versions(&self, packs: &[String]) -> Vec<String>;

    /// What the feeds serve of `packs` (an error when no feed answers).
    fn served(&self, packs: &[String]) -> Result<Served, String>;
}

/// A version a scenario's request resolved to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resolved {
    /// The exact version.
    pub version: String,
    /// Whether it was found among the packs restored here, without asking a feed.
    pub restored: bool,
}

/// Picks the version a request names from what the feeds serve: an exact version when every
/// pack is served in it, the newest released patch of a band whose packs are all served.
pub fn pick(request: &VersionRequest, served: &Served) -> Result<String, VersionError> {
    let complete = served.complete();
    if let Some(version) = complete.iter().rev().find(|v| request.admits(v)) {
        return Ok(version.to_string());
    }
    Err(VersionError::NotServed {
        requested: request.to_string(),
        feeds: served.feeds.clone(),
        served: complete.iter().map(Version::to_string).collect(),
        missing: match request {
            VersionRequest::Exact(version) => served.missing(version),
            VersionRequest::Newest { .. } => Vec::new(),
        },
    })
}

/// Resolves a request: an exact version restored here is used as it is (no feed asked);
/// anything else is picked from what the feeds serve ([`pick`]).
pub fn resolve(
    request: &VersionRequest,
    packs: &[String],
    source: &dyn VersionSource,
) -> Result<Resolved, VersionError> {
    if let VersionRequest::Exact(version) = request {
        if source.restored(version, packs) {
            return Ok(Resolved {
                version: version.clone(),
                restored: true,
            });
        }
    }
    let served = source
        .served(packs)
        .map_err(|cause| VersionError::Unreachable {
            requested: request.to_string(),
            cause,
            restored: source.restored_versions(packs),
        })?;
    Ok(Resolved {
        version: pick(request, &served)?,
        restored: false,
    })
}

/// A source that answers from lists given to it: what a feed serves (or that none answers)
/// and what is restored.
#[derive(Debug, Clone, Default)]
pub struct FixedVersions {
    /// What the feeds serve; `None`: no feed answers.
    pub served: Option<Served>,
    /// Versions whose every pack is restored.
    pub restored: Vec<String>,
}

impl FixedVersions {
    /// A feed serving each of `packs` in every one of `versions`, nothing restored.
    pub fn serving(packs: &[String], versions: &[&str]) -> FixedVersions {
        FixedVersions {
            served: Some(Served {
                feeds: vec!["fixed".to_string()],
                packs: packs
                    .iter()
                    .map(|id| (id.clone(), versions.iter().map(|v| v.to_string()).collect()))
                    .collect(),
            }),
            restored: Vec::new(),
        }
    }
}

impl VersionSource for FixedVersions {
    fn restored(&self, version: &str, _: &[String]) -> bool {
        self.restored.iter().any(|v| v == version)
    }

    fn restored_versions(&self, _: &[String]) -> Vec<String> {
        let mut versions: Vec<Version> = self
            .restored
            .iter()
            .filter_map(|v| Version::parse(v))
            .collect();
        versions.sort();
        versions.iter().map(Version::to_string).collect()
    }

    fn served(&self, packs: &[String]) -> Result<Served, String> {
        let served = self
            .served
            .as_ref()
            .ok_or_else(|| "no feed answers".to_string())?;
        Ok(Served {
            feeds: served.feeds.clone(),
            packs: packs
                .iter()
                .map(|id| {
                    (
                        id.clone(),
                        served.packs.get(id).cloned().unwrap_or_default(),
                    )
                })
                .collect(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn served(lists: &[(&str, &[&str])]) -> Served {
        Served {
            feeds: vec!["https://feed.example/v3/index.json".into()],
            packs: lists
                .iter()
                .map(|(id, versions)| {
                    (
                        id.to_string(),
                        versions.iter().map(|v| v.to_string()).collect(),
                    )
                })
                .collect(),
        }
    }

    fn request(text: &str) -> VersionRequest {
        VersionRequest::parse(text).unwrap()
    }

    #[test]
    fn requests_are_bands_or_exact_versions() {
        assert_eq!(
            request("10.0"),
            VersionRequest::Newest {
                major: 10,
                minor: 0
            }
        );
        assert_eq!(
            request("10.0.*"),
            VersionRequest::Newest {
                major: 10,
                minor: 0
            }
        );
        assert_eq!(request("10.0.12"), VersionRequest::Exact("10.0.12".into()));
        assert_eq!(
            request("11.0.0-preview.3"),
            VersionRequest::Exact("11.0.0-preview.3".into())
        );
        for bad in [
            "10",
            "10.*",
            "10.0.*.*",
            "ten.0",
            "10.0.x",
            "",
            "10..0",
            "10.0.1.2.3",
        ] {
            assert!(VersionRequest::parse(bad).is_err(), "{bad}");
        }
        assert_eq!(request("10.0.*").to_string(), "10.0");
    }

    #[test]
    fn versions_order_as_nuget_orders_them() {
        let mut versions: Vec<Version> = [
            "10.0.9",
            "10.0.15",
            "10.0.10",
            "8.0.33",
            "11.0.0",
            "11.0.0-preview.10",
            "11.0.0-preview.2",
            "11.0.0-rc.1",
        ]
        .iter()
        .map(|v| Version::parse(v).unwrap())
        .collect();
        versions.sort();
        let texts: Vec<&str> = versions.iter().map(Version::as_str).collect();
        assert_eq!(
            texts,
            [
                "8.0.33",
                "10.0.9",
                "10.0.10",
                "10.0.15",
                "11.0.0-preview.2",
                "11.0.0-preview.10",
                "11.0.0-rc.1",
                "11.0.0"
            ]
        );
        assert!(Version::parse("x.1").is_none() && Version::parse("10").is_none());
    }

    #[test]
    fn a_band_picks_the_newest_patch_every_pack_is_served_in() {
        // The runtime has 10.0.16 already, crossgen2 not yet: 10.0.15 is the newest complete.
        let feed = served(&[
            (
                "runtime",
                &[
                    "10.0.12",
                    "10.0.14",
                    "10.0.15",
                    "10.0.16",
                    "11.0.0-preview.1",
                ],
            ),
            (
                "crossgen2",
                &["10.0.13", "10.0.14", "10.0.15", "11.0.0-preview.1"],
            ),
            (
                "aspnet",
                &[
                    "10.0.9",
                    "10.0.14",
                    "10.0.15",
                    "10.0.16",
                    "11.0.0-preview.1",
                ],
            ),
        ]);
        assert_eq!(pick(&request("10.0"), &feed).unwrap(), "10.0.15");
        assert_eq!(pick(&request("10.0.*"), &feed).unwrap(), "10.0.15");
        // Numeric, not text order: 10.0.9 < 10.0.15.
        let feed = served(&[("a", &["10.0.9", "10.0.15", "10.0.10"])]);
        assert_eq!(pick(&request("10.0"), &feed).unwrap(), "10.0.15");
        // A band never picks a prerelease.
        let feed = served(&[("a", &["11.0.0-preview.1", "11.0.0-rc.2"])]);
        let error = pick(&request("11.0"), &feed).unwrap_err().to_string();
        assert!(error.contains(".NET 11.0 is not served"), "{error}");
        assert!(error.contains("11.0.0-preview.1, 11.0.0-rc.2"), "{error}");
    }

    #[test]
    fn an_exact_version_stays_exact_and_an_unserved_one_names_what_is_served() {
        let feed = served(&[
            ("runtime", &["10.0.14", "10.0.15", "8.0.33"]),
            ("crossgen2", &["10.0.14", "8.0.33"]),
        ]);
        assert_eq!(pick(&request("10.0.14"), &feed).unwrap(), "10.0.14");
        let error = pick(&request("10.0.15"), &feed).unwrap_err();
        let text = error.to_string();
        assert!(text.contains(".NET 10.0.15 is not served"), "{text}");
        assert!(text.contains("(missing: crossgen2)"), "{text}");
        assert!(text.contains("they serve: 8.0.33, 10.0.14"), "{text}");
        assert!(
            text.contains("https://feed.example/v3/index.json"),
            "{text}"
        );
        let text = pick(&request("10.0.99"), &feed).unwrap_err().to_string();
        assert!(text.contains("missing: crossgen2, runtime"), "{text}");
        let text = pick(&request("9.0"), &feed).unwrap_err().to_string();
        assert!(text.contains(".NET 9.0 is not served"), "{text}");
        let text = pick(&request("9.0"), &Served::default())
            .unwrap_err()
            .to_string();
        assert!(
            text.contains("no NuGet feed is configured")
                && text.contains(".NET 9.0 cannot be restored"),
            "{text}"
        );
    }

    #[test]
    fn restored_exact_versions_need_no_feed_and_the_rest_say_what_would_work() {
        let packs = packs(false);
        let offline = FixedVersions {
            served: None,
            restored: vec!["10.0.14".into(), "10.0.12".into()],
        };
        let resolved = resolve(&request("10.0.14"), &packs, &offline).unwrap();
        assert_eq!(
            resolved,
            Resolved {
                version: "10.0.14".into(),
                restored: true
            }
        );
        for asked in ["10.0", "10.0.15"] {
            let text = resolve(&request(asked), &packs, &offline)
                .unwrap_err()
                .to_string();
            assert!(
                text.contains(&format!("cannot ask the NuGet feeds for .NET {asked}")),
                "{text}"
            );
            assert!(
                text.contains("restored on this machine (usable without a feed): 10.0.12, 10.0.14"),
                "{text}"
            );
        }
        let empty = FixedVersions::default();
        let text = resolve(&request("10.0"), &packs, &empty)
            .unwrap_err()
            .to_string();
        assert!(
            text.contains("no .NET version's packs are restored"),
            "{text}"
        );
        // Online, a band follows the feed, not what is restored.
        let online = FixedVersions {
            restored: vec!["10.0.14".into()],
            ..FixedVersions::serving(&packs, &["10.0.14", "10.0.15"])
        };
        let resolved = resolve(&request("10.0"), &packs, &online).unwrap();
        assert_eq!(resolved.version, "10.0.15");
        assert!(!resolved.restored);
    }

    #[test]
    fn native_aot_adds_the_compiler_packs() {
        assert_eq!(packs(false).len(), 4);
        assert_eq!(
            packs(false),
            [
                Framework::Runtime.runtime_pack(),
                Framework::Aspnet.runtime_pack(),
                CROSSGEN2_PACK,
                HOST_PACK
            ]
        );
        let arm = packs_for("linux-arm64", "linux-x64", false);
        assert!(arm.contains(&"Microsoft.NETCore.App.Runtime.linux-arm64".to_string()));
        assert!(arm.contains(&CROSSGEN2_PACK.to_string()));
        let with = packs(true);
        assert!(with
            .iter()
            .any(|id| id == "runtime.linux-x64.Microsoft.DotNet.ILCompiler"));
        assert!(with.contains(&CROSSGEN2_PACK.to_string()));
    }
}
