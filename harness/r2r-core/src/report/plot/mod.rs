//! Plots of a run directory, drawn with plotters from the exported files (so any run can be
//! redrawn later): sizes per image (uncompressed, gzip, zstd), owned against shared layers,
//! where the bytes go, start-up distributions per image (cold and warm), start-up phases, the
//! paired speed-up, size against start-up, and trends over nightly runs from a history file.
//! SVG needs no font file; PNG text needs a TrueType font ([`find_font`]).
//!
//! Each chart has its module, which makes it from the run's rows; the chart kinds (bars,
//! distributions, intervals, points, lines) draw through the axes, legend, colours and files
//! of `canvas`.

mod anatomy;
mod answer;
mod bars;
mod canvas;
mod deploy;
mod distributions;
mod phases;
mod sharing;
mod size_vs_startup;
mod sizes;
mod speedup;
mod trend;

use std::path::{Path, PathBuf};

use plotters::coord::Shift;
use plotters::prelude::{DrawingArea, DrawingBackend};

use crate::measure::anatomy::AnatomyRow;
use crate::results::rows::{self, HistoryRow};
use crate::results::run_data::{
    read_csv, RunDataError, SharingRow, SizeRow, StartupRow, StartupRunRow,
};
use answer::Tradeoff;
use bars::Bars;
use canvas::{prepare_fonts, DrawResult, Figure};
use distributions::Strips;
use size_vs_startup::Scatter;
use speedup::Intervals;
use trend::Lines;

pub use canvas::{find_font, use_font};
pub use trend::version_marks;

/// A plot file format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// Scalable vector graphics (no font file needed).
    Svg,
    /// Portable network graphics (needs a TrueType font: R2R_FONT, --font or Debian's
    /// fonts-dejavu-core).
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

/// How to draw (also the options of `r2r plot`).
#[derive(Debug, Clone, clap::Args)]
pub struct PlotOptions {
    /// Formats to write.
    #[arg(
        long = "format",
        value_name = "FORMAT",
        value_delimiter = ',',
        default_value = "svg,png"
    )]
    pub formats: Vec<Format>,
    /// A TrueType font file for PNG text (default: R2R_FONT, then the system's DejaVu Sans).
    #[arg(long)]
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

/// The legend of charts with a row per image and cache mode: cold rows in colour 0, warm in 1.
const CACHE_LEGEND: [&str; 2] = ["cold cache", "warm cache"];

/// The files of a run directory the plots are drawn from (`None` when the run has none).
#[derive(Debug, Default)]
struct Inputs {
    /// `sizes.csv`.
    sizes: Option<Vec<SizeRow>>,
    /// `sharing.csv`.
    sharing: Option<Vec<SharingRow>>,
    /// `startup-runs.csv`.
    runs: Option<Vec<StartupRunRow>>,
    /// `startup.csv`.
    summary: Option<Vec<StartupRow>>,
    /// `anatomy.csv`.
    anatomy: Option<Vec<AnatomyRow>>,
    /// `answer.csv`.
    answer: Option<Vec<crate::results::answer_file::AnswerRow>>,
    /// `node.csv`.
    node: Option<Vec<crate::results::node_file::NodeRow>>,
    /// `load.csv`.
    load: Option<Vec<crate::results::load_file::LoadSecondRow>>,
}

/// Reads the files of `run_dir` the plots are drawn from.
fn load_inputs(run_dir: &Path) -> Result<Inputs, PlotError> {
    let run = crate::results::RunDir::new(run_dir);
    Ok(Inputs {
        sizes: run.read_rows::<SizeRow>()?,
        sharing: run.read_rows::<SharingRow>()?,
        runs: run.read_rows::<StartupRunRow>()?,
        summary: run.read_rows::<StartupRow>()?,
        anatomy: crate::measure::anatomy::read(run_dir)?,
        answer: run.read_rows()?,
        node: run.read_rows()?,
        load: run.read_rows()?,
    })
}

/// A chart of any kind.
#[derive(Debug, Clone)]
enum Chart {
    /// Horizontal bars.
    Bars(Bars),
    /// Distributions.
    Strips(Strips),
    /// Estimates with intervals.
    Intervals(Intervals),
    /// Labelled points.
    Scatter(Scatter),
    /// Points with intervals around 1.
    Tradeoff(Tradeoff),
    /// Lines over an index.
    Lines(Lines),
}

/// `From` each chart kind into [`Chart`], and [`Figure`] for [`Chart`] by its kind's.
macro_rules! chart_kinds {
    ($($kind:ident),*) => {
        $(impl From<$kind> for Chart {
            fn from(chart: $kind) -> Self {
                Chart::$kind(chart)
            }
        })*

        impl Figure for Chart {
            fn title(&self) -> &str {
                match self {
                    $(Chart::$kind(chart) => chart.title(),)*
                }
            }

            fn height(&self) -> u32 {
                match self {
                    $(Chart::$kind(chart) => chart.height(),)*
                }
            }

            fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult {
                match self {
                    $(Chart::$kind(chart) => chart.draw(root),)*
                }
            }
        }
    };
}

chart_kinds!(Bars, Strips, Intervals, Scatter, Tradeoff, Lines);

/// The charts a run's files allow, in drawing order, and the plots they do not allow with
/// the reason.
#[derive(Debug, Default)]
struct Charts {
    /// Named charts.
    drawn: Vec<(String, Chart)>,
    /// Plot names and why each is not drawn.
    skipped: Vec<(String, String)>,
}

impl Charts {
    fn add(&mut self, name: impl Into<String>, chart: impl Into<Chart>) {
        self.drawn.push((name.into(), chart.into()));
    }

    fn skip(&mut self, name: &str, why: &str) {
        self.skipped.push((name.to_string(), why.to_string()));
    }
}

/// Every chart the inputs allow, in the order they are drawn.
fn run_charts(inputs: &Inputs) -> Charts {
    let mut charts = Charts::default();
    sizes::add(inputs, &mut charts);
    sharing::add(inputs, &mut charts);
    anatomy::add(inputs, &mut charts);
    distributions::add(inputs, &mut charts);
    phases::add(inputs, &mut charts);
    speedup::add(inputs, &mut charts);
    size_vs_startup::add(inputs, &mut charts);
    answer::add(inputs, &mut charts);
    deploy::add(inputs, &mut charts);
    charts
}

/// Draws every plot the run directory's files allow into `out_dir`.
pub fn plot_run(
    run_dir: &Path,
    out_dir: &Path,
    options: &PlotOptions,
) -> Result<PlotOutcome, PlotError> {
    let charts = run_charts(&load_inputs(run_dir)?);
    prepare_fonts(options)?;
    let mut outcome = PlotOutcome {
        drawn: Vec::new(),
        skipped: charts.skipped,
    };
    for (name, chart) in &charts.drawn {
        outcome
            .drawn
            .push(canvas::write(chart, name, out_dir, &options.formats)?);
    }
    Ok(outcome)
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
    let mut outcome = PlotOutcome::default();
    for (name, chart) in trend::charts(&rows) {
        outcome
            .drawn
            .push(canvas::write(&chart, &name, out_dir, &options.formats)?);
    }
    if outcome.drawn.is_empty() {
        outcome.skipped.push((
            "trend".into(),
            format!("{} has no rows", history_csv.display()),
        ));
    }
    Ok(outcome)
}
