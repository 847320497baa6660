//! What Tradewind knows about Amazon's Selling Partner API: the flows this connector runs, the operations it
//! calls with the usage plans Amazon publishes (`specs/amazon/*.json`, each operation's "Usage plan" table),
//! the LWA Secret keys and the regional endpoints.

use crds::channel::{
    BaseUrlRule, ChannelDescriptor, ChannelKind, DefaultBaseUrl, EndpointField, EndpointRules,
    Flow, FlowSupport, Operation, RegionalUrl, RequiredField, SecretKey, SecretNeed, TokenUrl,
    decimal_per_second, op, per_period, per_second,
};

const SP_LISTINGS: &str = "SP-API Listings Items 2021-08-01 usage plan";
const SP_FEEDS: &str = "SP-API Feeds 2021-06-30 usage plan";
const SP_ORDERS: &str = "SP-API Orders usage plan";
const SP_REPORTS: &str = "SP-API Reports 2021-06-30 usage plan";

/// One SKU's listing patch (`specs/amazon/listingsItems_2021-08-01.json`: 5/s, burst 5).
pub const PATCH_LISTINGS_ITEM: Operation = op(
    "patchListingsItem",
    "inventory, price and catalog updates per SKU",
    per_second(5, 5, SP_LISTINGS),
    Some(1),
);
/// Submitting a feed (`specs/amazon/feeds_2021-06-30.json`: 0.0083/s, burst 15).
pub const CREATE_FEED: Operation = op(
    "createFeed",
    "bulk updates: submitting a feed",
    decimal_per_second(83, 15, SP_FEEDS),
    Some(25_000),
);
/// JSON_LISTINGS_FEED submissions per region, on top of `createFeed`'s own plan; a feed holds at most 25,000
/// messages (`specs/amazon/listings-feed-schema-v2.json`).
pub const JSON_LISTINGS_FEED: Operation = op(
    "jsonListingsFeed",
    "bulk updates: JSON_LISTINGS_FEED submissions per region",
    per_period(
        5,
        300_000,
        5,
        "JSON_LISTINGS_FEED: 5 submissions per 5 minutes per region",
    ),
    Some(25_000),
);
/// Polling orders (`specs/amazon/orders_2026-01-01.json`: 0.0056/s, burst 20; pages of at most 100).
pub const SEARCH_ORDERS: Operation = op(
    "searchOrders",
    "orders: incremental polling (Orders 2026-01-01)",
    decimal_per_second(56, 20, SP_ORDERS),
    Some(100),
);

/// The LWA application's client id.
pub const CLIENT_ID: SecretKey = SecretKey {
    name: "client_id",
    need: SecretNeed::Required,
    what: "the Login with Amazon application's client id",
};
/// The LWA application's client secret.
pub const CLIENT_SECRET: SecretKey = SecretKey {
    name: "client_secret",
    need: SecretNeed::Required,
    what: "the Login with Amazon application's client secret",
};
/// The seller's LWA refresh token.
pub const REFRESH_TOKEN: SecretKey = SecretKey {
    name: "refresh_token",
    need: SecretNeed::Required,
    what: "the selling partner's LWA refresh token (from authorizing the application)",
};

const LISTINGS: &[&str] = &[
    "patchListingsItem",
    "createFeedDocument",
    "createFeed",
    "jsonListingsFeed",
    "getFeed",
    "getFeedDocument",
];

pub static DESCRIPTOR: ChannelDescriptor = ChannelDescriptor {
    kind: ChannelKind::Amazon,
    api: "Amazon Selling Partner API",
    flows: &[
        FlowSupport {
            flow: Flow::Inventory,
            summary: "quantities by listing patch or JSON_LISTINGS_FEED",
            operations: LISTINGS,
        },
        FlowSupport {
            flow: Flow::Price,
            summary: "prices by listing patch or JSON_LISTINGS_FEED",
            operations: LISTINGS,
        },
        FlowSupport {
            flow: Flow::Catalog,
            summary: "listing attributes by listing patch or JSON_LISTINGS_FEED",
            operations: LISTINGS,
        },
        FlowSupport {
            flow: Flow::Orders,
            summary: "orders polled by last update; acceptance needs no call",
            operations: &["searchOrders"],
        },
        FlowSupport {
            flow: Flow::Shipments,
            summary: "one shipment confirmation per package",
            operations: &["confirmShipment"],
        },
        FlowSupport {
            flow: Flow::Returns,
            summary: "the returns report (GET_FLAT_FILE_RETURNS_DATA_BY_RETURN_DATE)",
            operations: &["createReport", "getReport", "getReportDocument"],
        },
        FlowSupport {
            flow: Flow::Settlements,
            summary: "settlement reports, reconciled with the orders read",
            operations: &["getReports", "getReport", "getReportDocument", "getOrder"],
        },
    ],
    operations: &[
        PATCH_LISTINGS_ITEM,
        op(
            "getListingsItem",
            "reading a listing's current state",
            per_second(5, 10, SP_LISTINGS),
            None,
        ),
        op(
            "createFeedDocument",
            "bulk updates: upload slot for a JSON_LISTINGS_FEED",
            decimal_per_second(5_000, 15, SP_FEEDS),
            None,
        ),
        CREATE_FEED,
        JSON_LISTINGS_FEED,
        op(
            "getFeed",
            "bulk updates: polling a feed's status",
            per_second(2, 15, SP_FEEDS),
            None,
        ),
        op(
            "getFeedDocument",
            "bulk updates: reading the processing report",
            decimal_per_second(222, 10, SP_FEEDS),
            None,
        ),
        SEARCH_ORDERS,
        op(
            "getOrder",
            "orders: reading one order",
            per_period(1, 2_000, 30, SP_ORDERS),
            None,
        ),
        op(
            "confirmShipment",
            "shipments: confirming a package (Orders v0)",
            per_second(2, 10, SP_ORDERS),
            None,
        ),
        op(
            "getReports",
            "returns and settlements: finding reports",
            decimal_per_second(222, 10, SP_REPORTS),
            None,
        ),
        op(
            "createReport",
            "returns: requesting the returns report",
            decimal_per_second(167, 15, SP_REPORTS),
            None,
        ),
        op(
            "getReport",
            "returns and settlements: polling a report",
            per_second(2, 15, SP_REPORTS),
            None,
        ),
        op(
            "getReportDocument",
            "returns and settlements: downloading a report",
            decimal_per_second(167, 15, SP_REPORTS),
            None,
        ),
    ],
    secret_keys: &[CLIENT_ID, CLIENT_SECRET, REFRESH_TOKEN],
    endpoint: EndpointRules {
        base_url: BaseUrlRule {
            what: "the SP-API host",
            schemes: &["https", "http"],
            default: DefaultBaseUrl::Regional(&[
                RegionalUrl {
                    region: "na",
                    url: "https://sellingpartnerapi-na.amazon.com",
                },
                RegionalUrl {
                    region: "eu",
                    url: "https://sellingpartnerapi-eu.amazon.com",
                },
                RegionalUrl {
                    region: "fe",
                    url: "https://sellingpartnerapi-fe.amazon.com",
                },
            ]),
        },
        token_url: TokenUrl::Fixed("https://api.amazon.com/auth/o2/token"),
        required: &[
            RequiredField {
                field: EndpointField::MarketplaceIds,
                what: "at least one marketplace id in spec.endpoint.marketplaceIds (ATVPDKIKX0DER for amazon.com)",
            },
            RequiredField {
                field: EndpointField::SellerId { max_len: None },
                what: "the selling partner id in spec.endpoint.sellerId",
            },
        ],
    },
    revision_budget: None,
};
