//! What a deployment pays, from `node.csv` and `load.csv`: per image, rate and node state the
//! time to the first response on a new node, paired by round against the app as shipped, with
//! the model beside the measured pull; per web app image the first seconds under load, paired
//! by round and by second against as shipped. Pure functions of the rows.

use std::collections::BTreeMap;

use crate::measure::paired::{compare, PairedEffect, Verdict};
use crate::measure::startup::{baseline_index, targets, Target};
use crate::measure::stats::{quantile, stream_seed};
use crate::report::{Table, MB};
use crate::results::load_file::LoadRunRow;
use crate::results::node_file::{node_state, NodeRow};
use crate::results::run_data::RunData;

/// The seed of every bootstrap here (each comparison gets a stream of its own).
const SEED: u64 = 27;

/// One image at one rate and node state on a new node.
#[derive(Debug, Clone, PartialEq)]
pub struct NodeEffect {
    /// The app.
    pub app: String,
    /// Plan id of the image.
    pub image: String,
    /// Whether it is the app as shipped (the baseline of the pairs).
    pub as_shipped: bool,
    /// The rate's label.
    pub rate: String,
    /// The rate, bits per second (`None`: loopback).
    pub rate_bits_per_second: Option<u64>,
    /// `empty` or `shared`.
    pub node: String,
    /// Rows with figures.
    pub rounds: usize,
    /// Median compressed bytes pulled, bytes.
    pub bytes: f64,
    /// Median pull, seconds.
    pub pull_s: f64,
    /// Median download as the engine reports it (to the last "Download complete"), seconds.
    pub download_s: f64,
    /// Median start to ready plus the first response, ms.
    pub start_ms: f64,
    /// Median total to the first response, seconds.
    pub total_s: f64,
    /// The pull the model gives at this rate: compressed bytes / rate + the median pull of
    /// the same image and node state at loopback (unpacking), seconds; `None` at loopback or
    /// without a loopback measurement.
    pub model_pull_s: Option<f64>,
    /// The lower bound of the pull when unpacking overlaps the transfer completely:
    /// max(bytes / rate, loopback pull), seconds.
    pub overlap_pull_s: Option<f64>,
    /// Total against the as-shipped image's, paired by round (above 1: sooner).
    pub paired: Option<PairedEffect>,
}

fn median(mut values: Vec<f64>) -> f64 {
    if values.is_empty() {
        return f64::NAN;
    }
    values.sort_by(f64::total_cmp);
    quantile(&values, 0.5)
}

/// Where an image stands in the plan (unknown ones last).
fn plan_index(data: &RunData, image: &str) -> usize {
    data.plan
        .images
        .iter()
        .position(|i| i.id == image)
        .unwrap_or(usize::MAX)
}

/// The baseline (as shipped) image of each app, by the start-up pairing rule.
fn baselines(data: &RunData) -> BTreeMap<String, String> {
    let all: Vec<Target> = targets(&data.plan);
    data.plan
        .scenario
        .apps
        .iter()
        .filter_map(|app| {
            baseline_index(&all, &data.plan.scenario.variants, app)
                .map(|index| (app.clone(), all[index].image.clone()))
        })
        .collect()
}

