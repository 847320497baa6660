//! The consistency check of a local run: a pure function over what the ERP holds (the demo ERP's snapshot,
//! read in one transaction) and what each channel holds (its sandbox's snapshot), so that every fault can be
//! shown by injecting it into a snapshot. It finds, naming the record:
//!
//! - a **lost order**: placed on a channel (not cancelled there), no sales order in the ERP;
//! - a **duplicate**: two sales orders or more for one channel order;
//! - a **stale quantity**: a listing that differs from the ERP's sellable quantity after the marketplace's
//!   inventory policy (or a SKU never listed);
//! - a **stale price**: a listing whose price differs from the ERP's (marketplaces with a price flow);
//! - a **cancellation not applied**: cancelled on the channel while the ERP's sales order stands, or cancelled
//!   in the ERP while the channel's order stands;
//! - an **unconfirmed shipment**: a package the ERP shipped that the channel has not confirmed;
//! - a **missing return or settlement**: one the channel has that the ERP never received (marketplaces with
//!   those flows);
//! - an **unfinished sync run**: a schedule fired whose run failed or never reported.
//!
//! It scales with the catalogue: listings and prices are compared by walking the ERP's and the channel's lists
//! side by side in SKU order, orders and shipments by hash lookups, so the work is linear; channels are
//! checked one at a time, so only one channel's snapshot is held at once; and each list names at most
//! [`NAMED_AT_MOST`] records (with the total counted), so a catalogue that is all stale stays readable.

use std::collections::{HashMap, HashSet};

use adapter_runtime::canonical::{InventoryPosition, LocationStock};
use adapter_runtime::process::listed_quantity;
use chrono::Utc;
use crds::v1alpha1::InventoryFlow;
use demo_erp::{SalesOrder, Snapshot, StockRow};
use rust_decimal::Decimal;

use super::schedules::ScheduleSummary;
use super::summary::{Consistency, PriceMismatch, StockMismatch};

/// Records named per kind of problem at most; the rest are counted.
pub const NAMED_AT_MOST: usize = 100;

/// One SKU as a channel lists it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Listing {
    pub sku: String,
    /// `None`: no quantity was ever set.
    pub quantity: Option<i64>,
    /// `None`: no price was ever set (or the channel keeps none).
    pub price: Option<Decimal>,
}

/// A buyer's order on a channel.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChannelOrder {
    /// As the channel's connector names it (the sales order's channel order id).
    pub id: String,
    /// Cancelled on the channel (by the buyer, the marketplace, or the seller through Tradewind), or refused.
    pub cancelled: bool,
}

/// What a channel holds, as its sandbox tells it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ChannelSnapshot {
    /// Ordered by SKU.
    pub listings: Vec<Listing>,
    pub orders: Vec<ChannelOrder>,
    /// Confirmed packages: order id and package reference (or tracking number, where the channel names no
    /// package).
    pub shipments: Vec<(String, String)>,
    /// Ids of the returns and settlements the channel has (where its sandbox keeps them).
    pub returns: Vec<String>,
    pub settlements: Vec<String>,
}

/// One marketplace to check: its channel's snapshot and what the Marketplace declares.
pub struct MarketplaceSnapshot<'a> {
    pub name: &'a str,
    /// The inventory flow's policy; `None`: no inventory flow, quantities are not compared.
    pub inventory: Option<&'a InventoryFlow>,
    /// The marketplace has a price flow: prices are compared.
    pub prices: bool,
    /// The marketplace has a returns (settlements) flow: the channel's returns (settlements) must be in the
    /// ERP.
    pub returns: bool,
    pub settlements: bool,
    pub channel: ChannelSnapshot,
}

