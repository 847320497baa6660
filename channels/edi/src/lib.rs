//! EDI X12 004010 trading-partner connector (work in progress).