/// Every image, rate and node state of `node.csv`, in the order the rows first name them.
pub fn node_effects(data: &RunData) -> Vec<NodeEffect> {
    let baselines = baselines(data);
    let good: Vec<&NodeRow> = data
        .node
        .iter()
        .filter(|row| row.error.is_empty())
        .collect();
    let mut keys: Vec<(String, String, String, String)> = Vec::new();
    let mut rates: Vec<&str> = Vec::new();
    for row in &good {
        let key = (
            row.app.clone(),
            row.rate.clone(),
            row.node.clone(),
            row.image.clone(),
        );
        if !keys.contains(&key) {
            keys.push(key);
        }
        if !rates.contains(&row.rate.as_str()) {
            rates.push(&row.rate);
        }
    }
    // Rates as measured, the empty node first, images in the plan's order.
    keys.sort_by_key(|(app, rate, node, image)| {
        (
            data.plan.scenario.apps.iter().position(|a| a == app),
            rates.iter().position(|r| r == rate),
            node != node_state::EMPTY,
            plan_index(data, image),
        )
    });
    let of = |app: &str, rate: &str, node: &str, image: &str| -> Vec<&NodeRow> {
        good.iter()
            .copied()
            .filter(|r| r.app == app && r.rate == rate && r.node == node && r.image == image)
            .collect()
    };
    keys.iter()
        .map(|(app, rate, node, image)| {
            let rows = of(app, rate, node, image);
            let values = |f: &dyn Fn(&NodeRow) -> Option<f64>| {
                median(rows.iter().filter_map(|r| f(r)).collect())
            };
            let bytes = values(&|r| r.bytes_pulled.map(|b| b as f64));
            let bits = rows.first().and_then(|r| r.rate_bits_per_second);
            let loopback: Vec<f64> = good
                .iter()
                .filter(|r| {
                    r.app == *app
                        && r.node == *node
                        && r.image == *image
                        && r.rate_bits_per_second.is_none()
                })
                .filter_map(|r| r.pull_s)
                .collect();
            let unpack = (!loopback.is_empty()).then(|| median(loopback));
            let transfer = bits.map(|bits| bytes * 8.0 / bits as f64);
            let baseline = baselines.get(app).cloned().unwrap_or_default();
            let paired = (image != &baseline).then(|| {
                let base = of(app, rate, node, &baseline);
                let pairs: Vec<(f64, f64)> = rows
                    .iter()
                    .filter_map(|r| {
                        let b = base.iter().find(|b| b.round == r.round)?;
                        Some((b.total_s?, r.total_s?))
                    })
                    .collect();
                compare(&pairs, stream_seed(SEED, &["node", app, rate, node, image]))
            });
            NodeEffect {
                app: app.clone(),
                image: image.clone(),
                as_shipped: image == &baseline,
                rate: rate.clone(),
                rate_bits_per_second: bits,
                node: node.clone(),
                rounds: rows.len(),
                bytes,
                pull_s: values(&|r| r.pull_s),
                download_s: values(&|r| r.download_s),
                start_ms: values(&|r| r.ready_ms.map(|ms| ms + r.first_response_ms.unwrap_or(0.0))),
                total_s: values(&|r| r.total_s),
                model_pull_s: transfer.zip(unpack).map(|(t, u)| t + u),
                overlap_pull_s: transfer.zip(unpack).map(|(t, u)| t.max(u)),
                paired,
            }
        })
        .collect()
}

/// One web app image under load.
#[derive(Debug, Clone, PartialEq)]
pub struct LoadEffect {
    /// The app.
    pub app: String,
    /// Plan id of the image.
    pub image: String,
    /// Whether it is the app as shipped.
    pub as_shipped: bool,
    /// Runs with figures.
    pub rounds: usize,
    /// Median throughput over the first 5 s, requests per second.
    pub first_5s_rps: f64,
    /// Median throughput at the end, requests per second.
    pub final_rps: f64,
    /// Median second at which throughput first reaches 95% of its final level (from
    /// `load.csv`, by [`crate::measure::load::settle_second`]), seconds since ready.
    pub settle_s: f64,
    /// Median 99th percentile latency, ms.
    pub p99_ms: f64,
    /// Requests in the first 5 s against as shipped, paired by round (above 1: more).
    pub first_5s: Option<PairedEffect>,
    /// Requests of the whole run against as shipped, paired by round (above 1: more).
    pub whole: Option<PairedEffect>,
    /// Seconds (from ready) in which the image answered fewer requests than as shipped by the
    /// paired 95% interval of that second.
    pub fewer_seconds: Vec<usize>,
    /// Median requests per second, second by second since ready.
    pub per_second: Vec<f64>,
}

