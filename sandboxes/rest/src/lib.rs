//! Sandbox of a B2B REST portal: configurable endpoints, signed order webhooks.
