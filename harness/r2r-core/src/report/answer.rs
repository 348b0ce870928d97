//! The report's answer, before any detail: per app, which variant (and recipe) gains, with
//! its size and paired start-up against the app as shipped, and the two images a reader
//! deciding would pick: the smallest one that is not slower, and the fastest one.

use crate::model::plan::{Content, PlannedImage, PlannedRole};
use crate::report::Table;
use crate::results::answer_file::AnswerRow;
use crate::results::run_data::RunData;
use crate::results::run_data::StartupRow;

const MB: f64 = 1_000_000.0;

/// The answer as rows (`answer.csv`): every app image of each app (in the scenario's order),
/// the as-shipped one first, with the two picks marked. Empty when the run measured neither
/// sizes nor start-up.
pub fn rows(data: &RunData) -> Vec<AnswerRow> {
    if data.sizes.is_empty()
        && data.startup.is_empty()
        && data.node.is_empty()
        && data.load_runs.is_empty()
    {
        return Vec::new();
    }
    let node = crate::report::deploy::node_effects(data);
    let load = crate::report::deploy::load_effects(data);
    // The slowest rate measured onto an empty node: where the size counts most.
    let slowest = node
        .iter()
        .filter(|e| e.node == crate::results::node_file::node_state::EMPTY)
        .min_by_key(|e| e.rate_bits_per_second.unwrap_or(u64::MAX))
        .map(|e| e.rate.clone());
    let mut rows = Vec::new();
    for app in &data.plan.scenario.apps {
        let images = app_images(data, app);
        let Some(baseline) = images.first() else {
            continue;
        };
        let base_gzip = data.size_row(&baseline.id).map(|row| row.gzip_bytes);
        let mut app_rows: Vec<AnswerRow> = images
            .iter()
            .map(|image| {
                let gzip_bytes = data.size_row(&image.id).map(|row| row.gzip_bytes);
                let cold = data.startup_row(&image.id, "cold", "total");
                let warm = data.startup_row(&image.id, "warm", "total");
                let paired = |row: Option<&StartupRow>| {
                    row.filter(|row| row.image != row.baseline).map_or(
                        (None, None, None, String::new()),
                        |row| {
                            (
                                row.paired_speedup,
                                row.paired_ci95_low,
                                row.paired_ci95_high,
                                row.paired_verdict.clone(),
                            )
                        },
                    )
                };
                let (cold_speedup, cold_ci95_low, cold_ci95_high, cold_verdict) = paired(cold);
                let (warm_speedup, warm_ci95_low, warm_ci95_high, warm_verdict) = paired(warm);
                AnswerRow {
                    app: app.clone(),
                    image: image.id.clone(),
                    variant: image.variants.join(";"),
                    recipe: recipe_of(image),
                    as_shipped: image.id == baseline.id,
                    gzip_bytes,
                    gzip_ratio: gzip_bytes
                        .zip(base_gzip)
                        .map(|(bytes, base)| bytes as f64 / base as f64),
                    cold_median_ms: cold.map(|row| row.median_ms),
                    cold_speedup,
                    cold_ci95_low,
                    cold_ci95_high,
                    cold_verdict,
                    warm_median_ms: warm.map(|row| row.median_ms),
                    warm_speedup,
                    warm_ci95_low,
                    warm_ci95_high,
                    warm_verdict,
                    jitted_methods: data.jitted_methods(&image.id),
                    pick: String::new(),
                    ..deploy_columns(&image.id, slowest.as_deref(), &node, &load)
                }
            })
            .collect();
        let timed = |row: &AnswerRow| row.cold_median_ms.is_some();
        let not_slower = |row: &AnswerRow| timed(row) && row.cold_verdict != "slower";
        let smallest = app_rows
            .iter()
            .enumerate()
            .filter(|(_, row)| not_slower(row) && row.gzip_bytes.is_some())
            .min_by_key(|(_, row)| row.gzip_bytes)
            .map(|(index, _)| index);
        let fastest = app_rows
            .iter()
            .enumerate()
            .filter(|(_, row)| row.cold_verdict == "faster")
            .max_by(|(_, a), (_, b)| {
                a.cold_speedup
                    .partial_cmp(&b.cold_speedup)
                    .unwrap_or(std::cmp::Ordering::Equal)
            })
            .map(|(index, _)| index);
        for (index, pick) in [(smallest, SMALLEST), (fastest, FASTEST)] {
            if let Some(index) = index {
                let row = &mut app_rows[index];
                if !row.pick.is_empty() {
                    row.pick.push(';');
                }
                row.pick.push_str(pick);
            }
        }
        rows.extend(app_rows);
    }
    rows
}

