//! Plots of a run directory, drawn with plotters from the exported files (so any run can be
//! redrawn later): sizes per image (uncompressed, gzip, zstd), owned against shared layers,
//! start-up distributions per image (cold and warm), start-up phases, size against start-up,
//! and trends over nightly runs from a history file. SVG needs no font file; PNG text needs
//! a TrueType font ([`find_font`]).

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use plotters::coord::Shift;
use plotters::prelude::*;

use crate::results::rows::{self, HistoryRow};
use crate::results::run_data::{
    read_csv, RunDataError, SharingRow, SizeRow, StartupRow, StartupRunRow,
};

/// A plot file format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// Scalable vector graphics.
    Svg,
    /// Portable network graphics (needs a font).
    Png,
}

impl Format {
    fn extension(self) -> &'static str {
        match self {
            Format::Svg => "svg",
            Format::Png => "png",
        }
    }
}

/// How to draw.
#[derive(Debug, Clone)]
pub struct PlotOptions {
    /// Formats to write.
    pub formats: Vec<Format>,
    /// A TrueType font file for PNG text (default: [`find_font`]'s search).
    pub font: Option<PathBuf>,
}

/// One plot drawn.
#[derive(Debug, Clone, PartialEq)]
pub struct Drawn {
    /// Its name (the file stem), e.g. `sizes`.
    pub name: String,
    /// The files written, one per format.
    pub files: Vec<PathBuf>,
    /// Its title.
    pub title: String,
}

/// What [`plot_run`] or [`plot_trend`] drew and what it skipped.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PlotOutcome {
    /// Plots drawn.
    pub drawn: Vec<Drawn>,
    /// Plots skipped: name and reason (e.g. the run has no start-up results).
    pub skipped: Vec<(String, String)>,
}

