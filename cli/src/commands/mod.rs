pub mod diff;
pub mod dlq;
pub mod render;
pub mod status;
pub mod trace;
pub mod up;
pub mod validate;
