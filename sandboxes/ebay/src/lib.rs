//! Sandbox of the eBay Sell APIs a seller integration uses: OAuth refresh-token grant
//! (`POST /identity/v1/oauth2/token`, Basic client credentials), Inventory `getOffers` (a SKU's offers) and
//! `bulk_update_price_quantity` (at most 25 SKUs and 25 offers a call: a SKU's ship-to-home quantity, a published
//! offer's price and quantity; one status per SKU or offer, 207 when some fail), Fulfillment `getOrders` (`filter=lastmodifieddate:[..]`,
//! `limit`/`offset`) and `createShippingFulfillment`, Finances `getPayouts` (`filter=payoutDate:[..]`,
//! `payoutStatus:{..}`, `sort=payoutDate`) and `getTransactions` (`filter=payoutId:{..}`, 204 when nothing matches)
//! over payouts closed from the orders (`Sandbox::close_payout`, `POST /_sandbox/payouts`). User tokens are checked on every call; each API's daily
//! call quota is counted per UTC day and answered 429 (errorId 2001) when spent; a listing revised 250 times in
//! a UTC day refuses further revisions that day (errorId 25002). Every request is checked against the Sell API
//! files of `specs/ebay/` and the limits they state in prose (`conformance`); a deviating one is answered with
//! eBay's `errors[]` and recorded. `GET /_sandbox/state`.
//!
//! ```ignore
//! let (running, ebay) = sandbox_ebay::start(Settings::new("id", "secret", "refresh").daily_quota("getOrders", 100)).await?;
//! ebay.add_sku("SKU-1", 3); // an inventory item with a published fixed-price offer
//! ebay.add_order(NewOrder::new("12-34567-89012").line("SKU-1", 1, dec!(19.99)));
//! ```

pub mod conformance;
pub mod finances;
pub mod routes;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard};

use chrono::{DateTime, NaiveDate, Utc};
use rust_decimal::Decimal;
use sandbox::{Controls, Running};
use serde::Serialize;

#[derive(Clone, Debug)]
pub struct Settings {
    pub client_id: String,
    pub client_secret: String,
    pub refresh_token: String,
    /// Calls per UTC day, per operation (catalogue names: bulkUpdatePriceQuantity, getOrders, ...).
    pub daily_quotas: BTreeMap<String, u64>,
    /// The marketplace and currency of the offers `add_sku` and `add_offer` create (EBAY_US, USD).
    pub marketplace_id: String,
    pub currency: String,
}

impl Settings {
    pub fn new(client_id: &str, client_secret: &str, refresh_token: &str) -> Self {
        Self {
            client_id: client_id.into(),
            client_secret: client_secret.into(),
            refresh_token: refresh_token.into(),
            daily_quotas: BTreeMap::new(),
            marketplace_id: "EBAY_US".into(),
            currency: "USD".into(),
        }
    }

    /// Offers on another marketplace, priced in its currency (`"EBAY_GB", "GBP"`).
    pub fn marketplace(mut self, marketplace_id: &str, currency: &str) -> Self {
        self.marketplace_id = marketplace_id.into();
        self.currency = currency.into();
        self
    }

    pub fn daily_quota(mut self, operation: &str, calls: u64) -> Self {
        self.daily_quotas.insert(operation.into(), calls);
        self
    }
}

#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Listing {
    pub sku: String,
    /// The inventory item's ship-to-home quantity.
    pub quantity: i64,
    /// The item's offers: eBay keeps price (and each listing's own quantity) on the offer, not the item.
    pub offers: Vec<Offer>,
}

impl Listing {
    /// The price of the item's published fixed-price offer: what a buyer pays.
    pub fn price(&self) -> Option<Decimal> {
        self.offers
            .iter()
            .find(|o| o.published && o.format == FIXED_PRICE)
            .and_then(|o| o.price)
    }
}

pub const FIXED_PRICE: &str = "FIXED_PRICE";
pub const AUCTION: &str = "AUCTION";

/// An offer of an inventory item on a marketplace, in a listing format.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Offer {
    pub offer_id: String,
    /// `FIXED_PRICE` or `AUCTION`.
    pub format: String,
    /// Published offers are live listings; `bulk_update_price_quantity` revises only those.
    pub published: bool,
    pub marketplace_id: String,
    pub currency: String,
    pub price: Option<Decimal>,
    pub available_quantity: Option<i64>,
}

#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct OrderLine {
    pub line_item_id: String,
    pub sku: String,
    pub quantity: i64,
    pub unit_price: Decimal,
}

#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Order {
    pub order_id: String,
    pub creation_date: DateTime<Utc>,
    pub last_modified_date: DateTime<Utc>,
    pub currency: String,
    pub lines: Vec<OrderLine>,
    pub fulfilled: bool,
}

