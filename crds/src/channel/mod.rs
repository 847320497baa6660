//! Channels and flows, and the types a channel's descriptor is made of ([`ChannelDescriptor`]: flows, operations
//! with published limits, Secret keys, endpoint rules). Each channel's crate states its descriptor; the crate
//! `channel-registry` lists them. (The catalogue functions still on [`ChannelKind`] are the former copy of the
//! same data, kept until every reader looks channels up in the registry.)

use std::fmt;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

mod descriptor;
mod limits;

pub use descriptor::*;
pub use limits::*;

/// The kind of sales channel a `Marketplace` connects to.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "kebab-case")]
pub enum ChannelKind {
    /// Amazon Selling Partner API.
    Amazon,
    /// Walmart Marketplace API.
    Walmart,
    /// A Shopify store, through the Admin GraphQL API.
    Shopify,
    /// A marketplace operated on Mirakl (seller API).
    Mirakl,
    /// eBay Sell APIs.
    Ebay,
    /// A B2B portal or any channel without a dedicated connector, through configurable REST endpoints.
    Rest,
    /// An EDI trading partner exchanging ANSI X12 004010 documents.
    EdiX12,
}

impl ChannelKind {
    pub const ALL: [ChannelKind; 7] = [
        ChannelKind::Amazon,
        ChannelKind::Walmart,
        ChannelKind::Shopify,
        ChannelKind::Mirakl,
        ChannelKind::Ebay,
        ChannelKind::Rest,
        ChannelKind::EdiX12,
    ];

    /// The name used in manifests (`spec.channel`).
    pub fn as_str(self) -> &'static str {
        match self {
            ChannelKind::Amazon => "amazon",
            ChannelKind::Walmart => "walmart",
            ChannelKind::Shopify => "shopify",
            ChannelKind::Mirakl => "mirakl",
            ChannelKind::Ebay => "ebay",
            ChannelKind::Rest => "rest",
            ChannelKind::EdiX12 => "edi-x12",
        }
    }

    /// The flows this channel's connector can run.
    pub fn supported_flows(self) -> &'static [Flow] {
        use Flow::*;
        match self {
            ChannelKind::Amazon | ChannelKind::Walmart => &[
                Inventory,
                Price,
                Catalog,
                Orders,
                Shipments,
                Returns,
                Settlements,
            ],
            ChannelKind::Shopify => &[Inventory, Price, Catalog, Orders, Shipments, Returns],
            ChannelKind::Mirakl => &[Inventory, Price, Orders, Shipments, Returns, Settlements],
            ChannelKind::Ebay => &[Inventory, Price, Orders, Shipments, Settlements],
            ChannelKind::Rest => &[Inventory, Price, Catalog, Orders, Shipments],
            ChannelKind::EdiX12 => &[Inventory, Orders, Shipments, Invoices],
        }
    }

    pub fn supports(self, flow: Flow) -> bool {
        self.supported_flows().contains(&flow)
    }

    /// The connector operations of this channel, with the limits the vendor publishes for them.
    pub fn operations(self) -> &'static [Operation] {
        match self {
            ChannelKind::Amazon => AMAZON,
            ChannelKind::Walmart => WALMART,
            ChannelKind::Shopify => SHOPIFY,
            ChannelKind::Mirakl => MIRAKL,
            ChannelKind::Ebay => EBAY,
            ChannelKind::Rest => REST,
            ChannelKind::EdiX12 => EDI_X12,
        }
    }

    pub fn operation(self, name: &str) -> Option<&'static Operation> {
        self.operations().iter().find(|op| op.name == name)
    }
}