/// An answer row with only the columns of a new node and of load filled in.
fn deploy_columns(
    image: &str,
    rate: Option<&str>,
    node: &[crate::report::deploy::NodeEffect],
    load: &[crate::report::deploy::LoadEffect],
) -> AnswerRow {
    let on_node = node.iter().find(|e| {
        e.image == image
            && Some(e.rate.as_str()) == rate
            && e.node == crate::results::node_file::node_state::EMPTY
    });
    let loaded = load.iter().find(|e| e.image == image);
    let verdict = |effect: Option<&crate::measure::paired::PairedEffect>| {
        effect.map_or(String::new(), |e| {
            serde_json::to_value(e.verdict)
                .ok()
                .and_then(|v| v.as_str().map(String::from))
                .unwrap_or_default()
        })
    };
    let node_paired = on_node.and_then(|e| e.paired.as_ref());
    let load_paired = loaded.and_then(|e| e.first_5s.as_ref());
    AnswerRow {
        app: String::new(),
        image: String::new(),
        variant: String::new(),
        recipe: String::new(),
        as_shipped: false,
        gzip_bytes: None,
        gzip_ratio: None,
        cold_median_ms: None,
        cold_speedup: None,
        cold_ci95_low: None,
        cold_ci95_high: None,
        cold_verdict: String::new(),
        warm_median_ms: None,
        warm_speedup: None,
        warm_ci95_low: None,
        warm_ci95_high: None,
        warm_verdict: String::new(),
        jitted_methods: None,
        new_node_rate: on_node.map_or(String::new(), |e| e.rate.clone()),
        new_node_s: on_node.map(|e| e.total_s),
        new_node_speedup: node_paired.map(|p| p.speedup),
        new_node_ci95_low: node_paired.map(|p| p.ci95_low),
        new_node_ci95_high: node_paired.map(|p| p.ci95_high),
        new_node_verdict: verdict(node_paired),
        load_first_5s_rps: loaded.map(|e| e.first_5s_rps),
        load_first_5s_ratio: load_paired.map(|p| p.speedup),
        load_ci95_low: load_paired.map(|p| p.ci95_low),
        load_ci95_high: load_paired.map(|p| p.ci95_high),
        load_verdict: verdict(load_paired),
        pick: String::new(),
    }
}

/// The pick of the smallest image that is not slower cold than as shipped.
pub const SMALLEST: &str = "smallest-not-slower";
/// The pick of the image fastest cold by its paired interval.
pub const FASTEST: &str = "fastest";

/// The app images of `app` (default platform), the as-shipped one first.
fn app_images<'a>(data: &'a RunData, app: &str) -> Vec<&'a PlannedImage> {
    data.plan
        .images
        .iter()
        .filter(|image| {
            matches!(image.content, Content::App { .. })
                && image.platform.is_default()
                && image.role == PlannedRole::App(app.to_string())
        })
        .collect()
}

/// The recipe of an app image: the suffix of its variant (`full` for a composite variant's
/// own name); empty for an image without a framework composite below it.
fn recipe_of(image: &PlannedImage) -> String {
    let variant = image.variants.first().map(String::as_str).unwrap_or("");
    match variant.split_once('.') {
        Some((_, recipe)) => recipe.to_string(),
        None if variant.contains("composite") && variant != "no-composite" => "full".into(),
        None => String::new(),
    }
}

/// One table per app of the run (in the scenario's order), or none when the run measured
/// neither sizes nor start-up.
pub fn tables(data: &RunData) -> Vec<Table> {
    let rows = rows(data);
    data.plan
        .scenario
        .apps
        .iter()
        .filter_map(|app| {
            let mine: Vec<&AnswerRow> = rows.iter().filter(|row| &row.app == app).collect();
            (!mine.is_empty()).then(|| app_table(data, app, &mine))
        })
        .collect()
}

