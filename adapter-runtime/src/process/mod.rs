//! The process layer between a channel and the ERP, as declared on the `Marketplace`: which stock a channel
//! may sell (outbound) and which orders may go to the ERP, enriched with what the ERP needs (inbound).
//! Pure functions: the flows call them with the record and the marketplace's settings.

mod inventory_policy;
mod orders;

pub use inventory_policy::listed_quantity;
pub use orders::{OrderRejection, SkuLookup, check_order};