/// Why plotting failed.
#[derive(Debug, thiserror::Error)]
pub enum PlotError {
    /// An input file is unreadable or lacks a column.
    #[error(transparent)]
    Data(#[from] RunDataError),
    /// No font for PNG text.
    #[error("no TrueType font for PNG text; tried {tried}. Install Debian's fonts-dejavu-core, set R2R_FONT to a .ttf file, or draw SVG only (--format svg)")]
    NoFont {
        /// The paths tried.
        tried: String,
    },
    /// The font file is not a usable font.
    #[error("{path}: not a usable TrueType font")]
    BadFont {
        /// The file.
        path: PathBuf,
    },
    /// Drawing or writing a file failed.
    #[error("drawing {path}: {message}")]
    Draw {
        /// The file being drawn.
        path: PathBuf,
        /// The backend's message.
        message: String,
    },
}

const SYSTEM_FONTS: &[&str] = &[
    "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/TTF/DejaVuSans.ttf",
    "/usr/share/fonts/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/truetype/liberation/LiberationSans-Regular.ttf",
];

fn any_ttf(directory: &Path, depth: usize) -> Option<PathBuf> {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(directory)
        .ok()?
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .collect();
    entries.sort();
    if let Some(file) = entries
        .iter()
        .find(|p| p.extension().is_some_and(|e| e.eq_ignore_ascii_case("ttf")))
    {
        return Some(file.clone());
    }
    if depth == 0 {
        return None;
    }
    entries
        .iter()
        .filter(|p| p.is_dir())
        .find_map(|p| any_ttf(p, depth - 1))
}

/// Finds a TrueType font for PNG text: `explicit`, else the `R2R_FONT` variable, else common
/// system paths (Debian's fonts-dejavu-core first), else any `.ttf` under /usr/share/fonts.
pub fn find_font(explicit: Option<&Path>) -> Result<PathBuf, PlotError> {
    if let Some(path) = explicit {
        return if path.is_file() {
            Ok(path.to_path_buf())
        } else {
            Err(PlotError::NoFont {
                tried: path.display().to_string(),
            })
        };
    }
    let mut tried = Vec::new();
    if let Some(path) = std::env::var_os("R2R_FONT").map(PathBuf::from) {
        if path.is_file() {
            return Ok(path);
        }
        tried.push(format!("R2R_FONT={}", path.display()));
    }
    for path in SYSTEM_FONTS {
        if Path::new(path).is_file() {
            return Ok(PathBuf::from(path));
        }
        tried.push(path.to_string());
    }
    if let Some(path) = any_ttf(Path::new("/usr/share/fonts"), 3) {
        return Ok(path);
    }
    tried.push("any .ttf under /usr/share/fonts".into());
    Err(PlotError::NoFont {
        tried: tried.join(", "),
    })
}

/// Finds a font as [`find_font`] does and makes it plotters' "sans-serif" for this process,
/// for drawing done outside r2r's own plots (criterion's charts in the benchmarks): plotters
/// is built here to draw text with fonts given to it, not with system ones. Returns the font.
pub fn use_font(explicit: Option<&Path>) -> Result<PathBuf, PlotError> {
    let path = find_font(explicit)?;
    register(&path)?;
    Ok(path)
}

static FONT: OnceLock<Result<PathBuf, String>> = OnceLock::new();

/// Registers the font once per process; later calls reuse the first font.
fn register(path: &Path) -> Result<(), PlotError> {
    let result = FONT.get_or_init(|| {
        let bytes = std::fs::read(path).map_err(|e| e.to_string())?;
        let bytes: &'static [u8] = Box::leak(bytes.into_boxed_slice());
        plotters::style::register_font("sans-serif", FontStyle::Normal, bytes)
            .map_err(|_| "invalid font".to_string())?;
        Ok(path.to_path_buf())
    });
    result.as_ref().map(|_| ()).map_err(|_| PlotError::BadFont {
        path: path.to_path_buf(),
    })
}

/// A plot, as data; [`render`] draws it on any backend.
#[derive(Debug, Clone)]
enum Chart {
    /// Horizontal bars per category, grouped or stacked.
    Bars {
        title: String,
        value_label: String,
        categories: Vec<String>,
        series: Vec<(String, Vec<f64>)>,
        stacked: bool,
    },
    /// Distributions per category: points, box (quartiles), whiskers (min..max), median.
    Strips {
        title: String,
        value_label: String,
        categories: Vec<String>,
        samples: Vec<Vec<f64>>,
        colours: Vec<usize>,
        legend: Vec<(String, usize)>,
    },
    /// Estimates with their intervals per category, against a reference value (drawn as a
    /// vertical line): a point at the estimate, a bar from low to high.
    Intervals {
        title: String,
        value_label: String,
        categories: Vec<String>,
        /// (low, estimate, high) per category.
        intervals: Vec<(f64, f64, f64)>,
        colours: Vec<usize>,
        legend: Vec<(String, usize)>,
        reference: f64,
    },
    /// Labelled points.
    Scatter {
        title: String,
        x_label: String,
        y_label: String,
        points: Vec<(String, f64, f64)>,
    },
    /// Lines over an index (runs).
    Lines {
        title: String,
        y_label: String,
        x_labels: Vec<String>,
        series: Vec<(String, Vec<Option<f64>>)>,
        /// Vertical marks before an index with their label (where the .NET version changed).
        marks: Vec<(usize, String)>,
    },
}

const PALETTE: [RGBColor; 8] = [
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
    RGBColor(214, 39, 40),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
    RGBColor(227, 119, 194),
    RGBColor(127, 127, 127),
];

fn colour(index: usize) -> RGBColor {
    PALETTE[index % PALETTE.len()]
}

fn upper(values: impl Iterator<Item = f64>) -> f64 {
    let max = values.filter(|v| v.is_finite()).fold(0.0f64, f64::max);
    if max <= 0.0 {
        1.0
    } else {
        max * 1.12
    }
}

fn label_width(categories: &[String]) -> u32 {
    (categories
        .iter()
        .map(|c| c.chars().count())
        .max()
        .unwrap_or(4) as u32
        * 8
        + 20)
        .clamp(60, 420)
}

/// Maps a category axis value to its label when it sits on a category.
fn category_label(categories: &[String], value: f64) -> String {
    let index = value.round();
    if (value - index).abs() < 0.01 && index >= 0.0 {
        categories.get(index as usize).cloned().unwrap_or_default()
    } else {
        String::new()
    }
}

type DrawResult = Result<(), String>;

fn render<DB: DrawingBackend>(root: DrawingArea<DB, Shift>, chart: &Chart) -> DrawResult {
    root.fill(&WHITE).map_err(|e| e.to_string())?;
    match chart {
        Chart::Bars {
            title,
            value_label,
            categories,
            series,
            stacked,
        } => {
            let n = categories.len();
            let max = if *stacked {
                upper((0..n).map(|i| {
                    series
                        .iter()
                        .map(|(_, v)| v.get(i).copied().unwrap_or(0.0))
                        .sum()
                }))
            } else {
                upper(series.iter().flat_map(|(_, v)| v.iter().copied()))
            };
            let mut plot = ChartBuilder::on(&root)
                .caption(title, ("sans-serif", 22))
                .margin(15)
                .x_label_area_size(45)
                .y_label_area_size(label_width(categories))
                .build_cartesian_2d(0.0..max, -0.5..(n as f64 - 0.5))
                .map_err(|e| e.to_string())?;
            let formatter = |y: &f64| category_label(categories, *y);
            plot.configure_mesh()
                .disable_y_mesh()
                .y_labels(n.max(1))
                .y_label_formatter(&formatter)
                .x_desc(value_label.as_str())
                .label_style(("sans-serif", 13))
                .draw()
                .map_err(|e| e.to_string())?;
            let groups = series.len().max(1) as f64;
            for (s, (name, values)) in series.iter().enumerate() {
                let fill = colour(s).filled();
                let bars = values.iter().enumerate().map(|(i, value)| {
                    let (low, high, left) = if *stacked {
                        let below: f64 = series[..s]
                            .iter()
                            .map(|(_, v)| v.get(i).copied().unwrap_or(0.0))
                            .sum();
                        (i as f64 - 0.35, i as f64 + 0.35, below)
                    } else {
                        let width = 0.8 / groups;
                        let top = i as f64 - 0.4 + width * s as f64;
                        (top, top + width * 0.92, 0.0)
                    };
                    Rectangle::new([(left, low), (left + value.max(0.0), high)], fill)
                });
                plot.draw_series(bars)
                    .map_err(|e| e.to_string())?
                    .label(name.as_str())
                    .legend(move |(x, y)| {
                        Rectangle::new([(x, y - 5), (x + 12, y + 5)], colour(s).filled())
                    });
            }
            plot.configure_series_labels()
                .position(SeriesLabelPosition::LowerRight)
                .background_style(WHITE.mix(0.85))
                .border_style(BLACK)
                .label_font(("sans-serif", 13))
                .draw()
                .map_err(|e| e.to_string())?;
        }
        Chart::Strips {
            title,
            value_label,
            categories,
            samples,
            colours,
            legend,
        } => {
            let n = categories.len();
            let max = upper(samples.iter().flat_map(|s| s.iter().copied()));
            let mut plot = ChartBuilder::on(&root)
                .caption(title, ("sans-serif", 22))
                .margin(15)
                .x_label_area_size(45)
                .y_label_area_size(label_width(categories))
                .build_cartesian_2d(0.0..max, -0.5..(n as f64 - 0.5))
                .map_err(|e| e.to_string())?;
            let formatter = |y: &f64| category_label(categories, *y);
            plot.configure_mesh()
                .disable_y_mesh()
                .y_labels(n.max(1))
                .y_label_formatter(&formatter)
                .x_desc(value_label.as_str())
                .label_style(("sans-serif", 13))
                .draw()
                .map_err(|e| e.to_string())?;
            for (i, values) in samples.iter().enumerate() {
                if values.is_empty() {
                    continue;
                }
                let mut sorted = values.clone();
                sorted.sort_by(f64::total_cmp);
                let q = |p: f64| crate::measure::stats::quantile(&sorted, p);
                let y = i as f64;
                let c = colour(colours.get(i).copied().unwrap_or(0));
                let elements: Vec<DynElement<'static, DB, (f64, f64)>> = vec![
                    PathElement::new(
                        vec![(sorted[0], y), (sorted[sorted.len() - 1], y)],
                        c.stroke_width(1),
                    )
                    .into_dyn(),
                    Rectangle::new(
                        [(q(0.25), y - 0.25), (q(0.75), y + 0.25)],
                        c.mix(0.25).filled(),
                    )
                    .into_dyn(),
                    Rectangle::new(
                        [(q(0.25), y - 0.25), (q(0.75), y + 0.25)],
                        c.stroke_width(1),
                    )
                    .into_dyn(),
                    PathElement::new(
                        vec![(q(0.5), y - 0.32), (q(0.5), y + 0.32)],
                        BLACK.stroke_width(3),
                    )
                    .into_dyn(),
                ];
                plot.draw_series(elements).map_err(|e| e.to_string())?;
                // Points spread vertically in a fixed pattern so that equal values stay visible.
                let points = values.iter().enumerate().map(|(k, v)| {
                    Circle::new(
                        (*v, y - 0.18 + 0.36 * ((k * 7 % 11) as f64 / 10.0)),
                        3,
                        c.filled(),
                    )
                });
                plot.draw_series(points).map_err(|e| e.to_string())?;
            }
            for (name, index) in legend {
                let c = colour(*index);
                plot.draw_series(std::iter::empty::<Circle<(f64, f64), i32>>())
                    .map_err(|e| e.to_string())?
                    .label(name.as_str())
                    .legend(move |(x, y)| Circle::new((x + 6, y), 4, c.filled()));
            }
            plot.configure_series_labels()
                .position(SeriesLabelPosition::LowerLeft)
                .background_style(WHITE.mix(0.85))
                .border_style(BLACK)
                .label_font(("sans-serif", 13))
                .draw()
                .map_err(|e| e.to_string())?;
        }
        Chart::Intervals {
            title,
            value_label,
            categories,
            intervals,
            colours,
            legend,
            reference,
        } => {
            let n = categories.len();
            let values = intervals
                .iter()
                .flat_map(|(low, mid, high)| [*low, *mid, *high])
                .chain([*reference])
                .filter(|v| v.is_finite());
            let (min, max) = values.fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), v| {
                (a.min(v), b.max(v))
            });
            let pad = ((max - min) * 0.08).max(0.005);
            let mut plot = ChartBuilder::on(&root)
                .caption(title, ("sans-serif", 22))
                .margin(15)
                .x_label_area_size(45)
                .y_label_area_size(label_width(categories))
                .build_cartesian_2d((min - pad)..(max + pad), -0.5..(n as f64 - 0.5))
                .map_err(|e| e.to_string())?;
            let formatter = |y: &f64| category_label(categories, *y);
            plot.configure_mesh()
                .disable_y_mesh()
                .y_labels(n.max(1))
                .y_label_formatter(&formatter)
                .x_desc(value_label.as_str())
                .label_style(("sans-serif", 13))
                .draw()
                .map_err(|e| e.to_string())?;
            plot.draw_series(std::iter::once(PathElement::new(
                vec![(*reference, -0.5), (*reference, n as f64 - 0.5)],
                BLACK.mix(0.6).stroke_width(1),
            )))
            .map_err(|e| e.to_string())?;
            for (i, (low, mid, high)) in intervals.iter().enumerate() {
                let y = i as f64;
                let c = colour(colours.get(i).copied().unwrap_or(0));
                let mut elements: Vec<DynElement<'static, DB, (f64, f64)>> = Vec::new();
                if low.is_finite() && high.is_finite() {
                    elements.push(
                        PathElement::new(vec![(*low, y), (*high, y)], c.stroke_width(3)).into_dyn(),
                    );
                    for end in [*low, *high] {
                        elements.push(
                            PathElement::new(
                                vec![(end, y - 0.2), (end, y + 0.2)],
                                c.stroke_width(2),
                            )
                            .into_dyn(),
                        );
                    }
                }
                if mid.is_finite() {
                    elements.push(Circle::new((*mid, y), 5, c.filled()).into_dyn());
                }
                plot.draw_series(elements).map_err(|e| e.to_string())?;
            }
            for (name, index) in legend {
                let c = colour(*index);
                plot.draw_series(std::iter::empty::<Circle<(f64, f64), i32>>())
                    .map_err(|e| e.to_string())?
                    .label(name.as_str())
                    .legend(move |(x, y)| Circle::new((x + 6, y), 4, c.filled()));
            }
            plot.configure_series_labels()
                .position(SeriesLabelPosition::LowerRight)
                .background_style(WHITE.mix(0.85))
                .border_style(BLACK)
                .label_font(("sans-serif", 13))
                .draw()
                .map_err(|e| e.to_string())?;
        }
        Chart::Scatter {
            title,
            x_label,
            y_label,
            points,
        } => {
            let x_max = upper(points.iter().map(|p| p.1));
            let y_max = upper(points.iter().map(|p| p.2));
            let mut plot = ChartBuilder::on(&root)
                .caption(title, ("sans-serif", 22))
                .margin(15)
                .x_label_area_size(45)
                .y_label_area_size(80)
                .build_cartesian_2d(0.0..x_max, 0.0..y_max)
                .map_err(|e| e.to_string())?;
            plot.configure_mesh()
                .x_desc(x_label.as_str())
                .y_desc(y_label.as_str())
                .label_style(("sans-serif", 13))
                .draw()
                .map_err(|e| e.to_string())?;
            plot.draw_series(points.iter().enumerate().map(|(i, (name, x, y))| {
                EmptyElement::at((*x, *y))
                    + Circle::new((0, 0), 5, colour(i).filled())
                    + Text::new(name.clone(), (7, -14), ("sans-serif", 12))
            }))
            .map_err(|e| e.to_string())?;
        }
        Chart::Lines {
            title,
            y_label,
            x_labels,
            series,
            marks,
        } => {
            let n = x_labels.len().max(1);
            let max = upper(series.iter().flat_map(|(_, v)| v.iter().flatten().copied()));
            let mut plot = ChartBuilder::on(&root)
                .caption(title, ("sans-serif", 22))
                .margin(15)
                .x_label_area_size(45)
                .y_label_area_size(80)
                .build_cartesian_2d(-0.5..(n as f64 - 0.5), 0.0..max)
                .map_err(|e| e.to_string())?;
            let formatter = |x: &f64| category_label(x_labels, *x);
            plot.configure_mesh()
                .x_labels(n.min(8))
                .x_label_formatter(&formatter)
                .y_desc(y_label.as_str())
                .label_style(("sans-serif", 13))
                .draw()
                .map_err(|e| e.to_string())?;
            for (s, (name, values)) in series.iter().enumerate() {
                let c = colour(s);
                let points: Vec<(f64, f64)> = values
                    .iter()
                    .enumerate()
                    .filter_map(|(i, v)| v.map(|v| (i as f64, v)))
                    .collect();
                plot.draw_series(LineSeries::new(points.clone(), c.stroke_width(2)))
                    .map_err(|e| e.to_string())?
                    .label(name.as_str())
                    .legend(move |(x, y)| {
                        PathElement::new(vec![(x, y), (x + 14, y)], c.stroke_width(2))
                    });
                plot.draw_series(points.into_iter().map(|p| Circle::new(p, 3, c.filled())))
                    .map_err(|e| e.to_string())?;
            }
            let grey = RGBColor(110, 110, 110);
            for (index, label) in marks {
                let x = *index as f64 - 0.5;
                plot.draw_series(std::iter::once(PathElement::new(
                    vec![(x, 0.0), (x, max)],
                    grey.stroke_width(1),
                )))
                .map_err(|e| e.to_string())?;
                plot.draw_series(std::iter::once(Text::new(
                    label.clone(),
                    (x, max * 0.97),
                    ("sans-serif", 12).into_font().color(&grey),
                )))
                .map_err(|e| e.to_string())?;
            }
            plot.configure_series_labels()
                .position(SeriesLabelPosition::LowerLeft)
                .background_style(WHITE.mix(0.85))
                .border_style(BLACK)
                .label_font(("sans-serif", 13))
                .draw()
                .map_err(|e| e.to_string())?;
        }
    }
    root.present().map_err(|e| e.to_string())
}