fn app_table(data: &RunData, app: &str, rows: &[&AnswerRow]) -> Table {
    let baseline = rows[0];
    let startup = |image: &str, cache: &str| data.startup_row(image, cache, "total");
    let paired = |row: Option<&StartupRow>| match row {
        None => String::new(),
        Some(row) if row.image == row.baseline => format!("{:.0} ms (as shipped)", row.median_ms),
        Some(row) if row.paired_text.is_empty() => format!("{:.0} ms", row.median_ms),
        Some(row) => format!("{:.0} ms: {}", row.median_ms, row.paired_text),
    };
    let deployed = (
        rows.iter().any(|row| row.new_node_s.is_some()),
        rows.iter().any(|row| row.load_first_5s_rps.is_some()),
    );
    let table_rows = rows
        .iter()
        .map(|row| {
            let size = match (row.gzip_bytes, row.gzip_ratio) {
                (Some(bytes), Some(ratio)) if !row.as_shipped => {
                    format!("{:.1} ({:+.0}%)", bytes as f64 / MB, 100.0 * (ratio - 1.0))
                }
                (Some(bytes), _) => format!("{:.1}", bytes as f64 / MB),
                (None, _) => String::new(),
            };
            let mut cells = vec![
                row.image.clone(),
                row.variant.replace(';', ", "),
                size,
                paired(startup(&row.image, "cold")),
                paired(startup(&row.image, "warm")),
                row.jitted_methods
                    .map(|n| n.to_string())
                    .unwrap_or_default(),
            ];
            if deployed.0 {
                cells.push(match row.new_node_s {
                    None => String::new(),
                    Some(s) if row.as_shipped => {
                        format!("{s:.2} s at {} (as shipped)", row.new_node_rate)
                    }
                    Some(s) => format!(
                        "{s:.2} s at {}: {}",
                        row.new_node_rate,
                        verdict_text(
                            row.new_node_verdict.as_str(),
                            row.new_node_speedup,
                            (row.new_node_ci95_low, row.new_node_ci95_high),
                            ("sooner", "later")
                        )
                    ),
                });
            }
            if deployed.1 {
                cells.push(match row.load_first_5s_rps {
                    None => String::new(),
                    Some(rps) if row.as_shipped => format!("{rps:.0}/s first 5 s (as shipped)"),
                    Some(rps) => format!(
                        "{rps:.0}/s first 5 s: {}",
                        verdict_text(
                            row.load_verdict.as_str(),
                            row.load_first_5s_ratio,
                            (row.load_ci95_low, row.load_ci95_high),
                            ("more", "fewer")
                        )
                    ),
                });
            }
            cells
        })
        .collect();
    let describe = |row: &AnswerRow| {
        let size = row
            .gzip_bytes
            .map(|bytes| format!("{:.1} MB gzip", bytes as f64 / MB))
            .unwrap_or_else(|| "size not measured".into());
        let start = match startup(&row.image, "cold") {
            Some(cold) if cold.image == cold.baseline => "as shipped".to_string(),
            Some(cold) if !cold.paired_text.is_empty() => format!("cold {}", cold.paired_text),
            _ => "start-up not measured".to_string(),
        };
        format!("`{}` ({size}; {start})", row.image)
    };
    let picked = |pick: &str| {
        rows.iter()
            .find(|row| row.pick.split(';').any(|p| p == pick))
    };
    let mut answer = String::new();
    match picked(SMALLEST) {
        Some(row) => answer.push_str(&format!(
            "Smallest image not slower to start cold: {}. ",
            describe(row)
        )),
        None if data.startup.is_empty() => {
            answer.push_str("Start-up was not measured, so no image is called not slower. ")
        }
        None => answer.push_str("Every image was slower cold than as shipped, or not timed. "),
    }
    match picked(FASTEST) {
        Some(row) => answer.push_str(&format!("Fastest cold: {}.", describe(row))),
        None if data.startup.is_empty() => {}
        None => answer
            .push_str("No image starts faster cold than as shipped by its paired 95% interval."),
    }
    if deployed.0 {
        answer.push_str(" On a new node: the median time to the first response of the image pulled at that rate onto an empty node (pull, start, first response), paired by round against as shipped (see the new-node table).");
    }
    if deployed.1 {
        answer.push_str(" Under load: the median requests per second over the first 5 s from ready, paired by round against as shipped (see the load table).");
    }
    Table {
        title: format!("The answer for `{app}`"),
        note: format!(
            "{answer} Against `{}` (the app as shipped): compressed = gzip of the layers, as a registry stores them; start-up = median to ready, with the paired speed-up and its 95% interval over rounds (above 1: faster); jitted = methods the JIT compiled before ready (verify's count). A variant missing here failed to build or to verify (see Build). As data: {}.",
            baseline.image,
            crate::results::answer_file::FILE
        ),
        headers: [
            "Image",
            "Variants",
            "Compressed MB (vs as shipped)",
            "Cold start",
            "Warm start",
            "Jitted",
        ]
        .map(String::from)
        .into_iter()
        .chain(deployed.0.then(|| "On a new node".to_string()))
        .chain(deployed.1.then(|| "Under load".to_string()))
        .collect(),
        rows: table_rows,
    }
}

/// "1.05× sooner (95% CI 1.02–1.08)" from an answer row's verdict and interval.
fn verdict_text(
    verdict: &str,
    ratio: Option<f64>,
    (low, high): (Option<f64>, Option<f64>),
    (more, fewer): (&str, &str),
) -> String {
    match (verdict, ratio, low, high) {
        ("faster", Some(r), Some(l), Some(h)) => format!("{r:.3}× {more} (95% CI {l:.3}–{h:.3})"),
        ("slower", Some(r), Some(l), Some(h)) => {
            format!(
                "{:.3}× {fewer} (95% CI {:.3}–{:.3})",
                1.0 / r,
                1.0 / h,
                1.0 / l
            )
        }
        ("no-difference", _, Some(l), Some(h)) => format!("no difference ({l:.3}–{h:.3})"),
        _ => "too few rounds".to_string(),
    }
}
