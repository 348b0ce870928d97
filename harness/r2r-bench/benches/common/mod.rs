//! What every benchmark binary shares.

use criterion::Criterion;

/// Criterion's settings for r2r's benchmarks: its charts drawn with the font r2r's plots use
/// (plotters here draws text only with a font given to it), or no charts, with a note, when
/// this machine has none (the figures are printed and saved either way).
pub fn criterion() -> Criterion {
    match r2r_core::report::plot::use_font(None) {
        Ok(_) => Criterion::default(),
        Err(error) => {
            eprintln!("no charts: {error}");
            Criterion::default().without_plots()
        }
    }
}
