//! Shopify Admin GraphQL connector with cost-based throttling.