fn chart_height(chart: &Chart) -> u32 {
    match chart {
        Chart::Bars { categories, .. }
        | Chart::Strips { categories, .. }
        | Chart::Intervals { categories, .. } => {
            (categories.len() as u32 * 38 + 160).clamp(400, 1800)
        }
        _ => 600,
    }
}

fn chart_title(chart: &Chart) -> String {
    match chart {
        Chart::Bars { title, .. }
        | Chart::Strips { title, .. }
        | Chart::Intervals { title, .. }
        | Chart::Scatter { title, .. }
        | Chart::Lines { title, .. } => title.clone(),
    }
}

fn write_chart(
    chart: &Chart,
    name: &str,
    out_dir: &Path,
    formats: &[Format],
) -> Result<Drawn, PlotError> {
    let size = (1100, chart_height(chart));
    let mut files = Vec::new();
    for format in formats {
        let path = out_dir.join(format!("{name}.{}", format.extension()));
        // Drawn beside the final name and renamed into place: never half a plot.
        let partial = out_dir.join(format!(".{name}.partial.{}", format.extension()));
        let result = match format {
            Format::Svg => render(SVGBackend::new(&partial, size).into_drawing_area(), chart),
            Format::Png => render(
                BitMapBackend::new(&partial, size).into_drawing_area(),
                chart,
            ),
        }
        .and_then(|()| std::fs::rename(&partial, &path).map_err(|error| error.to_string()));
        if let Err(message) = result {
            let _ = std::fs::remove_file(&partial);
            return Err(PlotError::Draw {
                path: path.clone(),
                message,
            });
        }
        files.push(path);
    }
    Ok(Drawn {
        name: name.to_string(),
        files,
        title: chart_title(chart),
    })
}

