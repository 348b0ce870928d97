//! r2r-core: the library behind the `r2r` binary.
//!
//! A pipeline of plain data: a scenario file ([`scenario`]) and the experiment catalog
//! ([`catalog`]) expand into a [`plan`] of images; [`dotnet`] prepares what goes into them on
//! the host (NuGet packs, crossgen2 composites, published apps); [`context`] packs each image's
//! build context; [`build`] drives the [`engine`] (the one trait in front of the Docker
//! Engine API); [`verify`] proves each image is what its variant claims, reading image
//! archives with [`archive`] and assembly headers with [`readytorun`].
//!
//! Where it stops: measurements, reports and plots live in their own modules as they come.

pub mod archive;
pub mod build;
pub mod catalog;
pub mod children;
pub mod compare;
pub mod containers;
pub mod context;
pub mod dotnet;
pub mod engine;
pub mod hash;
/// Checks of the names scenario and catalog files give the engine and command lines.
pub mod names;
pub mod plan;
pub mod plot;
pub mod probe;
pub mod readytorun;
pub mod registry;
pub mod report;
pub mod results;
pub mod rundata;
pub mod runinfo;
pub mod scenario;
pub mod size_report;
pub mod sizes;
pub mod startup;
pub mod stats;
pub mod toml_source;
pub mod verify;
