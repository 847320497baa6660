//! Sandbox of the Shopify Admin GraphQL API with cost accounting and throttle.
