//! EDI X12 004010 trading-partner connector.

pub mod x12;
