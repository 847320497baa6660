//! Sandbox of the Amazon Selling Partner API: same paths, bodies, errors and published limits.
