//! The mapping engine: a `ChannelMapping` compiled once into a [`MappingPlan`], applied to every record of its
//! flows.
//!
//! Compiling parses every CEL expression, checks it against the canonical record of its flow (outbound; inbound
//! payloads have no catalogue here and are accepted) and against the value maps, turns value maps and the SKU
//! cross-reference into lookup tables and parses the defaults. Every problem is reported at once, located by its
//! path in the resource ([`CompileError`]). Applying a [`FlowPlan`] to a record parses nothing; a record that
//! cannot be mapped is a [`RecordError`] for the dead-letter stream. `docs/mapping.md` explains how to write
//! mappings.
//!
//! - [`compile`](MappingPlan::compile): spec to plan, collecting errors.
//! - `typecheck`: one expression's check and its `maps.<name>[value]` rewrite.
//! - `catalogue`: the canonical records' fields, from their JSON Schemas.
//! - `functions`: value maps, `sku()` and string functions in CEL.
//! - `evaluate`: a record through a flow's plan.
//! - `shortcut`: constants and plain field reads, evaluated without the interpreter.
//! - `convert`: JSON to CEL values and back.
//! - `target`: dotted target paths.

mod catalogue;
mod compile;
mod convert;
mod error;
mod evaluate;
mod functions;
mod plan;
mod shortcut;
mod suggest;
mod target;
mod typecheck;

pub use error::{CompileError, RecordError, RecordErrorKind};
pub use plan::{FlowPlan, MappingPlan};
