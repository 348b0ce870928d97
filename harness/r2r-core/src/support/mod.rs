//! Small helpers shared by the stages.

pub mod affinity;
pub mod children;
pub mod emulation;
pub mod hash;
pub mod probe;