impl Order {
    /// What the lines cost.
    pub fn subtotal(&self) -> Decimal {
        self.lines
            .iter()
            .map(|l| l.unit_price * Decimal::from(l.quantity))
            .sum()
    }

    /// What the buyer paid: the lines and the flat delivery cost.
    pub fn total(&self) -> Decimal {
        self.subtotal() + DELIVERY_COST
    }
}

/// The delivery cost of every sandbox order.
pub const DELIVERY_COST: Decimal = Decimal::from_parts(599, 0, 0, false, 2);

#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ShippingFulfillment {
    pub fulfillment_id: String,
    pub order_id: String,
    pub carrier: String,
    pub tracking_number: String,
    pub line_items: Vec<(String, i64)>,
}

#[derive(Debug, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Account {
    pub listings: BTreeMap<String, Listing>,
    pub orders: Vec<Order>,
    pub fulfillments: Vec<ShippingFulfillment>,
    /// Access tokens issued.
    #[serde(skip)]
    pub tokens: Vec<String>,
    pub tokens_issued: usize,
    /// Calls counted today, per operation, and the day they count for.
    pub calls_today: BTreeMap<String, u64>,
    pub quota_day: Option<NaiveDate>,
    /// Offers created, numbering the next offer id.
    pub offers_created: u64,
    /// Payouts closed, oldest first, and the orders they paid.
    pub payouts: Vec<finances::Payout>,
    pub paid_orders: std::collections::BTreeSet<String>,
    /// Revisions of each SKU's listing per UTC calendar day (eBay allows 250 a day).
    #[serde(skip)]
    pub revisions: BTreeMap<(String, NaiveDate), u64>,
}

/// An order to seed.
#[derive(Clone, Debug)]
pub struct NewOrder {
    pub order_id: String,
    pub lines: Vec<(String, i64, Decimal)>,
}

impl NewOrder {
    pub fn new(order_id: &str) -> Self {
        Self {
            order_id: order_id.into(),
            lines: Vec::new(),
        }
    }

    pub fn line(mut self, sku: &str, quantity: i64, unit_price: Decimal) -> Self {
        self.lines.push((sku.into(), quantity, unit_price));
        self
    }
}

#[derive(Debug)]
pub struct Sandbox {
    pub settings: Settings,
    pub controls: Arc<Controls>,
    account: Mutex<Account>,
}

impl Sandbox {
    pub fn new(settings: Settings) -> Self {
        Self {
            settings,
            controls: Arc::new(Controls::default()),
            account: Mutex::new(Account::default()),
        }
    }

    pub fn account(&self) -> MutexGuard<'_, Account> {
        self.account.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// An inventory item with a published fixed-price offer on the settings' marketplace: a listed SKU.
    pub fn add_sku(&self, sku: &str, quantity: i64) {
        self.add_inventory_item(sku, quantity);
        self.add_offer(sku, FIXED_PRICE, true);
    }

    /// An inventory item with no offer yet: not listed, so nothing has a price.
    pub fn add_inventory_item(&self, sku: &str, quantity: i64) {
        self.account().listings.insert(
            sku.into(),
            Listing {
                sku: sku.into(),
                quantity,
                offers: Vec::new(),
            },
        );
    }

    /// Another offer of an existing item (`FIXED_PRICE` or `AUCTION`), and its id.
    pub fn add_offer(&self, sku: &str, format: &str, published: bool) -> Option<String> {
        let mut account = self.account();
        account.offers_created += 1;
        let offer_id = format!("{}", 6_000_000_000u64 + account.offers_created);
        account.listings.get_mut(sku)?.offers.push(Offer {
            offer_id: offer_id.clone(),
            format: format.into(),
            published,
            marketplace_id: self.settings.marketplace_id.clone(),
            currency: self.settings.currency.clone(),
            price: None,
            available_quantity: None,
        });
        Some(offer_id)
    }

    /// Withdraws (deletes) an offer, as a seller ending a listing would.
    pub fn remove_offer(&self, offer_id: &str) {
        for listing in self.account().listings.values_mut() {
            listing.offers.retain(|o| o.offer_id != offer_id);
        }
    }

    pub fn listing(&self, sku: &str) -> Option<Listing> {
        self.account().listings.get(sku).cloned()
    }

    pub fn add_order(&self, order: NewOrder) {
        let now = Utc::now();
        let lines = order
            .lines
            .iter()
            .enumerate()
            .map(|(i, (sku, quantity, price))| OrderLine {
                line_item_id: format!("{}{}", 10_000 + i, order.order_id.len()),
                sku: sku.clone(),
                quantity: *quantity,
                unit_price: *price,
            })
            .collect();
        self.account().orders.push(Order {
            order_id: order.order_id,
            creation_date: now,
            last_modified_date: now,
            currency: "USD".into(),
            lines,
            fulfilled: false,
        });
    }

