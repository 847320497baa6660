//! What Tradewind knows about eBay's Sell APIs (`specs/ebay/*.yml`): the flows this connector runs, the
//! operations it calls, the OAuth Secret keys, the production host, and eBay's cap on revisions of one listing
//! a day.

use crds::channel::{
    BaseUrlRule, CalendarDay, ChannelDescriptor, ChannelKind, DefaultBaseUrl, EndpointRules, Flow,
    FlowSupport, Operation, RevisionBudget, SecretKey, SecretNeed, TokenUrl, op,
};

/// Inventory and price: "up to 25 offers ... may be updated with one bulkUpdatePriceQuantity call"
/// (`specs/ebay/ebay-inventory.yml`), one SKU per request, 25 requests per call.
pub const BULK_UPDATE_PRICE_QUANTITY: Operation = op(
    "bulkUpdatePriceQuantity",
    "inventory and price, 25 SKUs per call",
    None,
    Some(25),
);

/// The application's client id.
pub const CLIENT_ID: SecretKey = SecretKey {
    name: "client_id",
    need: SecretNeed::Required,
    what: "the eBay application's client id (App ID), sent to the token endpoint only",
};
/// The application's client secret.
pub const CLIENT_SECRET: SecretKey = SecretKey {
    name: "client_secret",
    need: SecretNeed::Required,
    what: "the eBay application's client secret (Cert ID), sent to the token endpoint only",
};
/// The seller's refresh token.
pub const REFRESH_TOKEN: SecretKey = SecretKey {
    name: "refresh_token",
    need: SecretNeed::Required,
    what: "the seller's user refresh token from eBay's consent flow",
};

pub static DESCRIPTOR: ChannelDescriptor = ChannelDescriptor {
    kind: ChannelKind::Ebay,
    api: "eBay Sell APIs",
    flows: &[
        FlowSupport {
            flow: Flow::Inventory,
            summary: "quantities by bulkUpdatePriceQuantity",
            operations: &["bulkUpdatePriceQuantity"],
        },
        FlowSupport {
            flow: Flow::Price,
            summary: "published fixed-price offers' prices by bulkUpdatePriceQuantity",
            operations: &["bulkUpdatePriceQuantity"],
        },
        FlowSupport {
            flow: Flow::Orders,
            summary: "orders polled by last modification; acceptance needs no call",
            operations: &["getOrders"],
        },
        FlowSupport {
            flow: Flow::Shipments,
            summary: "one shipping fulfillment per package",
            operations: &["createShippingFulfillment"],
        },
        FlowSupport {
            flow: Flow::Settlements,
            summary: "one Settlement per payout, from its transactions",
            operations: &["getTransactions"],
        },
    ],
    operations: &[
        op("getToken", "OAuth refresh-token grant", None, None),
        BULK_UPDATE_PRICE_QUANTITY,
        op("getOrders", "orders: last-modified filter", None, Some(200)),
        op(
            "createShippingFulfillment",
            "shipments: one fulfilment per package",
            None,
            None,
        ),
        op(
            "getTransactions",
            "settlements: finances transactions",
            None,
            Some(1000),
        ),
    ],
    secret_keys: &[CLIENT_ID, CLIENT_SECRET, REFRESH_TOKEN],
    endpoint: EndpointRules {
        base_url: BaseUrlRule {
            what: "the Sell APIs host",
            schemes: &["https", "http"],
            default: DefaultBaseUrl::Fixed("https://api.ebay.com"),
        },
        token_url: TokenUrl::UnderBaseUrl("/identity/v1/oauth2/token"),
        required: &[],
    },
    revision_budget: Some(RevisionBudget {
        per_listing_per_day: 250,
        day: CalendarDay::MarketplaceTimeZone,
        operations: &["bulkUpdatePriceQuantity"],
        source: "eBay Inventory API (specs/ebay/ebay-inventory.yml, bulkUpdatePriceQuantity): \"Each listing can be \
                 revised up to 250 times in one calendar day\"",
    }),
};