impl fmt::Display for ChannelKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A business flow between the ERP and a channel.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "camelCase")]
pub enum Flow {
    /// Sellable quantity per SKU, ERP to channel.
    Inventory,
    /// Selling price per SKU, ERP to channel.
    Price,
    /// Product content (title, description, images, attributes), ERP to channel.
    Catalog,
    /// Orders and their cancellations, channel to ERP; acknowledgements back to the channel.
    Orders,
    /// Shipment confirmations with carrier and tracking, ERP to channel.
    Shipments,
    /// Returns and refunds, channel to ERP.
    Returns,
    /// Settlement (payout) reports, channel to ERP, matched to orders and refunds.
    Settlements,
    /// Invoices, ERP to channel (EDI 810).
    Invoices,
}

/// Which way a flow's records travel.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Direction {
    /// ERP to channel.
    Outbound,
    /// Channel to ERP.
    Inbound,
}

impl Flow {
    pub const ALL: [Flow; 8] = [
        Flow::Inventory,
        Flow::Price,
        Flow::Catalog,
        Flow::Orders,
        Flow::Shipments,
        Flow::Returns,
        Flow::Settlements,
        Flow::Invoices,
    ];

    /// The name used in manifests and NATS subjects.
    pub fn as_str(self) -> &'static str {
        match self {
            Flow::Inventory => "inventory",
            Flow::Price => "price",
            Flow::Catalog => "catalog",
            Flow::Orders => "orders",
            Flow::Shipments => "shipments",
            Flow::Returns => "returns",
            Flow::Settlements => "settlements",
            Flow::Invoices => "invoices",
        }
    }

    pub fn direction(self) -> Direction {
        match self {
            Flow::Inventory | Flow::Price | Flow::Catalog | Flow::Shipments | Flow::Invoices => {
                Direction::Outbound
            }
            Flow::Orders | Flow::Returns | Flow::Settlements => Direction::Inbound,
        }
    }
}

