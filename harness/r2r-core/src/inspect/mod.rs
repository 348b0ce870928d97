//! Looking inside images: image archives read as streams, assemblies classified by their
//! ReadyToRun headers, and the verification that each image is what its variant claims.

pub mod anatomy;
pub mod archive;
pub mod composite;
mod native_format;
pub mod readytorun;
pub mod verify;
