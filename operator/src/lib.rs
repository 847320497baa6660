//! The Tradewind operator. Rendering (custom resources in, desired objects out) is pure and lives beside the
//! controllers that apply it.

pub mod controller;
pub mod labels;
pub mod leader;
pub mod metrics;
pub mod render;
pub mod schedule;
pub mod settings;
pub mod status;
