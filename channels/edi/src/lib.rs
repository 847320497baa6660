//! EDI X12 004010 trading-partner connector.

pub mod documents;
pub mod envelope;
pub mod settings;
pub mod state;
pub mod transport;
pub mod x12;
