//! What every chart draws with: the font, the colours, the axes (categories or values), the
//! legend, and the SVG and PNG files a chart is written to.

use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use plotters::coord::types::RangedCoordf64;
use plotters::coord::Shift;
use plotters::prelude::*;

use super::{Drawn, Format, PlotError, PlotOptions};

/// What drawing returns: the backend's message on failure.
pub(super) type DrawResult = Result<(), String>;

/// A chart's drawing area with its axes: values or category positions (0, 1, 2, ...) on both.
pub(super) type Plot<'a, DB> = ChartContext<'a, DB, Cartesian2d<RangedCoordf64, RangedCoordf64>>;

const SYSTEM_FONTS: &[&str] = &[
    "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/TTF/DejaVuSans.ttf",
    "/usr/share/fonts/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/truetype/liberation/LiberationSans-Regular.ttf",
];

/// The font family every text is drawn in (the font registered under it).
const FAMILY: &str = "sans-serif";
/// Size of a chart's title, in points.
const TITLE_SIZE: u32 = 22;
/// Size of axis labels and legend entries, in points.
const LABEL_SIZE: u32 = 13;
/// Size of text written into the plot (point names, marks), in points.
pub(super) const NOTE_SIZE: u32 = 12;
/// Width of every chart, in pixels.
const WIDTH: u32 = 1100;
/// Height of a chart without category rows, in pixels.
const HEIGHT: u32 = 600;
/// Room left of the plot for value labels, in pixels.
const VALUE_LABEL_ROOM: u32 = 80;
/// Most category labels along the x axis (more would overlap).
const MOST_X_CATEGORY_LABELS: usize = 8;

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
        plotters::style::register_font(FAMILY, FontStyle::Normal, bytes)
            .map_err(|_| "invalid font".to_string())?;
        Ok(path.to_path_buf())
    });
    result.as_ref().map(|_| ()).map_err(|_| PlotError::BadFont {
        path: path.to_path_buf(),
    })
}

/// Registers the font the options ask for. Text needs a font for its layout in both formats;
/// PNG cannot go without one, SVG draws text without measuring it precisely when none is found.
pub(super) fn prepare_fonts(options: &PlotOptions) -> Result<(), PlotError> {
    match find_font(options.font.as_deref()) {
        Ok(path) => register(&path),
        Err(error) if options.formats.contains(&Format::Png) => Err(error),
        Err(_) => Ok(()),
    }
}

/// The font of text written into a plot, in `colour`.
pub(super) fn note_font(colour: &RGBColor) -> TextStyle<'static> {
    (FAMILY, NOTE_SIZE).into_font().color(colour)
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

/// The colour of series (or legend entry) `index`, the palette repeating past its end.
pub(super) fn colour(index: usize) -> RGBColor {
    PALETTE[index % PALETTE.len()]
}

/// The top of a value axis from 0: a little above the largest finite value (1 when there is
/// none above 0).
pub(super) fn upper(values: impl Iterator<Item = f64>) -> f64 {
    let max = values.filter(|v| v.is_finite()).fold(0.0f64, f64::max);
    if max <= 0.0 {
        1.0
    } else {
        max * 1.12
    }
}

/// The height of a chart with one row per category, in pixels.
pub(super) fn rows_height(categories: &[String]) -> u32 {
    (categories.len() as u32 * 38 + 160).clamp(400, 1800)
}

/// Room for the longest category label, in pixels.
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

/// What one axis shows.
pub(super) enum Axis<'a> {
    /// Named categories at 0, 1, 2, ..., each labelled (at most eight labels along x). Rows
    /// of categories up the y axis have no grid lines: their bars and boxes fill them.
    Categories(&'a [String]),
    /// Values over a range, described (with their unit) beside the axis.
    Values {
        /// What the values are, with their unit.
        description: &'a str,
        /// The values the axis spans.
        range: Range<f64>,
    },
}

impl Axis<'_> {
    fn range(&self) -> Range<f64> {
        match self {
            Axis::Categories(labels) => -0.5..(labels.len().max(1) as f64 - 0.5),
            Axis::Values { range, .. } => range.clone(),
        }
    }

    fn labels(&self) -> &[String] {
        match self {
            Axis::Categories(labels) => labels,
            Axis::Values { .. } => &[],
        }
    }

    fn description(&self) -> Option<&str> {
        match self {
            Axis::Categories(_) => None,
            Axis::Values { description, .. } => Some(description),
        }
    }
}

