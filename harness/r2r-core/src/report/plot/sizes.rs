//! Image sizes: one row per image, its bytes uncompressed, with gzip (as a registry stores
//! them) and with zstd, side by side.

use super::bars::Bars;
use super::{Charts, Inputs};
use crate::report::MB;

/// Adds the `sizes` chart (skipped when the run has no `sizes.csv`).
pub(super) fn add(inputs: &Inputs, charts: &mut Charts) {
    let Some(rows) = inputs.sizes.as_ref().filter(|rows| !rows.is_empty()) else {
        return charts.skip(
            "sizes",
            &format!("no {} in the run", crate::results::sizes::FILE),
        );
    };
    let megabytes = |bytes: fn(&crate::results::run_data::SizeRow) -> u64| {
        rows.iter().map(|r| bytes(r) as f64 / MB).collect()
    };
    charts.add(
        "sizes",
        Bars {
            title: "Image sizes".into(),
            value_label: "MB (10^6 bytes)".into(),
            categories: rows.iter().map(|r| r.image.clone()).collect(),
            series: vec![
                ("uncompressed".into(), megabytes(|r| r.content_bytes)),
                ("gzip -6 (registry)".into(), megabytes(|r| r.gzip_bytes)),
                ("zstd -3".into(), megabytes(|r| r.zstd_bytes)),
            ],
            stacked: false,
        },
    );
}
