//! The clocks of a start-up run, and the page-cache drop before a cold one.

use std::time::Duration;

use crate::support::app_output::round_ms;

pub use crate::support::app_output::interval_ms;

/// Why the page cache could not be dropped.
#[derive(Debug, thiserror::Error)]
pub enum CacheDropError {
    /// `sync` could not be started.
    #[error("running sync: {0}")]
    Sync(#[source] std::io::Error),
    /// `sync` ran and failed.
    #[error("sync failed ({0})")]
    SyncFailed(std::process::ExitStatus),
    /// `/proc/sys/vm/drop_caches` could not be written (it needs root).
    #[error(
        "cold-cache runs need root: cannot write /proc/sys/vm/drop_caches ({0}); use --cache warm"
    )]
    NotPermitted(#[source] std::io::Error),
}

/// Drops the page cache (`sync`, then `3 > /proc/sys/vm/drop_caches`).
pub fn drop_page_cache() -> Result<(), CacheDropError> {
    let status = std::process::Command::new("sync")
        .status()
        .map_err(CacheDropError::Sync)?;
    if !status.success() {
        return Err(CacheDropError::SyncFailed(status));
    }
    std::fs::write("/proc/sys/vm/drop_caches", "3").map_err(CacheDropError::NotPermitted)
}

pub use crate::support::app_output::monotonic_ns;

/// CLOCK_REALTIME minus CLOCK_MONOTONIC now, nanoseconds (read back to back): moves an
/// engine's wall-clock time onto the monotonic clock.
pub fn realtime_offset_ns() -> i128 {
    let monotonic = monotonic_ns();
    let real = nix::time::clock_gettime(nix::time::ClockId::CLOCK_REALTIME)
        .expect("CLOCK_REALTIME is always readable");
    real.tv_sec() as i128 * 1_000_000_000 + real.tv_nsec() as i128 - monotonic as i128
}

/// A duration in milliseconds, to 0.001 ms.
pub(crate) fn milliseconds(duration: Duration) -> f64 {
    round_ms(duration.as_secs_f64() * 1000.0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::support::app_output::integer_after;

    #[test]
    fn the_app_clock_lines_are_read_to_the_nanosecond() {
        let output = "r2r-main-ns=1234567890123456\nr2r-console-ok jit_methods=3\nr2r-ready-ns=1234567891123456\n";
        let main = integer_after(output, "r2r-main-ns=").unwrap();
        let ready = integer_after(output, "r2r-ready-ns=").unwrap();
        assert_eq!(main, 1_234_567_890_123_456);
        assert_eq!(interval_ms(main, ready), 1.0);
        assert_eq!(interval_ms(ready, main), -1.0);
        let now = monotonic_ns();
        assert!(monotonic_ns() >= now);
    }
}
