//! Precision targets and budgets of time as people write them (`3%`, `off`, `90s`, `15m`):
//! read from start-up flags and from a scenario's `[startup]` table.

use std::time::Duration;

use serde::{Deserialize, Serialize};

/// A precision target as a fraction (`None`: off), read by [`parse_precision`]; recorded as
/// the fraction, 0 for off.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(from = "f64", into = "f64")]
pub struct Precision(pub Option<f64>);

impl From<f64> for Precision {
    fn from(fraction: f64) -> Precision {
        Precision((fraction.is_finite() && fraction > 0.0).then_some(fraction))
    }
}

impl From<Precision> for f64 {
    fn from(precision: Precision) -> f64 {
        precision.0.unwrap_or(0.0)
    }
}

/// A budget of time (`None`: off), read by [`parse_budget`]; recorded in seconds, 0 for off.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(from = "f64", into = "f64")]
pub struct Budget(pub Option<Duration>);

impl From<f64> for Budget {
    fn from(seconds: f64) -> Budget {
        Budget((seconds.is_finite() && seconds > 0.0).then(|| Duration::from_secs_f64(seconds)))
    }
}

impl From<Budget> for f64 {
    fn from(budget: Budget) -> f64 {
        budget.0.map_or(0.0, |d| d.as_secs_f64())
    }
}

/// Reads a precision in percent: `2%`, `2`, `0.5%`; `off` or `0` for none.
pub fn parse_precision(text: &str) -> Result<Precision, String> {
    let text = text.trim();
    if text.eq_ignore_ascii_case("off") {
        return Ok(Precision(None));
    }
    let number = text.strip_suffix('%').unwrap_or(text).trim();
    let percent: f64 = number
        .parse()
        .map_err(|_| format!("'{text}' is not a percentage (e.g. 2% or off)"))?;
    if !percent.is_finite() || !(0.0..100.0).contains(&percent) {
        return Err(format!("'{text}': a precision is between 0% and 100%"));
    }
    Ok(Precision((percent > 0.0).then_some(percent / 100.0)))
}

/// Reads a duration: `90s`, `12m`, `1h30m`, `1.5h`, a bare number of seconds; `off` or `0`
/// for none.
pub fn parse_budget(text: &str) -> Result<Budget, String> {
    let text = text.trim();
    if text.eq_ignore_ascii_case("off") {
        return Ok(Budget(None));
    }
    let invalid = || format!("'{text}' is not a duration (e.g. 90s, 12m, 1h30m or off)");
    let mut seconds = 0.0;
    let mut number = String::new();
    for c in text.chars() {
        if c.is_ascii_digit() || c == '.' {
            number.push(c);
            continue;
        }
        let unit = match c {
            's' => 1.0,
            'm' => 60.0,
            'h' => 3600.0,
            _ => return Err(invalid()),
        };
        let value: f64 = number.parse().map_err(|_| invalid())?;
        seconds += value * unit;
        number.clear();
    }
    if !number.is_empty() {
        seconds += number.parse::<f64>().map_err(|_| invalid())?;
    }
    if !seconds.is_finite() || seconds < 0.0 {
        return Err(invalid());
    }
    Ok(Budget(
        (seconds > 0.0).then(|| Duration::from_secs_f64(seconds)),
    ))
}