/// Draws the title and both axes with their labels and grid, and
/// returns the plot to draw series in.
pub(super) fn axes<'a, DB: DrawingBackend>(
    root: &'a DrawingArea<DB, Shift>,
    title: &str,
    x: Axis<'_>,
    y: Axis<'_>,
) -> Result<Plot<'a, DB>, String> {
    let y_room = match y {
        Axis::Categories(labels) => label_width(labels),
        Axis::Values { .. } => VALUE_LABEL_ROOM,
    };
    let mut plot = ChartBuilder::on(root)
        .caption(title, (FAMILY, TITLE_SIZE))
        .margin(15)
        .x_label_area_size(45)
        .y_label_area_size(y_room)
        .build_cartesian_2d(x.range(), y.range())
        .map_err(|e| e.to_string())?;
    let x_label = |value: &f64| category_label(x.labels(), *value);
    let y_label = |value: &f64| category_label(y.labels(), *value);
    let mut mesh = plot.configure_mesh();
    mesh.label_style((FAMILY, LABEL_SIZE));
    match &x {
        Axis::Categories(labels) => {
            mesh.x_labels(labels.len().clamp(1, MOST_X_CATEGORY_LABELS))
                .x_label_formatter(&x_label);
        }
        Axis::Values { .. } => {}
    }
    match &y {
        Axis::Categories(labels) => {
            mesh.disable_y_mesh()
                .y_labels(labels.len().max(1))
                .y_label_formatter(&y_label);
        }
        Axis::Values { .. } => {}
    }
    if let Some(description) = x.description() {
        mesh.x_desc(description);
    }
    if let Some(description) = y.description() {
        mesh.y_desc(description);
    }
    mesh.draw().map_err(|e| e.to_string())?;
    Ok(plot)
}

/// The axes of a chart with a row per category: `value_label` over `range` across, the
/// categories down (see [`axes`]).
pub(super) fn row_axes<'a, DB: DrawingBackend>(
    root: &'a DrawingArea<DB, Shift>,
    title: &str,
    value_label: &str,
    range: Range<f64>,
    categories: &[String],
) -> Result<Plot<'a, DB>, String> {
    axes(
        root,
        title,
        Axis::Values {
            description: value_label,
            range,
        },
        Axis::Categories(categories),
    )
}

/// How a legend entry shows its series.
#[derive(Debug, Clone, Copy)]
pub(super) enum Marker {
    /// A filled square (bars).
    Square,
    /// A filled dot (points).
    Dot,
    /// A short line (lines).
    Line,
}

impl Marker {
    fn element<DB: DrawingBackend>(
        self,
        (x, y): (i32, i32),
        colour: RGBColor,
    ) -> DynElement<'static, DB, (i32, i32)> {
        match self {
            Marker::Square => {
                Rectangle::new([(x, y - 5), (x + 12, y + 5)], colour.filled()).into_dyn()
            }
            Marker::Dot => Circle::new((x + 6, y), 4, colour.filled()).into_dyn(),
            Marker::Line => {
                PathElement::new(vec![(x, y), (x + 14, y)], colour.stroke_width(2)).into_dyn()
            }
        }
    }
}

/// Draws the legend in a corner of the plot: one entry per name, in the colours of
/// [`colour`] in order.
pub(super) fn legend<'a, 'e, DB: DrawingBackend + 'a>(
    plot: &mut Plot<'a, DB>,
    names: impl IntoIterator<Item = &'e str>,
    marker: Marker,
    corner: SeriesLabelPosition,
) -> DrawResult {
    for (index, name) in names.into_iter().enumerate() {
        let colour = colour(index);
        plot.draw_series(std::iter::empty::<Circle<(f64, f64), i32>>())
            .map_err(|e| e.to_string())?
            .label(name)
            .legend(move |at| marker.element::<DB>(at, colour));
    }
    plot.configure_series_labels()
        .position(corner)
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .label_font((FAMILY, LABEL_SIZE))
        .draw()
        .map_err(|e| e.to_string())
}

/// A chart that can be drawn on any backend.
pub(super) trait Figure {
    /// Its title.
    fn title(&self) -> &str;
    /// Its height, in pixels (every chart is [`WIDTH`] wide).
    fn height(&self) -> u32 {
        HEIGHT
    }
    /// Draws it on `root`.
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult;
}

fn render<DB: DrawingBackend>(root: DrawingArea<DB, Shift>, figure: &impl Figure) -> DrawResult {
    root.fill(&WHITE).map_err(|e| e.to_string())?;
    figure.draw(&root)?;
    root.present().map_err(|e| e.to_string())
}

/// Writes `figure` as `out_dir/name.<format>` in every format.
pub(super) fn write(
    figure: &impl Figure,
    name: &str,
    out_dir: &Path,
    formats: &[Format],
) -> Result<Drawn, PlotError> {
    let size = (WIDTH, figure.height());
    let mut files = Vec::new();
    for format in formats {
        let path = out_dir.join(format!("{name}.{}", format.extension()));
        // Drawn beside the final name and renamed into place: never half a plot.
        let partial = out_dir.join(format!(".{name}.partial.{}", format.extension()));
        let result = match format {
            Format::Svg => render(SVGBackend::new(&partial, size).into_drawing_area(), figure),
            Format::Png => render(
                BitMapBackend::new(&partial, size).into_drawing_area(),
                figure,
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
        title: figure.title().to_string(),
    })
}