fn prepare_fonts(options: &PlotOptions) -> Result<(), PlotError> {
    // Text needs a font for its layout in both formats; PNG cannot go without one, SVG draws
    // text without measuring it precisely when none is found.
    match find_font(options.font.as_deref()) {
        Ok(path) => register(&path),
        Err(error) if options.formats.contains(&Format::Png) => Err(error),
        Err(_) => Ok(()),
    }
}

const MBYTES: f64 = 1e6;

/// The charts a run directory's files allow, with the reasons for those it does not.
/// Named charts, and skipped plots with their reasons.
type Charts = (Vec<(String, Chart)>, Vec<(String, String)>);

fn run_charts(run_dir: &Path) -> Result<Charts, PlotError> {
    let sizes: Option<Vec<SizeRow>> = read_csv(
        &run_dir.join("sizes.csv"),
        crate::results::run_data::SIZE_COLUMNS,
    )?;
    let sharing: Option<Vec<SharingRow>> = read_csv(
        &run_dir.join("sharing.csv"),
        crate::results::run_data::SHARING_COLUMNS,
    )?;
    let runs: Option<Vec<StartupRunRow>> = read_csv(
        &run_dir.join("startup-runs.csv"),
        crate::results::run_data::STARTUP_RUN_COLUMNS,
    )?;
    let summary: Option<Vec<StartupRow>> = read_csv(
        &run_dir.join("startup.csv"),
        crate::results::run_data::STARTUP_COLUMNS,
    )?;
    let mut charts = Vec::new();
    let mut skipped = Vec::new();
    let no = |name: &str, why: &str, skipped: &mut Vec<(String, String)>| {
        skipped.push((name.to_string(), why.to_string()))
    };

    match sizes.as_ref().filter(|rows| !rows.is_empty()) {
        Some(rows) => charts.push((
            "sizes".to_string(),
            Chart::Bars {
                title: "Image sizes".into(),
                value_label: "MB (10^6 bytes)".into(),
                categories: rows.iter().map(|r| r.image.clone()).collect(),
                series: vec![
                    (
                        "uncompressed".into(),
                        rows.iter()
                            .map(|r| r.content_bytes as f64 / MBYTES)
                            .collect(),
                    ),
                    (
                        "gzip -6 (registry)".into(),
                        rows.iter().map(|r| r.gzip_bytes as f64 / MBYTES).collect(),
                    ),
                    (
                        "zstd -3".into(),
                        rows.iter().map(|r| r.zstd_bytes as f64 / MBYTES).collect(),
                    ),
                ],
                stacked: false,
            },
        )),
        None => no("sizes", "no sizes.csv in the run", &mut skipped),
    }
    let shared: Vec<&SharingRow> = sharing
        .iter()
        .flatten()
        .filter(|r| r.set == "all" && r.figure == "gzip")
        .collect();
    if shared.is_empty() {
        no(
            "sharing",
            "no sharing.csv rows for the set 'all'",
            &mut skipped,
        );
    } else {
        charts.push((
            "sharing".to_string(),
            Chart::Bars {
                title: "Owned and shared layers per image (gzip)".into(),
                value_label: "MB (10^6 bytes), gzip".into(),
                categories: shared.iter().map(|r| r.image.clone()).collect(),
                series: vec![
                    (
                        "owned (no other image has it)".into(),
                        shared
                            .iter()
                            .map(|r| r.owned_bytes as f64 / MBYTES)
                            .collect(),
                    ),
                    (
                        "shared".into(),
                        shared
                            .iter()
                            .map(|r| r.shared_bytes as f64 / MBYTES)
                            .collect(),
                    ),
                ],
                stacked: true,
            },
        ));
    }
    // Runs recorded before the anatomy existed have none: nothing to say.
    if let Some(rows) = crate::measure::anatomy::read(run_dir)?.filter(|rows| !rows.is_empty()) {
        let groups = crate::measure::anatomy::image_groups(&rows);
        charts.push((
            "anatomy".to_string(),
            Chart::Bars {
                title: "Where the bytes go".into(),
                value_label: "MB (10^6 bytes), uncompressed files".into(),
                categories: groups.iter().map(|(image, _)| image.clone()).collect(),
                series: crate::measure::anatomy::GROUPS
                    .iter()
                    .enumerate()
                    .map(|(index, name)| {
                        (
                            name.to_string(),
                            groups
                                .iter()
                                .map(|(_, bytes)| bytes[index] as f64 / MBYTES)
                                .collect(),
                        )
                    })
                    .collect(),
                stacked: true,
            },
        ));
    }
    let runs: Vec<StartupRunRow> = runs
        .unwrap_or_default()
        .into_iter()
        .filter(|r| r.ok && r.total_ms.is_some())
        .collect();
    if runs.is_empty() {
        no(
            "startup",
            "no successful runs in startup-runs.csv",
            &mut skipped,
        );
    }
    let mut apps: Vec<String> = runs.iter().map(|r| r.app.name().to_string()).collect();
    apps.sort();
    apps.dedup();
    for app in &apps {
        let mut images: Vec<String> = Vec::new();
        for run in runs.iter().filter(|r| r.app.name() == app) {
            if !images.contains(&run.image) {
                images.push(run.image.clone());
            }
        }
        // Times, and beside them what the container did underneath (the same strips: each
        // image cold and warm).
        let phases: &[(&str, &str, &str, &str)] = &[
            (
                "",
                "total_ms",
                if app == "console" {
                    "create to exit"
                } else {
                    "create to first HTTP 200"
                },
                "ms",
            ),
            (
                "-time-to-main",
                "time_to_main_ms",
                "start request to Main, on the monotonic clock",
                "ms",
            ),
            (
                "-first-request",
                "first_request_ms",
                "one request once ready",
                "ms",
            ),
            (
                "-read",
                "read_bytes",
                "bytes read from disk (cgroup)",
                "MB (10^6 bytes)",
            ),
            (
                "-major-faults",
                "major_faults",
                "major page faults (cgroup)",
                "faults",
            ),
            (
                "-peak-memory",
                "peak_memory_bytes",
                "peak memory (cgroup, page cache included)",
                "MB (10^6 bytes)",
            ),
        ];
        for (suffix, column, what, unit) in phases {
            let mut categories = Vec::new();
            let mut samples = Vec::new();
            let mut colours = Vec::new();
            for image in &images {
                for (index, cache) in ["cold", "warm"].iter().enumerate() {
                    let values: Vec<f64> = runs
                        .iter()
                        .filter(|r| &r.image == image && r.cache.name() == *cache)
                        .filter_map(|r| phase_value(r, column))
                        .collect();
                    if !values.is_empty() {
                        categories.push(format!("{image} ({cache})"));
                        samples.push(values);
                        colours.push(index);
                    }
                }
            }
            if samples.is_empty() {
                continue;
            }
            charts.push((
                format!("startup-{app}{suffix}"),
                Chart::Strips {
                    title: format!("Start-up of the {app} app: {what}"),
                    value_label: format!("{unit} (box: quartiles, line: min to max, bar: median)"),
                    categories,
                    samples,
                    colours,
                    legend: vec![("cold cache".into(), 0), ("warm cache".into(), 1)],
                },
            ));
        }
    }
    let summary = summary.unwrap_or_default();
    let totals: Vec<&StartupRow> = summary.iter().filter(|r| r.phase == "total").collect();
    if totals.is_empty() {
        no("startup-phases", "no startup.csv in the run", &mut skipped);
    } else {
        let median = |image: &str, cache: &str, phase: &str| {
            summary
                .iter()
                .find(|r| r.image == image && r.cache == cache && r.phase == phase)
                .map(|r| r.median_ms)
                .unwrap_or(0.0)
        };
        charts.push((
            "startup-phases".to_string(),
            Chart::Bars {
                title: "Start-up phases (medians)".into(),
                value_label: "ms".into(),
                categories: totals
                    .iter()
                    .map(|r| format!("{} ({})", r.image, r.cache))
                    .collect(),
                series: ["create", "start_to_ready", "first_request"]
                    .iter()
                    .map(|phase| {
                        (
                            phase.replace('_', " "),
                            totals
                                .iter()
                                .map(|r| median(&r.image, &r.cache, phase))
                                .collect(),
                        )
                    })
                    .collect(),
                stacked: true,
            },
        ));
    }
    // The paired speed-up of every image against its baseline, with its 95% interval.
    let speedups: Vec<&StartupRow> = totals
        .iter()
        .copied()
        .filter(|r| r.image != r.baseline && r.paired_speedup.is_some())
        .collect();
    if speedups.is_empty() {
        no(
            "startup-speedup",
            "no paired comparison in startup.csv",
            &mut skipped,
        );
    } else {
        charts.push((
            "startup-speedup".to_string(),
            Chart::Intervals {
                title: "Start-up speed-up against the baseline, paired by round".into(),
                value_label: "times faster (geometric mean of per-round ratios, 95% interval; line: no difference)".into(),
                categories: speedups
                    .iter()
                    .map(|r| format!("{} vs {} ({})", r.image, r.baseline, r.cache))
                    .collect(),
                intervals: speedups
                    .iter()
                    .map(|r| {
                        (
                            r.paired_ci95_low.unwrap_or(f64::NAN),
                            r.paired_speedup.unwrap_or(f64::NAN),
                            r.paired_ci95_high.unwrap_or(f64::NAN),
                        )
                    })
                    .collect(),
                colours: speedups
                    .iter()
                    .map(|r| usize::from(r.cache == "warm"))
                    .collect(),
                legend: vec![("cold cache".into(), 0), ("warm cache".into(), 1)],
                reference: 1.0,
            },
        ));
    }
    let points: Vec<(String, f64, f64)> = sizes
        .iter()
        .flatten()
        .filter_map(|size| {
            let warm = summary
                .iter()
                .find(|r| r.image == size.image && r.phase == "total" && r.cache == "warm")?;
            Some((
                size.image.clone(),
                size.gzip_bytes as f64 / MBYTES,
                warm.median_ms,
            ))
        })
        .collect();
    if points.is_empty() {
        no(
            "size-vs-startup",
            "no image has both a size and a warm start-up",
            &mut skipped,
        );
    } else {
        charts.push((
            "size-vs-startup".to_string(),
            Chart::Scatter {
                title: "Compressed size against warm start-up".into(),
                x_label: "gzip MB (10^6 bytes)".into(),
                y_label: "median warm start-up, ms".into(),
                points,
            },
        ));
    }
    Ok((charts, skipped))
}

