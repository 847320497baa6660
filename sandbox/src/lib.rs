//! What every marketplace sandbox shares: published limits enforced server-side ([`quota`]), faults injected
//! on demand ([`faults`]), the calls received ([`recorder`]) and serving with the `/_sandbox/*` control routes
//! ([`server`]). Each channel's sandbox is its own crate under `sandboxes/`.

pub mod faults;
pub mod quota;
pub mod recorder;
pub mod server;

pub use faults::{Fault, FaultPlan, Faults};
pub use quota::ServerBucket;
pub use recorder::{RecordedCall, Recorder, body_value};
pub use server::{Controls, Running, control_routes, serve};
