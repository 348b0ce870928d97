//! What to run and what can be built: scenario files, the experiment catalog, the names they
//! give the engine, and the plan they expand into.

pub mod app;
pub mod catalog;
pub mod dotnet_version;
pub mod emulation;
pub mod feed;
pub mod framework;
pub mod limits;
/// Checks of the names scenario and catalog files give the engine and command lines.
pub mod names;
pub mod plan;
pub mod platform;
pub mod recipe;
pub mod recording;
pub mod scenario;
pub mod startup;
pub mod toml_source;
