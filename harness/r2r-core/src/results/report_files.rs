//! The report of a run, written into its directory by the report step (`r2r report`):
//! Markdown and HTML, with the same sections.

/// The Markdown report's name in a run directory.
pub const MARKDOWN: &str = "report.md";

/// The HTML report's name in a run directory.
pub const HTML: &str = "report.html";

/// The folder of a run directory with its plots (SVG and PNG), which the report embeds.
pub const PLOTS: &str = "plots";

impl crate::results::run_dir::RunDir {
    /// `report.md`.
    pub fn report_md(&self) -> std::path::PathBuf {
        self.path(MARKDOWN)
    }

    /// `report.html`.
    pub fn report_html(&self) -> std::path::PathBuf {
        self.path(HTML)
    }

    /// The `plots` folder.
    pub fn plots(&self) -> std::path::PathBuf {
        self.path(PLOTS)
    }
}
