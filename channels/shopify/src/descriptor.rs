//! What Tradewind knows about a Shopify store's Admin GraphQL API: the flows this connector runs, its one
//! operation paced by query cost, the access-token Secret key and the store's host.

use crds::channel::{
    BaseUrlRule, ChannelDescriptor, ChannelKind, DefaultBaseUrl, EndpointRules, Flow, FlowSupport,
    LimitUnit, Operation, PublishedLimit, SecretKey, SecretNeed, TokenUrl, op,
};

/// Every Admin GraphQL call. The bucket is the largest plan's (2,000 points a second restored, 20,000 held);
/// a mutation takes at most 250 inputs (`productVariantsBulkUpdate`'s variants, `inventorySetQuantities`'
/// quantities).
pub const GRAPHQL: Operation = op(
    "graphql",
    "every Admin GraphQL call; tokens are query cost points (the ceiling is the largest plan: 2,000/s restore, 20,000 bucket)",
    Some(PublishedLimit {
        requests: 2_000,
        per_millis: 1_000,
        burst: 20_000,
        unit: LimitUnit::CostPoints,
        source: "Shopify Admin GraphQL cost-based limits",
    }),
    Some(250),
);

/// The Admin API access token.
pub const ACCESS_TOKEN: SecretKey = SecretKey {
    name: "access_token",
    need: SecretNeed::Required,
    what: "the Admin API access token (custom app or OAuth), sent as X-Shopify-Access-Token",
};

pub static DESCRIPTOR: ChannelDescriptor = ChannelDescriptor {
    kind: ChannelKind::Shopify,
    api: "Shopify Admin GraphQL API",
    flows: &[
        FlowSupport {
            flow: Flow::Inventory,
            summary: "inventorySetQuantities with compare-and-set",
            operations: &["graphql"],
        },
        FlowSupport {
            flow: Flow::Price,
            summary: "productVariantsBulkUpdate per product",
            operations: &["graphql"],
        },
        FlowSupport {
            flow: Flow::Catalog,
            summary: "not delivered yet",
            operations: &["graphql"],
        },
        FlowSupport {
            flow: Flow::Orders,
            summary: "orders polled by updated_at; rejections and cancellations by orderCancel",
            operations: &["graphql"],
        },
        FlowSupport {
            flow: Flow::Shipments,
            summary: "fulfillmentCreate on the order's open fulfillment orders",
            operations: &["graphql"],
        },
        FlowSupport {
            flow: Flow::Returns,
            summary: "not read yet",
            operations: &["graphql"],
        },
    ],
    operations: &[GRAPHQL],
    secret_keys: &[ACCESS_TOKEN],
    endpoint: EndpointRules {
        base_url: BaseUrlRule {
            what: "the store's URL",
            schemes: &["https", "http"],
            default: DefaultBaseUrl::FromSellerId {
                suffix: ".myshopify.com",
            },
        },
        token_url: TokenUrl::None,
        required: &[],
    },
    revision_budget: None,
};
