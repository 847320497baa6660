//! Channel connectors. Each one speaks one channel's real API; the flows reach them through
//! [`crate::connector::Connector`].

pub mod rest;
