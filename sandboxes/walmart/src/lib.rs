//! Sandbox of the Walmart Marketplace API: same paths, bodies, errors and published limits.