/// The ERP's snapshot, indexed once for every marketplace.
pub struct ErpIndex<'a> {
    /// By SKU, in SKU order: the position the ERP would publish.
    positions: Vec<InventoryPosition>,
    /// By SKU, in SKU order.
    prices: Vec<(&'a str, Option<Decimal>)>,
    orders: HashMap<(&'a str, &'a str), Vec<&'a SalesOrder>>,
    shipments: &'a [demo_erp::ShipmentRow],
    documents: HashSet<(&'a str, &'a str, &'a str)>,
}

impl<'a> ErpIndex<'a> {
    pub fn new(erp: &'a Snapshot) -> Self {
        let mut orders: HashMap<(&str, &str), Vec<&SalesOrder>> = HashMap::new();
        for order in &erp.sales_orders {
            orders
                .entry((order.marketplace.as_str(), order.channel_order_id.as_str()))
                .or_default()
                .push(order);
        }
        ErpIndex {
            positions: positions(&erp.stock),
            prices: erp
                .prices
                .iter()
                .map(|p| (p.sku.as_str(), p.amount.parse().ok()))
                .collect(),
            orders,
            shipments: &erp.shipments,
            documents: erp
                .documents
                .iter()
                .map(|(k, m, d)| (k.as_str(), m.as_str(), d.as_str()))
                .collect(),
        }
    }
}

/// The whole check: every marketplace (taken one at a time from `marketplaces`) against the ERP, and every
/// schedule's last run.
pub fn check<'a>(
    erp: &Snapshot,
    marketplaces: impl IntoIterator<Item = MarketplaceSnapshot<'a>>,
    schedules: &[ScheduleSummary],
) -> Consistency {
    let index = ErpIndex::new(erp);
    let mut out = Consistency::default();
    for marketplace in marketplaces {
        check_marketplace(&index, &marketplace, &mut out);
    }
    for s in schedules.iter().filter(|s| !s.completed()) {
        let outcome = s
            .last_run
            .as_ref()
            .map_or("no report".to_string(), |r| format!("{:?}", r.outcome));
        let line = format!("{}: {outcome} {}", s.name, s.message)
            .trim_end()
            .to_string();
        out.found(|c| &mut c.sync_runs_incomplete, line);
    }
    out
}

/// Adds one marketplace's findings to `out`.
pub fn check_marketplace(index: &ErpIndex, m: &MarketplaceSnapshot, out: &mut Consistency) {
    if let Some(policy) = m.inventory {
        check_quantities(index, m, policy, out);
    }
    if m.prices {
        check_prices(index, m, out);
    }
    check_orders(index, m, out);
    check_shipments(index, m, out);
    let documents = [
        (m.returns, "return", &m.channel.returns),
        (m.settlements, "settlement", &m.channel.settlements),
    ];
    for (checked, kind, ids) in documents {
        if !checked {
            continue;
        }
        for id in ids {
            out.documents_checked += 1;
            if !index.documents.contains(&(kind, m.name, id.as_str())) {
                let line = format!("{}:{id}", m.name);
                match kind {
                    "return" => out.found(|c| &mut c.returns_missing, line),
                    _ => out.found(|c| &mut c.settlements_missing, line),
                }
            }
        }
    }
}

/// Walks the ERP's positions and the channel's listings side by side in SKU order.
fn check_quantities(
    index: &ErpIndex,
    m: &MarketplaceSnapshot,
    policy: &InventoryFlow,
    out: &mut Consistency,
) {
    let mut listings = m.channel.listings.iter().peekable();
    for position in &index.positions {
        let sku = position.sku.as_str();
        while listings.next_if(|l| l.sku.as_str() < sku).is_some() {}
        let listed = listings.next_if(|l| l.sku == sku).and_then(|l| l.quantity);
        let expected = listed_quantity(position, policy);
        out.skus_checked += 1;
        if listed != Some(expected) {
            out.found(
                |c| &mut c.stock_mismatches,
                StockMismatch {
                    marketplace: m.name.to_string(),
                    sku: sku.to_string(),
                    expected,
                    listed,
                },
            );
        }
    }
}

fn check_prices(index: &ErpIndex, m: &MarketplaceSnapshot, out: &mut Consistency) {
    let mut listings = m.channel.listings.iter().peekable();
    for (sku, expected) in &index.prices {
        while listings.next_if(|l| l.sku.as_str() < *sku).is_some() {}
        let listed = listings.next_if(|l| l.sku == *sku).and_then(|l| l.price);
        out.prices_checked += 1;
        // Compared as numbers: 19.9 is 19.90.
        if listed.map(|p| p.normalize()) != expected.map(|p| p.normalize()) {
            out.found(
                |c| &mut c.price_mismatches,
                PriceMismatch {
                    marketplace: m.name.to_string(),
                    sku: sku.to_string(),
                    expected: expected.map(|p| p.to_string()),
                    listed: listed.map(|p| p.to_string()),
                },
            );
        }
    }
}