fn phase_value(run: &StartupRunRow, column: &str) -> Option<f64> {
    match column {
        "time_to_main_ms" => run.time_to_main_ms,
        "first_request_ms" => run.first_request_ms,
        "read_bytes" => run.read_bytes.map(|b| b as f64 / MBYTES),
        "major_faults" => run.major_faults.map(|f| f as f64),
        "peak_memory_bytes" => run.peak_memory_bytes.map(|b| b as f64 / MBYTES),
        _ => run.total_ms,
    }
}

/// Draws every plot the run directory's files allow into `out_dir`.
pub fn plot_run(
    run_dir: &Path,
    out_dir: &Path,
    options: &PlotOptions,
) -> Result<PlotOutcome, PlotError> {
    let (charts, skipped) = run_charts(run_dir)?;
    prepare_fonts(options)?;
    let mut outcome = PlotOutcome {
        drawn: Vec::new(),
        skipped,
    };
    for (name, chart) in &charts {
        outcome
            .drawn
            .push(write_chart(chart, name, out_dir, &options.formats)?);
    }
    Ok(outcome)
}

/// Where the .NET version changes along runs (`versions[i]`: run `i`'s version, empty when
/// unknown): `(i, "10.0.14 → 10.0.15")` for each run on another version than the last known.
pub fn version_marks(versions: &[String]) -> Vec<(usize, String)> {
    let mut marks = Vec::new();
    let mut last: Option<&str> = None;
    for (index, version) in versions.iter().enumerate() {
        if version.is_empty() {
            continue;
        }
        if let Some(previous) = last.filter(|previous| previous != version) {
            marks.push((index, format!(".NET {previous} → {version}")));
        }
        last = Some(version);
    }
    marks
}