    pub fn order(&self, order_id: &str) -> Option<Order> {
        self.account()
            .orders
            .iter()
            .find(|o| o.order_id == order_id)
            .cloned()
    }

    /// Closes a payout of every order not paid out yet (one `SALE` per order, net of its final value fee), as
    /// eBay does on the seller's payout schedule; its id, or `None` when there is nothing to pay.
    pub fn close_payout(&self) -> Option<String> {
        self.close_payout_with(|_| {})
    }

    /// [`Sandbox::close_payout`], `adjust` changing the payout before anyone can read it (a misstated sale).
    pub fn close_payout_with(&self, adjust: impl FnOnce(&mut finances::Payout)) -> Option<String> {
        let mut account = self.account();
        let unpaid: Vec<Order> = account
            .orders
            .iter()
            .filter(|o| !account.paid_orders.contains(&o.order_id))
            .cloned()
            .collect();
        if unpaid.is_empty() {
            return None;
        }
        let mut payout = finances::close(&unpaid, account.payouts.last(), Utc::now());
        adjust(&mut payout);
        let id = payout.payout_id.clone();
        account
            .paid_orders
            .extend(unpaid.into_iter().map(|o| o.order_id));
        account.payouts.push(payout);
        Some(id)
    }

    /// Serves the payout's transactions without the field at `pointer` (`/amount/value`), as a broken answer.
    pub fn break_payout(&self, payout_id: &str, pointer: &str) {
        if let Some(p) = self
            .account()
            .payouts
            .iter_mut()
            .find(|p| p.payout_id == payout_id)
        {
            p.malformed = Some(pointer.into());
        }
    }

    /// States the sale of `order_id` in the payout at `paid` (what the buyer paid, before fees) instead of the
    /// order's total, its net and the payout's amount following: a settlement that does not match its order.
    pub fn misstate_sale(&self, payout_id: &str, order_id: &str, paid: Decimal) {
        if let Some(p) = self
            .account()
            .payouts
            .iter_mut()
            .find(|p| p.payout_id == payout_id)
        {
            p.misstate_sale(order_id, paid);
        }
    }

    /// Sets a payout's `payoutStatus` (`INITIATED`, `SUCCEEDED`, `FAILED`, ...).
    pub fn set_payout_status(&self, payout_id: &str, status: &str) {
        if let Some(p) = self
            .account()
            .payouts
            .iter_mut()
            .find(|p| p.payout_id == payout_id)
        {
            p.status = status.into();
        }
    }

    pub fn payout(&self, payout_id: &str) -> Option<finances::Payout> {
        self.account()
            .payouts
            .iter()
            .find(|p| p.payout_id == payout_id)
            .cloned()
    }

    /// Counts a call of `operation` today: `false` when its daily quota is spent.
    pub fn count_call(&self, operation: &str) -> bool {
        let today = Utc::now().date_naive();
        let mut account = self.account();
        if account.quota_day != Some(today) {
            account.quota_day = Some(today);
            account.calls_today.clear();
        }
        let used = account.calls_today.entry(operation.into()).or_insert(0);
        match self.settings.daily_quotas.get(operation) {
            Some(quota) if *used >= *quota => false,
            _ => {
                *used += 1;
                true
            }
        }
    }
}

pub async fn start(settings: Settings) -> std::io::Result<(Running, Arc<Sandbox>)> {
    start_on(settings, "127.0.0.1:0").await
}

pub async fn start_on(
    settings: Settings,
    address: &str,
) -> std::io::Result<(Running, Arc<Sandbox>)> {
    let sandbox = Arc::new(Sandbox::new(settings));
    sandbox
        .controls
        .conformance
        .set_known(conformance::KNOWN_DEVIATIONS);
    let router = sandbox::strict::layer(
        routes::router(sandbox.clone()),
        conformance::strictness(),
        sandbox.controls.clone(),
    );
    let running = sandbox::serve(router, sandbox.controls.clone(), address).await?;
    Ok((running, sandbox))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_daily_quota_refuses_the_call_after_the_last() {
        let sandbox = Sandbox::new(Settings::new("i", "s", "r").daily_quota("getOrders", 2));
        assert!(sandbox.count_call("getOrders"));
        assert!(sandbox.count_call("getOrders"));
        assert!(
            !sandbox.count_call("getOrders"),
            "the third call of the day exceeds 2"
        );
        assert!(
            sandbox.count_call("createShippingFulfillment"),
            "other operations have their own quota"
        );
    }
}
