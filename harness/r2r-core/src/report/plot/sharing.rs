//! Owned against shared layers: one row per image, the gzip bytes of its layers no other image
//! has, stacked with those it shares.

use super::bars::Bars;
use super::{Charts, Inputs};
use crate::report::MB;
use crate::results::run_data::SharingRow;

/// Adds the `sharing` chart of the set of all images (skipped when `sharing.csv` has none).
pub(super) fn add(inputs: &Inputs, charts: &mut Charts) {
    let shared: Vec<&SharingRow> = inputs
        .sharing
        .iter()
        .flatten()
        .filter(|r| r.set == "all" && r.figure == "gzip")
        .collect();
    if shared.is_empty() {
        return charts.skip(
            "sharing",
            &format!(
                "no {} rows for the set 'all'",
                crate::results::sharing::FILE
            ),
        );
    }
    let megabytes =
        |bytes: fn(&SharingRow) -> u64| shared.iter().map(|r| bytes(r) as f64 / MB).collect();
    charts.add(
        "sharing",
        Bars {
            title: "Owned and shared layers per image (gzip)".into(),
            value_label: "MB (10^6 bytes), gzip".into(),
            categories: shared.iter().map(|r| r.image.clone()).collect(),
            series: vec![
                (
                    "owned (no other image has it)".into(),
                    megabytes(|r| r.owned_bytes),
                ),
                ("shared".into(), megabytes(|r| r.shared_bytes)),
            ],
            stacked: true,
        },
    );
}
