//! What every marketplace sandbox shares: published limits enforced server-side ([`quota`]), faults injected
//! on demand ([`faults`]), the calls received ([`recorder`]), the channel's specification loaded from
//! `specs/` and every request and answer checked against it ([`spec`], [`strict`]), the deviations found
//! and the test guard that fails on them ([`conformance`]), and serving with the `/_sandbox/*` control routes
//! ([`server`]). Each channel's sandbox is its own crate under `sandboxes/`.

pub mod conformance;
pub mod faults;
pub mod multipart;
pub mod query;
pub mod quota;
pub mod recorder;
pub mod server;
pub mod spec;
pub mod strict;

pub use conformance::{
    CallRef, Conformance, Deviation, KnownDeviation, SemanticRule, Side, Strict, Violation,
};
pub use faults::{Fault, FaultPlan, Faults, InjectedFault};
pub use quota::ServerBucket;
pub use recorder::{RecordedCall, Recorder, body_value};
pub use server::{Controls, Running, control_routes, serve};
pub use spec::{ApiSpec, Erratum, ProseRule, SpecFile, Target};
pub use strict::{Refused, Strictness};
