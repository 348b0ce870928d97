//! What a deployment pays, per app: `node-<app>` (the median time to the first response on
//! an empty new node, one bar per image and rate) and `load-<app>` (the median requests per
//! second in each second since ready, one line per image).

use super::bars::Bars;
use super::trend::Lines;
use super::{Charts, Inputs};
use crate::measure::stats::quantile;
use crate::results::node_file::node_state;

fn median(mut values: Vec<f64>) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    values.sort_by(f64::total_cmp);
    Some(quantile(&values, 0.5))
}

/// Items in the order they first appear.
fn first_seen<'a>(items: impl Iterator<Item = &'a str>) -> Vec<String> {
    let mut seen: Vec<String> = Vec::new();
    for item in items {
        if !seen.iter().any(|s| s == item) {
            seen.push(item.to_string());
        }
    }
    seen
}

/// Adds `node-<app>` for every app of `node.csv` and `load-<app>` for every app of `load.csv`.
/// A run that measured neither skips nothing: most runs do not, and lack nothing.
pub(super) fn add(inputs: &Inputs, charts: &mut Charts) {
    if let Some(rows) = inputs.node.as_ref().filter(|rows| !rows.is_empty()) {
        let rows: Vec<_> = rows
            .iter()
            .filter(|r| r.error.is_empty() && r.node == node_state::EMPTY)
            .collect();
        for app in first_seen(rows.iter().map(|r| r.app.as_str())) {
            let mine: Vec<_> = rows.iter().filter(|r| r.app == app).collect();
            let mut images = first_seen(mine.iter().map(|r| r.image.as_str()));
            images.sort();
            let rates = first_seen(mine.iter().map(|r| r.rate.as_str()));
            let series = rates
                .iter()
                .map(|rate| {
                    let values = images
                        .iter()
                        .map(|image| {
                            median(
                                mine.iter()
                                    .filter(|r| &r.rate == rate && &r.image == image)
                                    .filter_map(|r| r.total_s)
                                    .collect(),
                            )
                            .unwrap_or(0.0)
                        })
                        .collect();
                    (rate.clone(), values)
                })
                .collect();
            charts.add(
                format!("node-{app}"),
                Bars {
                    title: format!("{app}: pull, start and first response on an empty node"),
                    value_label: "seconds to the first response (median)".into(),
                    categories: images,
                    series,
                    stacked: false,
                },
            );
        }
    }
    let Some(rows) = inputs.load.as_ref().filter(|rows| !rows.is_empty()) else {
        return;
    };
    for app in first_seen(rows.iter().map(|r| r.app.as_str())) {
        let mine: Vec<_> = rows.iter().filter(|r| r.app == app).collect();
        let mut images = first_seen(mine.iter().map(|r| r.image.as_str()));
        images.sort();
        let length = mine.iter().map(|r| r.second + 1).max().unwrap_or(0);
        let series = images
            .iter()
            .map(|image| {
                let values = (0..length)
                    .map(|second| {
                        median(
                            mine.iter()
                                .filter(|r| &r.image == image && r.second == second)
                                .map(|r| r.requests as f64 / 1000.0)
                                .collect(),
                        )
                    })
                    .collect();
                (image.clone(), values)
            })
            .collect();
        charts.add(
            format!("load-{app}"),
            Lines {
                title: format!("{app}: requests per second from ready under a fixed load"),
                y_label: "thousand requests per second (median of rounds)".into(),
                x_labels: (0..length).map(|s| s.to_string()).collect(),
                series,
                marks: Vec::new(),
            },
        );
    }
}
