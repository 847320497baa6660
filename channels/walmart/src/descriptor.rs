//! What Tradewind knows about the Walmart Marketplace API: the flows this connector runs, the operations it
//! calls (Walmart publishes per-hour feed limits; its per-call limits depend on the seller and are answered in
//! headers), the client-credentials Secret keys and the production host.

use crds::channel::{
    BaseUrlRule, ChannelDescriptor, ChannelKind, DefaultBaseUrl, EndpointRules, Flow, FlowSupport,
    Operation, SecretKey, SecretNeed, TokenUrl, op, per_period,
};

const WALMART_FEEDS: &str = "Walmart Marketplace feed limits";

/// Inventory by feed (feed type `inventory`, files up to 5 MB): 10 an hour.
pub const BULK_INVENTORY_FEED: Operation = op(
    "bulkInventoryFeed",
    "inventory in bulk (feed type inventory, 5 MB)",
    per_period(10, 3_600_000, 10, WALMART_FEEDS),
    None,
);

/// The API client's id.
pub const CLIENT_ID: SecretKey = SecretKey {
    name: "client_id",
    need: SecretNeed::Required,
    what: "the Walmart API client id (Developer Portal)",
};
/// The API client's secret.
pub const CLIENT_SECRET: SecretKey = SecretKey {
    name: "client_secret",
    need: SecretNeed::Required,
    what: "the Walmart API client secret",
};

pub static DESCRIPTOR: ChannelDescriptor = ChannelDescriptor {
    kind: ChannelKind::Walmart,
    api: "Walmart Marketplace API",
    flows: &[
        FlowSupport {
            flow: Flow::Inventory,
            summary: "quantities per SKU or by inventory feed",
            operations: &[
                "updateInventoryForAnItem",
                "bulkInventoryFeed",
                "getFeedItemStatus",
            ],
        },
        FlowSupport {
            flow: Flow::Price,
            summary: "prices per SKU or by price feed",
            operations: &["updatePrice", "priceBulkUploads", "getFeedItemStatus"],
        },
        FlowSupport {
            flow: Flow::Catalog,
            summary: "item updates by MP_ITEM feed",
            operations: &["itemFeed", "getFeedItemStatus"],
        },
        FlowSupport {
            flow: Flow::Orders,
            summary: "orders polled with nextCursor; acknowledgements and cancellations back",
            operations: &["getAllOrders", "acknowledgeOrders", "cancelOrderLines"],
        },
        FlowSupport {
            flow: Flow::Shipments,
            summary: "tracking and carrier per order line",
            operations: &["shippingUpdates"],
        },
        FlowSupport {
            flow: Flow::Returns,
            summary: "returns polled",
            operations: &["getReturns"],
        },
        FlowSupport {
            flow: Flow::Settlements,
            summary: "the reconciliation report, matched to the orders",
            operations: &["getReconReport"],
        },
    ],
    operations: &[
        op(
            "getToken",
            "client-credentials access token (valid 900 s)",
            None,
            None,
        ),
        op(
            "updateInventoryForAnItem",
            "inventory per SKU",
            None,
            Some(1),
        ),
        BULK_INVENTORY_FEED,
        op(
            "mpInventoryFeed",
            "inventory in bulk (feed type MP_INVENTORY, 1 MB)",
            per_period(50, 3_600_000, 50, WALMART_FEEDS),
            None,
        ),
        op("updatePrice", "price per SKU", None, Some(1)),
        op("priceBulkUploads", "price in bulk by feed", None, None),
        op("itemFeed", "catalog updates by feed", None, None),
        op(
            "getFeedItemStatus",
            "reading a feed's per-item results",
            None,
            None,
        ),
        op(
            "getAllOrders",
            "orders: incremental polling with nextCursor (pages of 200)",
            None,
            Some(200),
        ),
        op(
            "acknowledgeOrders",
            "orders: acknowledgement, required before shipping",
            None,
            None,
        ),
        op(
            "cancelOrderLines",
            "orders: cancellations from the ERP",
            None,
            None,
        ),
        op(
            "shippingUpdates",
            "shipments: tracking and carrier",
            None,
            None,
        ),
        op("getReturns", "returns", None, None),
        op("issueRefund", "returns: refunds", None, None),
        op(
            "getReconReport",
            "settlements: reconciliation report",
            None,
            None,
        ),
    ],
    secret_keys: &[CLIENT_ID, CLIENT_SECRET],
    endpoint: EndpointRules {
        base_url: BaseUrlRule {
            what: "the Marketplace API host",
            schemes: &["https", "http"],
            default: DefaultBaseUrl::Fixed("https://marketplace.walmartapis.com"),
        },
        token_url: TokenUrl::UnderBaseUrl("/v3/token"),
        required: &[],
    },
    revision_budget: None,
};
