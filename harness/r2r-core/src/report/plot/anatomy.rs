//! Where the bytes go: one row per image, its files' bytes stacked by kind (IL and metadata,
//! native code, ReadyToRun tables, the rest of the assemblies, other files).

use super::bars::Bars;
use super::{Charts, Inputs};
use crate::measure::anatomy;
use crate::report::MB;

/// Adds the `anatomy` chart when the run has `anatomy.csv` (runs recorded before it existed
/// have none: nothing to say, nothing skipped).
pub(super) fn add(inputs: &Inputs, charts: &mut Charts) {
    let Some(rows) = inputs.anatomy.as_ref().filter(|rows| !rows.is_empty()) else {
        return;
    };
    let groups = anatomy::image_groups(rows);
    charts.add(
        "anatomy",
        Bars {
            title: "Where the bytes go".into(),
            value_label: "MB (10^6 bytes), uncompressed files".into(),
            categories: groups.iter().map(|(image, _)| image.clone()).collect(),
            series: anatomy::GROUPS
                .iter()
                .enumerate()
                .map(|(index, name)| {
                    (
                        name.to_string(),
                        groups
                            .iter()
                            .map(|(_, bytes)| bytes[index] as f64 / MB)
                            .collect(),
                    )
                })
                .collect(),
            stacked: true,
        },
    );
}