impl fmt::Display for Flow {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

const SP_LISTINGS: &str = "SP-API Listings Items 2021-08-01 usage plan";
const SP_FEEDS: &str = "SP-API Feeds 2021-06-30 usage plan";
const SP_ORDERS: &str = "SP-API Orders usage plan";
const SP_REPORTS: &str = "SP-API Reports 2021-06-30 usage plan";

static AMAZON: &[Operation] = &[
    op(
        "patchListingsItem",
        "inventory, price and catalog updates per SKU",
        per_second(5, 5, SP_LISTINGS),
        Some(1),
    ),
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
    op(
        "createFeed",
        "bulk updates: submitting a feed",
        decimal_per_second(83, 15, SP_FEEDS),
        Some(25_000),
    ),
    op(
        "jsonListingsFeed",
        "bulk updates: JSON_LISTINGS_FEED submissions per region",
        per_period(
            5,
            300_000,
            5,
            "JSON_LISTINGS_FEED: 5 submissions per 5 minutes per region",
        ),
        Some(25_000),
    ),
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
    op(
        "searchOrders",
        "orders: incremental polling (Orders 2026-01-01)",
        decimal_per_second(56, 20, SP_ORDERS),
        Some(100),
    ),
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
];

const WALMART_FEEDS: &str = "Walmart Marketplace feed limits";

static WALMART: &[Operation] = &[
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
    op(
        "bulkInventoryFeed",
        "inventory in bulk (feed type inventory, 5 MB)",
        per_period(10, 3_600_000, 10, WALMART_FEEDS),
        None,
    ),
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
];

static SHOPIFY: &[Operation] = &[op(
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
)];

const MIRAKL_FREQ: &str = "Mirakl seller API: maximum usage once per minute";

static MIRAKL: &[Operation] = &[
    op(
        "STO01",
        "inventory: stock import (CSV)",
        per_period(1, 60_000, 1, MIRAKL_FREQ),
        None,
    ),
    op(
        "STO02",
        "inventory: stock import status",
        per_period(
            1,
            15_000,
            1,
            "Mirakl seller API: STO02 maximum usage once every 15 seconds",
        ),
        None,
    ),
    op(
        "STO03",
        "inventory: stock import error report",
        per_period(1, 60_000, 1, MIRAKL_FREQ),
        None,
    ),
    op(
        "OF24",
        "price: offers update",
        per_period(1, 60_000, 1, MIRAKL_FREQ),
        None,
    ),
    op(
        "OR11",
        "orders: listing (pages of 100)",
        per_period(1, 60_000, 1, MIRAKL_FREQ),
        Some(100),
    ),
    op("OR21", "orders: accept or refuse lines", None, None),
    op("OR23", "shipments: tracking", None, None),
    op("OR24", "shipments: confirm shipment", None, None),
    op("OR29", "orders: cancel an accepted order", None, None),
    op("RT11", "returns: listing", None, Some(100)),
    op("TL02", "settlements: transaction logs", None, Some(100)),
];

static EBAY: &[Operation] = &[
    op("getToken", "OAuth refresh-token grant", None, None),
    op(
        "bulkUpdatePriceQuantity",
        "inventory and price, 25 SKUs per call",
        None,
        Some(25),
    ),
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
];

static REST: &[Operation] = &[
    op(
        "inventory",
        "inventory batches to the portal's endpoint",
        None,
        None,
    ),
    op(
        "price",
        "price batches to the portal's endpoint",
        None,
        None,
    ),
    op(
        "catalog",
        "catalog batches to the portal's endpoint",
        None,
        None,
    ),
    op("orders", "orders: polling the portal", None, None),
    op("shipments", "shipment callbacks to the portal", None, None),
];

static EDI_X12: &[Operation] = &[
    op(
        "send",
        "putting an interchange on the transport (SFTP or folder)",
        None,
        None,
    ),
    op(
        "receive",
        "listing and fetching interchanges from the transport",
        None,
        None,
    ),
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_channel_has_operations_and_flows() {
        for kind in ChannelKind::ALL {
            assert!(!kind.operations().is_empty(), "{kind} has no operations");
            assert!(!kind.supported_flows().is_empty(), "{kind} has no flows");
        }
    }

    #[test]
    fn operation_names_are_unique_per_channel() {
        for kind in ChannelKind::ALL {
            let mut names: Vec<_> = kind.operations().iter().map(|op| op.name).collect();
            let before = names.len();
            names.sort_unstable();
            names.dedup();
            assert_eq!(before, names.len(), "{kind} repeats an operation name");
        }
    }

    #[test]
    fn amazon_decimal_rates_compare_exactly() {
        let search = ChannelKind::Amazon
            .operation("searchOrders")
            .and_then(|op| op.published);
        let Some(search) = search else {
            panic!("searchOrders has a published limit")
        };
        // One request every 180 s is 0.00556/s: within 0.0056/s.
        assert!(!search.is_exceeded_by(1, 180_000));
        // One every 170 s is 0.00588/s: above it.
        assert!(search.is_exceeded_by(1, 170_000));
        assert_eq!(search.describe_rate(), "0.0056/s");
    }

    #[test]
    fn buckets_never_exceed_the_published_rate() {
        for kind in ChannelKind::ALL {
            for op in kind.operations() {
                let Some(limit) = op.published else { continue };
                let (requests, per) = limit.as_bucket();
                assert!(!limit.is_exceeded_by(requests, per), "{kind} {}", op.name);
                assert!(requests <= limit.burst, "{kind} {}", op.name);
                // Within 0.01% of the published rate.
                assert!(
                    limit.is_exceeded_by(requests * 10_001, per * 10_000),
                    "{kind} {} too slow",
                    op.name
                );
            }
        }
        let bucket = |op: &str| {
            ChannelKind::Amazon
                .operation(op)
                .and_then(|op| op.published)
                .map(|l| l.as_bucket())
        };
        // 0.0056/s, burst 20: exactly 7 per 1,250 s.
        assert_eq!(bucket("searchOrders"), Some((7, 1_250_000)));
        // 0.0083/s, burst 15: 83 per 10,000 s does not fit the burst, so one per 120.482 s.
        assert_eq!(bucket("createFeed"), Some((1, 120_482)));
    }
}
