//! The `tradewind.dev/v1alpha1` API.

mod channel_mapping;
mod common;
mod erp_connection;
mod marketplace;
mod rate_limit_policy;
mod sync_schedule;

pub use channel_mapping::*;
pub use common::*;
pub use erp_connection::*;
pub use marketplace::*;
pub use rate_limit_policy::*;
pub use sync_schedule::*;
