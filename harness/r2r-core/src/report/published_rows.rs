//! The published size reports, row for row, beside this run's images.
//!
//! `results/published/figures.csv` holds the published rows; `results/published/rows.csv`
//! says which of our images (`variant:role`) rebuilds each row. Both are compiled in, so a
//! report of any run directory can print them. A row of a composite variant is printed
//! once more per composite recipe of the run.

use crate::report::compare::PublishedFigure;
use crate::report::{Table, MB};
use crate::results::run_data::{RunData, SizeRow};

use crate::results::published::{FIGURES_TEXT as FIGURES, ROWS_TEXT as ROWS};

/// One published row and the image of ours that rebuilds it.
#[derive(Debug, Clone, PartialEq, serde::Deserialize)]
struct RowMapping {
    /// Published figure id.
    figure: String,
    /// Our image: `variant:role`.
    ours: String,
}

fn parse<T: serde::de::DeserializeOwned>(text: &str) -> Vec<T> {
    csv::Reader::from_reader(text.as_bytes())
        .deserialize()
        .filter_map(Result::ok)
        .collect()
}

/// Our size row for `variant:role`.
fn ours<'a>(data: &'a RunData, selector: &str) -> Option<&'a SizeRow> {
    let (variant, role) = selector.split_once(':')?;
    data.sizes
        .iter()
        .find(|row| row.role == role && row.variants.split(';').any(|v| v == variant))
}

fn cell(value: Option<f64>, decimals: usize) -> String {
    value
        .map(|value| format!("{value:.decimals$}"))
        .unwrap_or_default()
}

/// The published table of the run's .NET major version (`.NET 8 size report`, `.NET 10 size
/// report`) row for row with our figures beside it; `None` when the run has none of the
/// images its rows map to.
pub fn table(data: &RunData) -> Option<Table> {
    let figures: Vec<PublishedFigure> = parse(FIGURES);
    let mappings: Vec<RowMapping> = parse(ROWS);
    let report = format!(".NET {} size report", data.plan.scenario.dotnet_major());
    let rows: Vec<(&PublishedFigure, &RowMapping)> = figures
        .iter()
        .filter(|figure| figure.report == report)
        .filter_map(|figure| {
            mappings
                .iter()
                .find(|mapping| mapping.figure == figure.id)
                .map(|mapping| (figure, mapping))
        })
        .collect();
    let (baseline_figure, baseline_mapping) = *rows.first()?;
    let our_baseline = ours(data, &baseline_mapping.ours);
    let mut table_rows = Vec::new();
    for (figure, mapping) in &rows {
        let (variant, role) = mapping.ours.split_once(':').unwrap_or((&mapping.ours, ""));
        let mut selectors = vec![(mapping.ours.clone(), String::new())];
        let prefix = format!("{variant}.");
        for name in &data.plan.scenario.variants {
            if let Some(recipe) = name.strip_prefix(&prefix) {
                selectors.push((format!("{name}:{role}"), recipe.to_string()));
            }
        }
        for (selector, recipe) in selectors {
            let row = ours(data, &selector);
            if row.is_none() && !recipe.is_empty() {
                continue;
            }
            let published_ratio = figure
                .compressed_mb
                .zip(baseline_figure.compressed_mb)
                .map(|(a, b)| a / b);
            let our_ratio = row
                .zip(our_baseline)
                .map(|(a, b)| a.gzip_bytes as f64 / b.gzip_bytes as f64);
            let name = if recipe.is_empty() {
                figure.row.clone()
            } else {
                format!("{} (recipe {recipe})", figure.row)
            };
            table_rows.push(vec![
                name,
                figure.base.clone(),
                cell(figure.uncompressed_mb, 1),
                cell(figure.compressed_mb, 2),
                row.map(|r| r.image.clone())
                    .unwrap_or_else(|| format!("not in this run ({selector})")),
                cell(row.map(|r| r.content_bytes as f64 / MB), 1),
                cell(row.map(|r| r.gzip_bytes as f64 / MB), 2),
                cell(published_ratio, 3),
                cell(our_ratio, 3),
            ]);
        }
    }
    if !rows
        .iter()
        .any(|(_, mapping)| ours(data, &mapping.ours).is_some())
    {
        return None;
    }
    Some(Table {
        title: format!("The published {report}, row for row"),
        note: format!(
            "Each published row (results/published/{}) beside the image of this run that rebuilds it (results/published/{}); sizes in MB (10^6 bytes), compressed = gzip; ratios are compressed sizes against the first row ({}), theirs and ours. Their bases and app differ from ours, so the ratios carry over, the sizes do not.",
            crate::results::published::FIGURES,
            crate::results::published::ROWS,
            baseline_figure.row
        ),
        headers: [
            "Published row",
            "Published base",
            "Published uncompressed (MB)",
            "Published compressed (MB)",
            "Our image",
            "Our uncompressed (MB)",
            "Our compressed (MB)",
            "Published ratio",
            "Our ratio",
        ]
        .map(String::from)
        .to_vec(),
        rows: table_rows,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_mapped_row_names_a_published_figure_and_a_variant() {
        let figures: Vec<PublishedFigure> = parse(FIGURES);
        let mappings: Vec<RowMapping> = parse(ROWS);
        assert_eq!(
            mappings.len(),
            ROWS.lines().count() - 1,
            "every line parses"
        );
        let catalog = crate::model::catalog::Catalog::load(
            &std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../experiments"),
        )
        .unwrap();
        for mapping in &mappings {
            assert!(
                figures.iter().any(|f| f.id == mapping.figure),
                "{}",
                mapping.figure
            );
            let (variant, _) = mapping.ours.split_once(':').unwrap();
            assert!(catalog.variants.contains_key(variant), "{}", mapping.ours);
        }
    }
}
