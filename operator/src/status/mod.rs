//! Status computation: pure functions from what was observed to the status written.

pub mod conditions;
pub mod flows;
pub mod mapping;