/// Every web app image of `load-runs.csv`, in the order its rows first name them.
pub fn load_effects(data: &RunData) -> Vec<LoadEffect> {
    let baselines = baselines(data);
    let good: Vec<&LoadRunRow> = data
        .load_runs
        .iter()
        .filter(|r| r.error.is_empty())
        .collect();
    let mut images: Vec<(String, String)> = Vec::new();
    for row in &good {
        let key = (row.app.clone(), row.image.clone());
        if !images.contains(&key) {
            images.push(key);
        }
    }
    images.sort_by_key(|(_, image)| plan_index(data, image));
    // Requests per (image, round, second).
    let mut seconds: BTreeMap<(String, usize), Vec<u64>> = BTreeMap::new();
    for row in &data.load_seconds {
        let counts = seconds.entry((row.image.clone(), row.round)).or_default();
        if counts.len() <= row.second {
            counts.resize(row.second + 1, 0);
        }
        counts[row.second] = row.requests;
    }
    let runs_of = |image: &str| -> Vec<&LoadRunRow> {
        good.iter().copied().filter(|r| r.image == image).collect()
    };
    images
        .iter()
        .map(|(app, image)| {
            let runs = runs_of(image);
            let baseline = baselines.get(app).cloned().unwrap_or_default();
            let values = |f: &dyn Fn(&LoadRunRow) -> Option<f64>| {
                median(runs.iter().filter_map(|r| f(r)).collect())
            };
            let counts_of = |image: &str, round: usize| seconds.get(&(image.to_string(), round));
            let length = runs
                .iter()
                .filter_map(|r| counts_of(image, r.round).map(Vec::len))
                .max()
                .unwrap_or(0);
            let per_second: Vec<f64> = (0..length)
                .map(|s| {
                    median(
                        runs.iter()
                            .filter_map(|r| counts_of(image, r.round)?.get(s).map(|&c| c as f64))
                            .collect(),
                    )
                })
                .collect();
            let paired_by = |pick: &dyn Fn(&[u64]) -> f64, what: &str| {
                let base = runs_of(&baseline);
                let pairs: Vec<(f64, f64)> = runs
                    .iter()
                    .filter_map(|r| {
                        let b = base.iter().find(|b| b.round == r.round)?;
                        let mine = counts_of(image, r.round)?;
                        let theirs = counts_of(&baseline, b.round)?;
                        // (candidate, baseline): above 1 the candidate answered more.
                        Some((pick(mine), pick(theirs)))
                    })
                    .collect();
                compare(&pairs, stream_seed(SEED, &["load", app, image, what]))
            };
            let is_baseline = image == &baseline;
            let first_5s = (!is_baseline).then(|| {
                paired_by(
                    &|c: &[u64]| c.iter().take(5).sum::<u64>() as f64,
                    "first-5s",
                )
            });
            let whole = (!is_baseline)
                .then(|| paired_by(&|c: &[u64]| c.iter().sum::<u64>() as f64, "whole"));
            let fewer_seconds = if is_baseline {
                Vec::new()
            } else {
                (0..length)
                    .filter(|&s| {
                        let name = format!("second-{s}");
                        paired_by(&|c: &[u64]| c.get(s).copied().unwrap_or(0) as f64, &name).verdict
                            == Verdict::Slower
                    })
                    .collect()
            };
            LoadEffect {
                app: app.clone(),
                image: image.clone(),
                as_shipped: is_baseline,
                rounds: runs.len(),
                first_5s_rps: values(&|r| r.first_5s_rps),
                final_rps: values(&|r| r.final_rps),
                // From the seconds themselves (the rule of `settle_second`), not the column:
                // files of an earlier rule report by this one.
                settle_s: median(
                    runs.iter()
                        .filter_map(|r| {
                            let counts = counts_of(image, r.round)?;
                            let rate = crate::measure::load::final_rate(counts)?;
                            crate::measure::load::settle_second(counts, rate).map(|s| s as f64)
                        })
                        .collect(),
                ),
                p99_ms: values(&|r| r.latency_p99_ms),
                first_5s,
                whole,
                fewer_seconds,
                per_second,
            }
        })
        .collect()
}

