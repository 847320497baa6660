//! The canonical model, version 1: the records every flow carries between the ERP and the channels.
//!
//! Money is a decimal with an ISO currency, never a float; quantities are integers; times are UTC. Every record
//! carries the correlation id of its business transaction. The JSON Schema of each record is generated into
//! `docs/schemas/` (`cargo run -p adapter-runtime --bin schemagen`) and checked for drift by a test.
//!
//! Deserialising checks shapes and types; [`Validate`] checks what a type cannot say (a negative quantity, an
//! order whose lines are in another currency than its total), naming the field and the value.

pub mod builders;
mod ids;
mod money;
mod records;
mod validate;

pub use ids::*;
pub use money::*;
pub use records::*;
pub use validate::*;

/// The version of the canonical model, carried in every CloudEvent's `dataschema`.
pub const MODEL_VERSION: &str = "v1";
