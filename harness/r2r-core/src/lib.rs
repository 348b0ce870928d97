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

pub mod catalog;
pub mod hash;
pub mod plan;
pub mod scenario;
pub mod toml_source;
/// Checks of the names scenario and catalog files give the engine and command lines.
pub mod names;
pub mod engine;
pub mod containers;
pub mod children;
pub mod context;
pub mod archive;
pub mod build;
pub mod dotnet;
pub mod probe;
pub mod readytorun;
pub mod verify;
pub mod sizes;
pub mod registry;
pub mod size_report;
pub mod results;
pub mod stats;
pub mod startup;
pub mod runinfo;
pub mod rundata;
pub mod report;
pub mod compare;
pub mod plot;