/// Trend plots from a history CSV (`run_id,image,metric,value,dotnet`, as `compare
/// --history` writes it): one plot per metric, one line per image over the runs in run-id
/// order, a vertical mark where the runs' .NET version changed.
pub fn plot_trend(
    history_csv: &Path,
    out_dir: &Path,
    options: &PlotOptions,
) -> Result<PlotOutcome, PlotError> {
    let rows: Vec<HistoryRow> =
        read_csv(history_csv, rows::HISTORY_COLUMNS)?.ok_or_else(|| RunDataError::Io {
            path: history_csv.to_path_buf(),
            source: std::io::Error::new(std::io::ErrorKind::NotFound, "no such history file"),
        })?;
    prepare_fonts(options)?;
    let mut runs: Vec<&str> = rows.iter().map(|r| r.run_id.as_str()).collect();
    runs.sort();
    runs.dedup();
    // A run's versions: one, or several when it merges machines on different versions.
    let versions: Vec<String> = runs
        .iter()
        .map(|run| {
            let mut versions: Vec<&str> = rows
                .iter()
                .filter(|r| r.run_id == *run && !r.dotnet.is_empty())
                .map(|r| r.dotnet.as_str())
                .collect();
            versions.sort();
            versions.dedup();
            versions.join(", ")
        })
        .collect();
    let marks = version_marks(&versions);
    let mut metrics: Vec<&str> = rows.iter().map(|r| r.metric.as_str()).collect();
    metrics.sort();
    metrics.dedup();
    let mut outcome = PlotOutcome::default();
    for metric in metrics {
        let mut images: Vec<&str> = rows
            .iter()
            .filter(|r| r.metric == metric)
            .map(|r| r.image.as_str())
            .collect();
        images.sort();
        images.dedup();
        let bytes = metric.ends_with("_bytes");
        let series = images
            .iter()
            .map(|image| {
                let values = runs
                    .iter()
                    .map(|run| {
                        rows.iter()
                            .find(|r| r.run_id == *run && r.image == *image && r.metric == metric)
                            .map(|r| if bytes { r.value / MBYTES } else { r.value })
                    })
                    .collect();
                (image.to_string(), values)
            })
            .collect();
        let chart = Chart::Lines {
            title: format!("Trend: {metric}"),
            y_label: if bytes {
                "MB (10^6 bytes)".into()
            } else {
                "ms".into()
            },
            x_labels: runs.iter().map(|r| r.to_string()).collect(),
            series,
            marks: marks.clone(),
        };
        let name = format!("trend-{}", metric.replace('_', "-"));
        outcome
            .drawn
            .push(write_chart(&chart, &name, out_dir, &options.formats)?);
    }
    if outcome.drawn.is_empty() {
        outcome.skipped.push((
            "trend".into(),
            format!("{} has no rows", history_csv.display()),
        ));
    }
    Ok(outcome)
}