/// "1.06× (1.02–1.10)" of a ratio above 1 meaning more, or "no difference (±4%)".
pub fn ratio_text(effect: &PairedEffect, more: &str, fewer: &str) -> String {
    match effect.verdict {
        Verdict::TooFewRounds => format!("n = {}", effect.rounds),
        Verdict::NoDifference => format!(
            "no difference (±{:.1}%, n = {})",
            effect.half_width * 100.0,
            effect.rounds
        ),
        Verdict::Faster => format!(
            "{:.3}× {more} (95% CI {:.3}–{:.3}, n = {})",
            effect.speedup, effect.ci95_low, effect.ci95_high, effect.rounds
        ),
        Verdict::Slower => format!(
            "{:.3}× {fewer} (95% CI {:.3}–{:.3}, n = {})",
            1.0 / effect.speedup,
            1.0 / effect.ci95_high,
            1.0 / effect.ci95_low,
            effect.rounds
        ),
    }
}

/// Seconds as ranges: "0–4, 7".
pub fn seconds_text(seconds: &[usize]) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut index = 0;
    while index < seconds.len() {
        let start = seconds[index];
        let mut end = start;
        while index + 1 < seconds.len() && seconds[index + 1] == end + 1 {
            index += 1;
            end = seconds[index];
        }
        parts.push(if start == end {
            start.to_string()
        } else {
            format!("{start}–{end}")
        });
        index += 1;
    }
    parts.join(", ")
}

/// The report's tables: one per app on a new node (each rate and node state), one per app
/// under load. None for a run without `node.csv` and `load.csv`.
pub fn tables(data: &RunData) -> Vec<Table> {
    let mut tables = Vec::new();
    let node = node_effects(data);
    let load = load_effects(data);
    for app in &data.plan.scenario.apps {
        let mine: Vec<&NodeEffect> = node.iter().filter(|e| &e.app == app).collect();
        if !mine.is_empty() {
            tables.push(node_table(app, &mine, failed_node_rows(data, app)));
        }
        let mine: Vec<&LoadEffect> = load.iter().filter(|e| &e.app == app).collect();
        if !mine.is_empty() {
            tables.push(load_table(app, &mine));
        }
    }
    tables
}

fn failed_node_rows(data: &RunData, app: &str) -> usize {
    data.node
        .iter()
        .filter(|r| r.app == app && !r.error.is_empty())
        .count()
}

fn node_table(app: &str, effects: &[&NodeEffect], failed: usize) -> Table {
    let rows = effects
        .iter()
        .map(|e| {
            let model = match (e.model_pull_s, e.overlap_pull_s) {
                (Some(model), Some(overlap)) => format!(
                    "{model:.2} ({:+.0}%); overlapped {overlap:.2}",
                    100.0 * (e.pull_s / model - 1.0)
                ),
                _ => String::new(),
            };
            // Against the rate only where the transfer is long enough to say something (a
            // few kilobytes are all request latency).
            let transfer = e
                .rate_bits_per_second
                .map(|bits| e.bytes * 8.0 / bits as f64);
            let download = match e.rate_bits_per_second {
                Some(bits) if transfer.is_some_and(|t| t >= 0.1) => format!(
                    "{:.2} ({:+.1}%)",
                    e.download_s,
                    100.0 * (e.download_s / (e.bytes * 8.0 / bits as f64) - 1.0)
                ),
                _ => format!("{:.2}", e.download_s),
            };
            vec![
                e.rate.clone(),
                e.node.clone(),
                e.image.clone(),
                if e.bytes < 0.1 * MB {
                    format!("{:.3}", e.bytes / MB)
                } else {
                    format!("{:.1}", e.bytes / MB)
                },
                download,
                format!("{:.2}", e.pull_s),
                model,
                format!("{:.0}", e.start_ms),
                format!("{:.2}", e.total_s),
                match &e.paired {
                    None => "as shipped".to_string(),
                    Some(effect) => ratio_text(effect, "sooner", "later"),
                },
            ]
        })
        .collect();
    let failed = if failed > 0 {
        format!(
            " {failed} pull(s) failed and are left out (their errors are in {}).",
            crate::results::node_file::FILE
        )
    } else {
        String::new()
    };
    Table {
        title: format!("`{app}` on a new node"),
        note: format!(
            "Pulled from a registry on 127.0.0.1 by an engine that held nothing (`{}`) or only what stands under the app's own layers (`{}`), at loopback speed or through a proxy whose answers share the rate; then started to ready and the first response. Medians over rounds; download = to the last layer's \"Download complete\" as the engine reports it, against the compressed bytes at the rate; model = compressed bytes / rate + the loopback pull of the same image (unpacking), with how far the measured pull is from it, and the bound when unpacking overlaps the transfer wholly; total paired by round against as shipped (above 1: sooner).{failed} As data: {}.",
            node_state::EMPTY,
            node_state::SHARED,
            crate::results::node_file::FILE
        ),
        headers: [
            "Rate",
            "Node",
            "Image",
            "Pulled MB",
            "Download s (vs bytes / rate)",
            "Pull s",
            "Model pull s (measured vs model)",
            "Start + first response ms",
            "Total s",
            "Total vs as shipped",
        ]
        .map(String::from)
        .to_vec(),
        rows,
    }
}