/// Each channel order against its sales orders: one when it stands, none standing when it is cancelled (a
/// cancellation the ERP received for an order it never created is the cancellation applied).
fn check_orders(index: &ErpIndex, m: &MarketplaceSnapshot, out: &mut Consistency) {
    for order in &m.channel.orders {
        out.orders_checked += 1;
        let id = format!("{}:{}", m.name, order.id);
        let sales_orders = index
            .orders
            .get(&(m.name, order.id.as_str()))
            .map_or(&[][..], Vec::as_slice);
        if sales_orders.len() > 1 {
            let numbers: Vec<&str> = sales_orders.iter().map(|s| s.number.as_str()).collect();
            out.found(
                |c| &mut c.orders_duplicated,
                format!("{id} ({})", numbers.join(", ")),
            );
        }
        if !order.cancelled {
            if sales_orders.is_empty() {
                out.found(|c| &mut c.orders_missing, id.clone());
            }
            if let Some(cancelled) = sales_orders.iter().find(|s| s.status == "cancelled") {
                out.found(
                    |c| &mut c.cancellations_not_applied,
                    format!(
                        "{id}: {} is cancelled in the ERP, the channel's order stands",
                        cancelled.number
                    ),
                );
            }
            continue;
        }
        out.cancellations_checked += 1;
        if let Some(standing) = sales_orders.iter().find(|s| s.status != "cancelled") {
            out.found(
                |c| &mut c.cancellations_not_applied,
                format!(
                    "{id}: cancelled on the channel, {} is {} in the ERP",
                    standing.number, standing.status
                ),
            );
        }
    }
}

/// Each package the ERP shipped for the marketplace must be confirmed on the channel.
fn check_shipments(index: &ErpIndex, m: &MarketplaceSnapshot, out: &mut Consistency) {
    let confirmed: HashSet<(&str, &str)> = m
        .channel
        .shipments
        .iter()
        .map(|(order, package)| (order.as_str(), package.as_str()))
        .collect();
    for shipment in index.shipments.iter().filter(|s| s.marketplace == m.name) {
        out.shipments_checked += 1;
        // Channels that name no package in a confirmation are matched by tracking number.
        let order = shipment.order_id.as_str();
        if !confirmed.contains(&(order, shipment.shipment_id.as_str()))
            && !confirmed.contains(&(order, shipment.tracking_number.as_str()))
        {
            out.found(
                |c| &mut c.shipments_unconfirmed,
                format!("{}:{order} {}", m.name, shipment.shipment_id),
            );
        }
    }
}

