//! The report's answer, before any detail: per app, which variant (and recipe) gains, with
//! its size and paired start-up against the app as shipped, and the two images a reader
//! deciding would pick: the smallest one that is not slower, and the fastest one.

use crate::model::plan::{Content, PlannedImage, PlannedRole};
use crate::report::Table;
use crate::results::run_data::RunData;
use crate::results::run_data::StartupRow;

const MB: f64 = 1_000_000.0;

/// One table per app of the run (in the scenario's order), or none when the run measured
/// neither sizes nor start-up.
pub fn tables(data: &RunData) -> Vec<Table> {
    if data.sizes.is_empty() && data.startup.is_empty() {
        return Vec::new();
    }
    let scenario = &data.plan.scenario;
    let mut sections = Vec::new();
    for app in &scenario.apps {
        let images: Vec<&PlannedImage> = data
            .plan
            .images
            .iter()
            .filter(|image| {
                matches!(image.content, Content::App { .. })
                    && image.platform.is_default()
                    && image.role == PlannedRole::App(app.clone())
            })
            .collect();
        let Some(baseline) = images.first() else {
            continue;
        };
        sections.push(app_table(data, app, baseline, &images));
    }
    sections
}

/// What one image is, against the app as shipped.
struct Standing<'a> {
    image: &'a PlannedImage,
    gzip_bytes: Option<u64>,
    cold: Option<&'a StartupRow>,
    warm: Option<&'a StartupRow>,
}

impl Standing<'_> {
    /// Not slower cold (as shipped itself counts, and so does an image whose interval
    /// contains 1.00).
    fn not_slower(&self) -> bool {
        self.cold.is_some_and(|row| row.paired_verdict != "slower")
    }

    fn cold_speedup(&self) -> Option<f64> {
        let row = self.cold?;
        (row.paired_verdict == "faster")
            .then_some(row.paired_speedup)
            .flatten()
    }
}

fn app_table(
    data: &RunData,
    app: &str,
    baseline: &PlannedImage,
    images: &[&PlannedImage],
) -> Table {
    let standings: Vec<Standing<'_>> = images
        .iter()
        .map(|image| Standing {
            image,
            gzip_bytes: data.size_row(&image.id).map(|row| row.gzip_bytes),
            cold: data.startup_row(&image.id, "cold", "total"),
            warm: data.startup_row(&image.id, "warm", "total"),
        })
        .collect();
    let base_gzip = standings[0].gzip_bytes;
    let paired = |row: Option<&StartupRow>| match row {
        None => String::new(),
        Some(row) if row.image == row.baseline => format!("{:.0} ms (as shipped)", row.median_ms),
        Some(row) if row.paired_text.is_empty() => format!("{:.0} ms", row.median_ms),
        Some(row) => format!("{:.0} ms: {}", row.median_ms, row.paired_text),
    };
    let rows = standings
        .iter()
        .map(|standing| {
            let size = match (standing.gzip_bytes, base_gzip) {
                (Some(bytes), Some(base)) if standing.image.id != baseline.id => format!(
                    "{:.1} ({:+.0}%)",
                    bytes as f64 / MB,
                    100.0 * (bytes as f64 / base as f64 - 1.0)
                ),
                (Some(bytes), _) => format!("{:.1}", bytes as f64 / MB),
                (None, _) => String::new(),
            };
            vec![
                standing.image.id.clone(),
                standing.image.variants.join(", "),
                size,
                paired(standing.cold),
                paired(standing.warm),
            ]
        })
        .collect();
    let describe = |standing: &Standing<'_>| {
        let size = standing
            .gzip_bytes
            .map(|bytes| format!("{:.1} MB gzip", bytes as f64 / MB))
            .unwrap_or_else(|| "size not measured".into());
        let start = match standing.cold {
            Some(row) if row.image == row.baseline => "as shipped".to_string(),
            Some(row) if !row.paired_text.is_empty() => format!("cold {}", row.paired_text),
            _ => "start-up not measured".to_string(),
        };
        format!("`{}` ({size}; {start})", standing.image.id)
    };
    let smallest = standings
        .iter()
        .filter(|standing| standing.not_slower() && standing.gzip_bytes.is_some())
        .min_by_key(|standing| standing.gzip_bytes);
    let fastest = standings
        .iter()
        .filter(|standing| standing.cold_speedup().is_some())
        .max_by(|a, b| {
            a.cold_speedup()
                .partial_cmp(&b.cold_speedup())
                .unwrap_or(std::cmp::Ordering::Equal)
        });
    let mut answer = String::new();
    match smallest {
        Some(standing) => answer.push_str(&format!(
            "Smallest image not slower to start cold: {}. ",
            describe(standing)
        )),
        None if data.startup.is_empty() => {
            answer.push_str("Start-up was not measured, so no image is called not slower. ")
        }
        None => answer.push_str("Every image was slower cold than as shipped, or not timed. "),
    }
    match fastest {
        Some(standing) => answer.push_str(&format!("Fastest cold: {}.", describe(standing))),
        None if data.startup.is_empty() => {}
        None => answer
            .push_str("No image starts faster cold than as shipped by its paired 95% interval."),
    }
    Table {
        title: format!("The answer for `{app}`"),
        note: format!(
            "{answer} Against `{}` (the app as shipped): compressed = gzip of the layers, as a registry stores them; start-up = median to ready, with the paired speed-up and its 95% interval over rounds (above 1: faster). A variant missing here failed to build or to verify (see Build).",
            baseline.id
        ),
        headers: [
            "Image",
            "Variants",
            "Compressed MB (vs as shipped)",
            "Cold start",
            "Warm start",
        ]
        .map(String::from)
        .to_vec(),
        rows,
    }
}
