//! Sandbox of the eBay Sell APIs with daily quotas.
