//! Small helpers shared by the stages.

pub mod affinity;
pub mod app_output;
pub mod children;
pub mod hash;
pub mod mapped;
pub mod probe;
pub mod throttle;

/// An error and its causes, joined with `: ` (as `{:#}` of an `anyhow` error shows them).
pub fn error_chain(error: &(dyn std::error::Error + 'static)) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}