/// The position the ERP would publish for each SKU, in SKU order, from its stock rows (in SKU order).
pub fn positions(stock: &[StockRow]) -> Vec<InventoryPosition> {
    let mut out: Vec<InventoryPosition> = Vec::new();
    for row in stock {
        let available = (row.on_hand - row.reserved).max(0);
        if out.last().is_none_or(|p| p.sku.as_str() != row.sku) {
            let (Ok(sku), Ok(correlation_id)) = (
                row.sku.as_str().try_into(),
                format!("check:{}", row.sku).as_str().try_into(),
            ) else {
                continue; // the demo ERP's SKUs are valid canonical SKUs
            };
            out.push(InventoryPosition {
                correlation_id,
                sku,
                available: 0,
                locations: Vec::new(),
                as_of: Utc::now(),
            });
        }
        if let Some(position) = out.last_mut() {
            position.available += available;
            position.locations.push(LocationStock {
                location: row.location.clone(),
                available,
            });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use demo_erp::{PriceRow, ShipmentRow};

    const MP: &str = "amazon-us";

    /// An ERP and a channel that agree: two SKUs, two orders (one shipped and confirmed), one order cancelled
    /// by its buyer before the ERP had it, a return and a settlement received.
    fn consistent() -> (Snapshot, ChannelSnapshot) {
        let erp = Snapshot {
            stock: vec![
                stock("A", "DAL", 10, 2),
                stock("A", "RNO", 5, 0),
                stock("B", "DAL", 3, 0),
            ],
            prices: vec![price("A", "19.90"), price("B", "5.00")],
            sales_orders: vec![
                sales_order("SO-1", "1", "shipped"),
                sales_order("SO-2", "2", "open"),
            ],
            shipments: vec![ShipmentRow {
                marketplace: MP.into(),
                order_id: "1".into(),
                shipment_id: "PKG-SO-1".into(),
                tracking_number: "1Z1".into(),
            }],
            documents: vec![
                ("return".into(), MP.into(), "R-1".into()),
                ("settlement".into(), MP.into(), "S-1".into()),
            ],
            requests: Vec::new(),
        };
        let channel = ChannelSnapshot {
            listings: vec![listing("A", 13, "19.9"), listing("B", 3, "5")],
            orders: vec![order("1", false), order("2", false), order("3", true)],
            shipments: vec![("1".into(), "1Z1".into())],
            returns: vec!["R-1".into()],
            settlements: vec!["S-1".into()],
        };
        (erp, channel)
    }

    fn stock(sku: &str, location: &str, on_hand: i64, reserved: i64) -> StockRow {
        StockRow {
            sku: sku.into(),
            location: location.into(),
            on_hand,
            reserved,
        }
    }

    fn price(sku: &str, amount: &str) -> PriceRow {
        PriceRow {
            sku: sku.into(),
            amount: amount.into(),
            currency: "USD".into(),
        }
    }

    fn sales_order(number: &str, id: &str, status: &str) -> SalesOrder {
        SalesOrder {
            number: number.into(),
            marketplace: MP.into(),
            channel_order_id: id.into(),
            status: status.into(),
            posts: 1,
        }
    }

    fn listing(sku: &str, quantity: i64, price: &str) -> Listing {
        Listing {
            sku: sku.into(),
            quantity: Some(quantity),
            price: price.parse().ok(),
        }
    }

    fn order(id: &str, cancelled: bool) -> ChannelOrder {
        ChannelOrder {
            id: id.into(),
            cancelled,
        }
    }

    fn policy() -> InventoryFlow {
        serde_json::from_value(serde_json::json!({})).unwrap()
    }

    fn run(erp: &Snapshot, channel: ChannelSnapshot) -> Consistency {
        let policy = policy();
        let m = MarketplaceSnapshot {
            name: MP,
            inventory: Some(&policy),
            prices: true,
            returns: true,
            settlements: true,
            channel,
        };
        check(erp, [m], &[])
    }

    fn problems(c: &Consistency) -> Vec<String> {
        super::super::summary::problems(c)
    }

    #[test]
    fn an_erp_and_a_channel_that_agree_are_consistent_and_everything_was_compared() {
        let (erp, channel) = consistent();
        let c = run(&erp, channel);
        assert!(c.is_consistent(), "{:?}", problems(&c));
        assert_eq!(
            (
                c.skus_checked,
                c.prices_checked,
                c.orders_checked,
                c.cancellations_checked,
                c.shipments_checked,
                c.documents_checked
            ),
            (2, 2, 3, 1, 1, 2)
        );
    }

    #[test]
    fn a_lost_order_is_named() {
        let (mut erp, channel) = consistent();
        erp.sales_orders.retain(|s| s.channel_order_id != "2");
        assert_eq!(
            problems(&run(&erp, channel)),
            ["order amazon-us:2 was placed on the channel and is not in the ERP"]
        );
    }

    #[test]
    fn a_duplicate_sales_order_is_named_with_both_numbers() {
        let (mut erp, channel) = consistent();
        erp.sales_orders.push(sales_order("SO-9", "2", "open"));
        assert_eq!(
            problems(&run(&erp, channel)),
            ["order amazon-us:2 is in the ERP more than once (SO-2, SO-9)"]
        );
    }

    #[test]
    fn a_stale_quantity_and_a_sku_never_listed_are_named() {
        let (erp, mut channel) = consistent();
        channel.listings[0].quantity = Some(12);
        channel.listings.pop();
        assert_eq!(
            problems(&run(&erp, channel)),
            [
                "stock: amazon-us A lists 12 but the ERP can sell 13",
                "stock: amazon-us B lists nothing but the ERP can sell 3",
                "price: amazon-us B lists no price but the ERP's is 5.00",
            ]
        );
    }

    #[test]
    fn a_stale_price_is_named() {
        let (erp, mut channel) = consistent();
        channel.listings[0].price = "21.00".parse().ok();
        assert_eq!(
            problems(&run(&erp, channel)),
            ["price: amazon-us A lists 21.00 but the ERP's is 19.90"]
        );
    }

    #[test]
    fn a_cancellation_not_applied_on_either_side_is_named() {
        let (erp, mut channel) = consistent();
        channel.orders[1].cancelled = true; // the buyer cancelled 2; the ERP's SO-2 stands
        assert_eq!(
            problems(&run(&erp, channel)),
            ["cancellation: amazon-us:2: cancelled on the channel, SO-2 is open in the ERP"]
        );
        let (mut erp, channel) = consistent();
        erp.sales_orders[1].status = "cancelled".into(); // the ERP cancelled 2; the channel was not told
        assert_eq!(
            problems(&run(&erp, channel)),
            ["cancellation: amazon-us:2: SO-2 is cancelled in the ERP, the channel's order stands"]
        );
    }

    #[test]
    fn an_unconfirmed_shipment_is_named() {
        let (erp, mut channel) = consistent();
        channel.shipments.clear();
        assert_eq!(
            problems(&run(&erp, channel)),
            ["shipment amazon-us:1 PKG-SO-1 is not confirmed on the channel"]
        );
    }

    #[test]
    fn a_return_or_settlement_missing_from_the_erp_is_named() {
        let (mut erp, channel) = consistent();
        erp.documents.clear();
        assert_eq!(
            problems(&run(&erp, channel)),
            [
                "return amazon-us:R-1 is not in the ERP",
                "settlement amazon-us:S-1 is not in the ERP"
            ]
        );
    }

    #[test]
    fn an_unfinished_sync_run_is_named() {
        let (erp, channel) = consistent();
        let policy = policy();
        let m = MarketplaceSnapshot {
            name: MP,
            inventory: Some(&policy),
            prices: false,
            returns: false,
            settlements: false,
            channel,
        };
        let schedule = ScheduleSummary {
            name: "amazon-us-inventory-nightly".into(),
            marketplace: MP.into(),
            flow: "inventory".into(),
            mode: "Full".into(),
            fired: 1,
            last_run: None,
            message: String::new(),
        };
        let c = check(&erp, [m], &[schedule]);
        assert_eq!(
            problems(&c),
            ["sync run of amazon-us-inventory-nightly: no report"]
        );
    }

    #[test]
    fn flows_a_marketplace_does_not_run_are_not_compared() {
        let (mut erp, mut channel) = consistent();
        erp.documents.clear();
        channel.listings[0].price = None;
        let m = MarketplaceSnapshot {
            name: MP,
            inventory: None,
            prices: false,
            returns: false,
            settlements: false,
            channel,
        };
        let c = check(&erp, [m], &[]);
        assert!(c.is_consistent(), "{:?}", problems(&c));
        assert_eq!(
            (c.skus_checked, c.prices_checked, c.documents_checked),
            (0, 0, 0)
        );
    }

    /// A catalogue of 100,000 SKUs, all stale on one channel: every SKU is compared, the total is counted, and
    /// only the first records are named.
    #[test]
    fn a_large_catalogue_is_compared_whole_and_named_in_part() {
        let n = 100_000;
        let skus: Vec<String> = (0..n).map(|i| format!("SKU-{i:06}")).collect();
        let erp = Snapshot {
            stock: skus.iter().map(|s| stock(s, "DAL", 7, 0)).collect(),
            prices: skus.iter().map(|s| price(s, "1.00")).collect(),
            ..Snapshot::default()
        };
        let channel = ChannelSnapshot {
            listings: skus.iter().map(|s| listing(s, 6, "1.00")).collect(),
            ..ChannelSnapshot::default()
        };
        let c = run(&erp, channel);
        assert_eq!(c.skus_checked, n);
        assert_eq!(c.prices_checked, n);
        assert_eq!(c.problems, n);
        assert_eq!(c.stock_mismatches.len(), NAMED_AT_MOST);
        assert_eq!(c.stock_mismatches[0].sku, "SKU-000000");
        assert!(!c.is_consistent());
    }

    /// The check reading real components — the demo ERP on PostgreSQL through its snapshot, the Amazon sandbox
    /// through the local run's reader — consistent at first, then each fault injected through them: a sink
    /// posting an order twice under two keys, a price change the channel never got, an order deleted from the
    /// ERP, a buyer's cancellation the ERP never applied, a package the channel never confirmed.
    #[tokio::test]
    async fn faults_injected_into_the_demo_erp_and_a_sandbox_are_found() {
        adapter_runtime::connectors::ensure_crypto_provider();
        let db = test_support::TestDatabase::create().await.unwrap();
        let erp = demo_erp::DemoErp::start(
            db.url(),
            "127.0.0.1:0",
            demo_erp::Options {
                ship_after: std::time::Duration::from_secs(3600),
                ..demo_erp::Options::default()
            },
        )
        .await
        .unwrap();
        erp.add_item("A", "a", "19.90", "USD", &[("DAL", 10)])
            .await
            .unwrap();
        let amazon = sandbox_amazon::start("127.0.0.1:0", sandbox_amazon::Credentials::default())
            .await
            .unwrap();
        let state = amazon.state.clone();
        let sandbox = super::super::platform::Sandbox::amazon(amazon);
        let http =
            adapter_runtime::connectors::http_client(std::time::Duration::from_secs(10)).unwrap();
        let create = |key: String, id: &str| {
            http.post(format!("{}/sales-orders", erp.url()))
                .bearer_auth("demo-only-token")
                .header("Idempotency-Key", key)
                .json(&serde_json::json!({
                    "correlationId": format!("{MP}:{id}"), "marketplace": MP, "orderId": id,
                    "lines": [{"lineId": "1", "sku": "A", "quantity": 1}]}))
                .send()
        };
        // Two buyers' orders, each created once in the ERP as the bridge does; the listing as the adapter left it.
        let mut ids = Vec::new();
        for _ in 0..2 {
            let id = sandbox.place_order("A", 1, "19.90").unwrap();
            assert_eq!(
                create(format!("{MP}:{id}"), &id).await.unwrap().status(),
                201
            );
            ids.push(id);
        }
        state.lock().listings.insert(
            "A".into(),
            sandbox_amazon::Listing {
                quantity: Some(8),
                price: Some("19.90".into()),
                ..Default::default()
            },
        );
        let now = || async {
            let policy = policy();
            let m = MarketplaceSnapshot {
                name: MP,
                inventory: Some(&policy),
                prices: true,
                returns: false,
                settlements: false,
                channel: sandbox.snapshot(),
            };
            problems(&check(&erp.snapshot().await.unwrap(), [m], &[]))
        };
        assert_eq!(now().await, Vec::<String>::new());

        // A sink that posts the first order again under another key: an ERP that honours only the key books it.
        create(format!("{MP}:{}:2:accepted", ids[0]), &ids[0])
            .await
            .unwrap();
        // A price change the channel never received.
        erp.set_price("A", "21.00").await.unwrap();
        // The second order gone from the ERP.
        let client = db.client().await.unwrap();
        client
            .batch_execute(&format!(
                "DELETE FROM sales_order_lines WHERE sales_order_id IN \
                 (SELECT id FROM sales_orders WHERE channel_order_id = '{}'); \
                 DELETE FROM sales_orders WHERE channel_order_id = '{}'",
                ids[1], ids[1]
            ))
            .await
            .unwrap();
        // A third order the buyer cancelled on the channel after the ERP had it, the ERP not told.
        let cancelled = sandbox.place_order("A", 1, "19.90").unwrap();
        create(format!("{MP}:{cancelled}"), &cancelled)
            .await
            .unwrap();
        assert!(sandbox.cancel_order(&cancelled));
        // A package the ERP shipped that the channel never confirmed.
        client
            .batch_execute(&format!(
                "UPDATE sales_orders SET created_at = now() - interval '2 hours' WHERE channel_order_id = '{}'",
                ids[0]
            ))
            .await
            .unwrap();
        test_support::eventually(
            std::time::Duration::from_secs(10),
            "the ERP ships the first order (both of its sales orders)",
            || async { !erp.shipments().await.unwrap().is_empty() },
        )
        .await;

        let found = now().await;
        let first = &ids[0];
        for expected in [
            format!("order {MP}:{first} is in the ERP more than once (SO-"),
            "price: amazon-us A lists 19.90 but the ERP's is 21.00".to_string(),
            format!(
                "order {MP}:{} was placed on the channel and is not in the ERP",
                ids[1]
            ),
            format!("cancellation: {MP}:{cancelled}: cancelled on the channel, SO-"),
            format!("shipment {MP}:{first} PKG-SO-"),
        ] {
            assert!(
                found.iter().any(|p| p.starts_with(&expected)),
                "{expected:?} not in {found:#?}"
            );
        }
    }
}