fn load_table(app: &str, effects: &[&LoadEffect]) -> Table {
    let rows = effects
        .iter()
        .map(|e| {
            vec![
                e.image.clone(),
                e.rounds.to_string(),
                format!("{:.0}", e.first_5s_rps),
                format!("{:.0}", e.final_rps),
                if e.settle_s.is_nan() {
                    "never".into()
                } else {
                    format!("{:.0}", e.settle_s)
                },
                format!("{:.2}", e.p99_ms),
                e.first_5s
                    .as_ref()
                    .map_or("as shipped".into(), |p| ratio_text(p, "more", "fewer")),
                e.whole
                    .as_ref()
                    .map_or("as shipped".into(), |p| ratio_text(p, "more", "fewer")),
                if e.as_shipped {
                    String::new()
                } else if e.fewer_seconds.is_empty() {
                    "none".into()
                } else {
                    seconds_text(&e.fewer_seconds)
                },
            ]
        })
        .collect();
    Table {
        title: format!("`{app}` under load"),
        note: format!(
            "From the moment the app is ready, a fixed load from wrk on 127.0.0.1 (the same connections for every image); medians over rounds. Settled = the first second at which the 3-second mean of throughput reaches 95% of its final level (the median of the last 10 s). Requests paired by round against as shipped (above 1: more); \"fewer in seconds\" = the seconds since ready in which the image answered fewer requests than as shipped by that second's paired 95% interval. As data: {} and {}.",
            crate::results::load_file::FILE,
            crate::results::load_file::RUNS_FILE
        ),
        headers: [
            "Image",
            "Runs",
            "First 5 s req/s",
            "Final req/s",
            "Settled s",
            "p99 ms",
            "First 5 s vs as shipped",
            "Whole run vs as shipped",
            "Fewer in seconds",
        ]
        .map(String::from)
        .to_vec(),
        rows,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seconds_are_written_as_ranges() {
        assert_eq!(seconds_text(&[0, 1, 2, 3, 4, 7, 9, 10]), "0–4, 7, 9–10");
        assert_eq!(seconds_text(&[5]), "5");
        assert_eq!(seconds_text(&[]), "");
    }

    #[test]
    fn ratios_read_as_more_or_fewer() {
        let more = compare(&[(110.0, 100.0), (112.0, 100.0), (111.0, 100.0)], 1);
        assert!(
            ratio_text(&more, "more", "fewer").contains("× more"),
            "{more:?}"
        );
        let fewer = compare(&[(90.0, 100.0), (91.0, 100.0), (89.0, 100.0)], 1);
        let text = ratio_text(&fewer, "more", "fewer");
        assert!(text.starts_with("1.1"), "{text}");
        assert!(text.contains("× fewer"), "{text}");
    }
}
