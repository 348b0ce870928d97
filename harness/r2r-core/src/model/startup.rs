//! How a start-up run is made: whether the page cache is dropped first, and when an app
//! counts as ready.

use serde::{Deserialize, Serialize};

/// When a web API counts as ready.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Readiness {
    /// At the first HTTP 200 on 127.0.0.1: once the app's ready line arrives on its output
    /// (or the output ends), the port is polled every
    /// `READY_POLL_INTERVAL` of the start-up measurement.
    Http,
    /// When the app's ready line (`r2r-ready`) arrives on its output, followed as a stream.
    LogLine,
}

/// Whether the page cache is dropped before a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Cache {
    /// `sync` and `/proc/sys/vm/drop_caches` before every run (needs root).
    Cold,
    /// Nothing dropped: files stay in the page cache between runs.
    Warm,
}

impl Cache {
    /// The kebab-case name.
    pub fn name(self) -> &'static str {
        match self {
            Cache::Cold => "cold",
            Cache::Warm => "warm",
        }
    }
}

/// A cache mode that is neither `cold` nor `warm`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown cache mode '{0}' (cold or warm)")]
pub struct UnknownCache(pub String);

impl std::str::FromStr for Cache {
    type Err = UnknownCache;

    fn from_str(text: &str) -> Result<Cache, UnknownCache> {
        match text {
            "cold" => Ok(Cache::Cold),
            "warm" => Ok(Cache::Warm),
            _ => Err(UnknownCache(text.to_string())),
        }
    }
}

impl std::fmt::Display for Cache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}
