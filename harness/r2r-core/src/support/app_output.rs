//! Reading what the measured apps print: their lines carry numbers after a key
//! (`r2r-main-ns=<CLOCK_MONOTONIC ns>`, `r2r-ready-ns=...`), and the time between two such
//! instants.

/// The unsigned integer after `key` in `output` (e.g. `r2r-main-ns=`).
pub fn integer_after(output: &str, key: &str) -> Option<u64> {
    let start = output.find(key)? + key.len();
    let rest = &output[start..];
    let end = rest
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(rest.len());
    rest[..end].parse().ok()
}

/// Milliseconds from instant `from` to instant `to` (nanoseconds of one clock); negative if
/// `to` came first.
pub fn interval_ms(from: u64, to: u64) -> f64 {
    round_ms((to as i128 - from as i128) as f64 / 1e6)
}

/// Milliseconds to 0.001 ms, as the result files keep them.
pub fn round_ms(milliseconds: f64) -> f64 {
    (milliseconds * 1000.0).round() / 1000.0
}

/// CLOCK_MONOTONIC now, nanoseconds: the clock the apps print (`Stopwatch.GetTimestamp` on
/// Linux), shared with containers that have no time namespace.
pub fn monotonic_ns() -> u64 {
    let now = nix::time::clock_gettime(nix::time::ClockId::CLOCK_MONOTONIC)
        .expect("CLOCK_MONOTONIC is always readable");
    now.tv_sec() as u64 * 1_000_000_000 + now.tv_nsec() as u64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_number_after_a_key_is_read_up_to_its_last_digit() {
        let output = "r2r-main-ns=1234567890123456\nr2r-console-ok jit_methods=3\n";
        assert_eq!(
            integer_after(output, "r2r-main-ns="),
            Some(1_234_567_890_123_456)
        );
        assert_eq!(integer_after(output, "jit_methods="), Some(3));
        assert_eq!(integer_after(output, "r2r-ready-ns="), None);
        assert_eq!(interval_ms(2_000_000, 3_500_000), 1.5);
        assert_eq!(interval_ms(3_500_000, 2_000_000), -1.5);
        assert_eq!(round_ms(1.00049), 1.0);
    }
}
