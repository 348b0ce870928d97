//! Small helpers shared by the stages.

pub mod children;
pub mod hash;
pub mod probe;
