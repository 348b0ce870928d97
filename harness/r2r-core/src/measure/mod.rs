//! Measurements of built images: sizes (per layer, per image, per set, and what a registry
//! stores), container start-up, and the statistics both report.

pub mod anatomy;
pub mod cache;
pub mod layers;
pub mod load;
pub mod node;
pub mod paired;
pub mod record;
pub mod registry;
pub mod sizes;
pub mod startup;
pub mod stats;
