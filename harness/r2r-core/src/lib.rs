//! r2r-core: the library behind the `r2r` binary.
//!
//! A pipeline of plain data, one folder a stage:
//!
//! - [`model`]: what to run and what can be built — a scenario file and the experiment catalog
//!   expand into a [`model::plan::Plan`] of images.
//! - [`engine`]: the one trait in front of the Docker Engine API, and containers that are never
//!   left behind.
//! - [`build`]: host-side preparation (NuGet packs, crossgen2 composites, published apps),
//!   reproducible build contexts, and building a plan through the engine.
//! - [`inspect`]: reading image archives as streams, classifying assemblies by their
//!   ReadyToRun headers, and proving each image is what its variant claims.
//! - [`measure`]: sizes (per layer, image and set), container start-up, and their statistics.
//! - [`results`]: result files written whole, the run record (`run.json`), and reading a run
//!   directory back.
//! - [`report`]: the report, plots and comparisons, all drawn from exported files.
//! - [`run`]: the pipeline that runs the stages in order and records each step.
//! - [`console`]: the text a terminal shows of each command's outcome.
//! - [`support`]: small helpers shared by the stages (content hashes, child processes, the
//!   loopback HTTP probe).
//!
//! Each module imports only modules listed before it in this order: `support`, `model`,
//! `engine`, `inspect`, `build`, `results`, `measure`, `report`, `run`, `console` (the
//! architecture test checks it). `results` sits below `measure`: the measurements write their
//! rows through the result files' modules, which know nothing of how a row was measured.

pub mod build;
pub mod console;
pub mod engine;
pub mod inspect;
pub mod measure;
pub mod model;
pub mod report;
pub mod results;
pub mod run;
pub mod support;
