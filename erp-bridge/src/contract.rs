//! The ERP contract (docs/erp.md, "The ERP contract"): what the bridge sends the ERP for each record it reads,
//! as which operation and under which idempotency key. Pure: the sink reads the order's last sent state, asks
//! [`decide`], delivers, then remembers [`SentOrder::after`].
//!
//! - A sales order is **created once per channel order**, key `<marketplace>:<order id>`.
//! - A later revision is an **update**, key `<marketplace>:<order id>:update:<revision>`, sent only when a field
//!   the ERP cares about changed ([`OrderPart`]): our own shipment confirmations, which move the channel's order
//!   to `Shipped` and give it a new revision, change none of them and send nothing.
//! - A **cancellation** (the channel's cancellation record, or a revision whose status is `Cancelled`), key
//!   `<marketplace>:<order id>:cancel` for the whole order, `<marketplace>:<order id>:cancel:<digest of the
//!   lines>` for some lines.
//! - A **return**, key `<marketplace>:return:<return id>:<status>`; a **settlement**, key
//!   `<marketplace>:settlement:<settlement id>`.
//!
//! Keys come from the record, never from the message id, so a replayed or re-published record keeps its key.

use std::collections::BTreeMap;

use adapter_runtime::canonical::{
    CancelledBy, Money, Order, OrderCancellation, OrderLine, OrderStatus, OrderTotals, Record,
    Return, Settlement,
};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// The parts of an order the ERP acts on. Anything else (the channel's status other than a cancellation, its
/// revision and update time, the buyer's contact details, the order process's allocation, which follows the
/// stock of the moment) changes no sales order and is never sent as an update.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum OrderPart {
    /// Lines: line id, SKU, quantity, unit price, tax, discount.
    Lines,
    /// Subtotal, shipping, tax, discount, total.
    Totals,
    /// The ship-to address.
    ShipTo,
    /// Who ships, the service level, the ship-by date.
    Fulfilment,
}

impl OrderPart {
    pub const ALL: [OrderPart; 4] = [
        OrderPart::Lines,
        OrderPart::Totals,
        OrderPart::ShipTo,
        OrderPart::Fulfilment,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            OrderPart::Lines => "lines",
            OrderPart::Totals => "totals",
            OrderPart::ShipTo => "shipTo",
            OrderPart::Fulfilment => "fulfilment",
        }
    }
}

/// What the ERP was last sent about one channel order (kept by the bridge in its order-state bucket).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SentOrder {
    /// The newest revision the ERP's sales order reflects (created from it, or updated to it).
    pub revision: u32,
    /// A digest of each [`OrderPart`] as last sent, by [`OrderPart::as_str`].
    pub parts: BTreeMap<String, String>,
    /// The ERP's sales-order number, when it answered one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub number: Option<String>,
    /// The ERP was sent a cancellation of the whole order: later revisions are not sent.
    #[serde(default)]
    pub cancelled: bool,
}

/// One request to the ERP.
#[derive(Clone, Debug, PartialEq)]
pub enum Operation {
    /// Create the sales order of a channel order.
    Create(Box<Order>),
    /// Update the sales order to this revision; `changed` names what differs from what the ERP has.
    Update {
        order: Box<Order>,
        changed: Vec<OrderPart>,
    },
    /// Cancel the sales order, or some of its lines.
    Cancel(OrderCancellation),
    Return(Return),
    Settlement(Settlement),
}

impl Operation {
    /// The idempotency key the ERP dedups this request by.
    pub fn key(&self) -> String {
        match self {
            Operation::Create(order) => create_key(order),
            Operation::Update { order, .. } => update_key(order),
            Operation::Cancel(c) => cancel_key(c),
            Operation::Return(r) => return_key(r),
            Operation::Settlement(s) => settlement_key(s),
        }
    }

    /// `create`, `update`, `cancel`, `return`, `settlement`: the operation's name in logs, timelines and the
    /// NATS sink's `tw-erp-operation` header.
    pub fn name(&self) -> &'static str {
        match self {
            Operation::Create(_) => "create",
            Operation::Update { .. } => "update",
            Operation::Cancel(_) => "cancel",
            Operation::Return(_) => "return",
            Operation::Settlement(_) => "settlement",
        }
    }

    /// The record sent as the body.
    pub fn record(&self) -> Record {
        match self {
            Operation::Create(order) | Operation::Update { order, .. } => {
                Record::Order(order.clone())
            }
            Operation::Cancel(c) => Record::OrderCancellation(c.clone()),
            Operation::Return(r) => Record::Return(r.clone()),
            Operation::Settlement(s) => Record::Settlement(s.clone()),
        }
    }
}

pub fn create_key(order: &Order) -> String {
    format!("{}:{}", order.marketplace, order.order_id)
}

pub fn update_key(order: &Order) -> String {
    format!(
        "{}:{}:update:{}",
        order.marketplace, order.order_id, order.revision
    )
}

/// The whole order: `<marketplace>:<order id>:cancel`; some lines: `...:cancel:<16 hex digits>`, a digest of
/// the lines and quantities, so one cancellation read twice has one key whatever order its lines come in.
pub fn cancel_key(cancellation: &OrderCancellation) -> String {
    let base = format!(
        "{}:{}:cancel",
        cancellation.marketplace, cancellation.order_id
    );
    if cancellation.lines.is_empty() {
        return base;
    }
    let mut lines: Vec<(&str, &str, i64)> = cancellation
        .lines
        .iter()
        .map(|l| (l.line_id.as_str(), l.sku.as_str(), l.quantity))
        .collect();
    lines.sort_unstable();
    format!("{base}:{}", digest(&lines))
}

pub fn return_key(r: &Return) -> String {
    format!("{}:return:{}:{:?}", r.marketplace, r.return_id, r.status)
}

pub fn settlement_key(s: &Settlement) -> String {
    format!("{}:settlement:{}", s.marketplace, s.settlement_id)
}

/// Why an order revision sends nothing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Unsent {
    /// No part the ERP acts on changed (our own shipment confirmation, a payment status).
    Unchanged,
    /// Older than, or the same revision as, what the ERP reflects (a late redelivery).
    Stale,
    /// The ERP was sent a cancellation of the whole order.
    Cancelled,
}

/// What to send the ERP for one record read from a marketplace's stream, given what was last sent about its
/// order (`None`: nothing yet, or not an order).
pub fn decide(record: &Record, last: Option<&SentOrder>) -> Result<Operation, Unsent> {
    match record {
        Record::Order(order) => decide_order(order, last),
        Record::OrderCancellation(c) => {
            if c.lines.is_empty() && last.is_some_and(|l| l.cancelled) {
                Err(Unsent::Cancelled)
            } else {
                Ok(Operation::Cancel(c.clone()))
            }
        }
        Record::Return(r) => Ok(Operation::Return(r.clone())),
        Record::Settlement(s) => Ok(Operation::Settlement(s.clone())),
        // The sink reads only the three flows' subjects; other records are refused before this.
        _ => Err(Unsent::Unchanged),
    }
}

fn decide_order(order: &Order, last: Option<&SentOrder>) -> Result<Operation, Unsent> {
    if last.is_some_and(|l| l.cancelled) {
        return Err(Unsent::Cancelled);
    }
    if order.status == OrderStatus::Cancelled {
        return Ok(Operation::Cancel(cancellation_of(order)));
    }
    let Some(last) = last.filter(|l| !l.parts.is_empty()) else {
        return Ok(Operation::Create(Box::new(order.clone())));
    };
    if order.revision <= last.revision {
        return Err(Unsent::Stale);
    }
    let now = parts(order);
    let changed: Vec<OrderPart> = OrderPart::ALL
        .into_iter()
        .filter(|p| last.parts.get(p.as_str()) != now.get(p.as_str()))
        .collect();
    if changed.is_empty() {
        Err(Unsent::Unchanged)
    } else {
        Ok(Operation::Update {
            order: Box::new(order.clone()),
            changed,
        })
    }
}

/// A revision whose status is `Cancelled` as a cancellation of the whole order: the channel says so.
pub fn cancellation_of(order: &Order) -> OrderCancellation {
    OrderCancellation {
        correlation_id: order.correlation_id.clone(),
        marketplace: order.marketplace.clone(),
        order_id: order.order_id.clone(),
        requested_by: CancelledBy::Marketplace,
        lines: Vec::new(),
        reason: "the channel reports the order cancelled".into(),
        at: order.updated_at,
    }
}

impl SentOrder {
    /// What the ERP reflects once `operation` succeeded (the ERP's sales-order `number` when it answered one).
    pub fn after(last: Option<&SentOrder>, operation: &Operation, number: Option<String>) -> Self {
        let mut next = last.cloned().unwrap_or_default();
        match operation {
            Operation::Create(order) | Operation::Update { order, .. } => {
                next.revision = order.revision;
                next.parts = parts(order);
            }
            Operation::Cancel(c) if c.lines.is_empty() => next.cancelled = true,
            _ => {}
        }
        if number.is_some() {
            next.number = number;
        }
        next
    }
}

/// A digest of each part of `order` the ERP acts on, normalised so that a channel writing `19.90` as `19.9`, or
/// listing lines in another order, changes nothing.
pub fn parts(order: &Order) -> BTreeMap<String, String> {
    OrderPart::ALL
        .into_iter()
        .map(|part| {
            let value = match part {
                OrderPart::Lines => digest(&lines(&order.lines)),
                OrderPart::Totals => digest(&totals(&order.totals)),
                OrderPart::ShipTo => digest(&order.ship_to),
                OrderPart::Fulfilment => digest(&order.fulfilment),
            };
            (part.as_str().to_string(), value)
        })
        .collect()
}

fn lines(lines: &[OrderLine]) -> Vec<(String, String, i64, String, String, Option<String>)> {
    let mut out: Vec<_> = lines
        .iter()
        .map(|l| {
            (
                l.line_id.clone(),
                l.sku.to_string(),
                l.quantity,
                money(&l.unit_price),
                money(&l.tax),
                l.discount.as_ref().map(money),
            )
        })
        .collect();
    out.sort();
    out
}

fn totals(t: &OrderTotals) -> [String; 5] {
    [t.subtotal, t.shipping, t.tax, t.discount, t.total].map(|m| money(&m))
}

fn money(m: &Money) -> String {
    format!("{} {}", m.amount.normalize(), m.currency)
}

/// The first 16 hex digits of the SHA-256 of `value`'s JSON.
fn digest<T: Serialize>(value: &T) -> String {
    let json = serde_json::to_vec(value).unwrap_or_default();
    hex::encode(&Sha256::digest(&json)[..8])
}

#[cfg(test)]
mod tests {
    use super::*;
    use adapter_runtime::canonical::LineQuantity;
    use rust_decimal::Decimal;

    fn order() -> Order {
        serde_json::from_str(include_str!(
            "../../adapter-runtime/tests/fixtures/order.json"
        ))
        .unwrap()
    }

    fn sent(order: &Order) -> SentOrder {
        SentOrder::after(None, &Operation::Create(Box::new(order.clone())), None)
    }

    #[test]
    fn a_new_order_is_created_under_the_order_key() {
        let o = order();
        let op = decide(&Record::Order(Box::new(o.clone())), None).unwrap();
        assert_eq!(op.name(), "create");
        assert_eq!(op.key(), "amazon-us:113-5512345-1234567");
    }

    #[test]
    fn our_own_shipment_confirmation_sends_nothing() {
        let first = order();
        let mut shipped = first.clone();
        shipped.revision = 2;
        shipped.status = OrderStatus::Shipped;
        shipped.updated_at += chrono::Duration::minutes(5);
        // The order process allocates from the stock of the moment: not the ERP's business either.
        shipped.enrichment = Some(adapter_runtime::canonical::OrderEnrichment {
            erp_customer_account: None,
            tax_code: None,
            allocation: [("10001".to_string(), "RNO".to_string())].into(),
        });
        shipped.buyer.email = Some("masked@marketplace.example".into());
        assert_eq!(
            decide(&Record::Order(Box::new(shipped)), Some(&sent(&first))),
            Err(Unsent::Unchanged)
        );
    }

    #[test]
    fn a_changed_line_is_one_update_naming_what_changed() {
        let first = order();
        let mut changed = first.clone();
        changed.revision = 3;
        changed.lines[0].quantity = 1;
        let op = decide(&Record::Order(Box::new(changed)), Some(&sent(&first))).unwrap();
        let Operation::Update { changed, .. } = &op else {
            panic!("{op:?}")
        };
        assert_eq!(changed, &[OrderPart::Lines]);
        assert_eq!(op.key(), "amazon-us:113-5512345-1234567:update:3");
    }

    #[test]
    fn the_same_amounts_written_differently_are_no_change() {
        let first = order();
        let mut again = first.clone();
        again.revision = 2;
        again.lines.reverse();
        again.lines[0].unit_price.amount = Decimal::new(50_000, 4); // 5.0000 for 5.00
        assert_eq!(
            decide(&Record::Order(Box::new(again)), Some(&sent(&first))),
            Err(Unsent::Unchanged)
        );
    }

    #[test]
    fn a_late_older_revision_is_stale() {
        let mut newer = order();
        newer.revision = 5;
        let mut older = newer.clone();
        older.revision = 4;
        older.lines[0].quantity = 9;
        assert_eq!(
            decide(&Record::Order(Box::new(older)), Some(&sent(&newer))),
            Err(Unsent::Stale)
        );
    }

    #[test]
    fn cancellations_have_one_key_and_end_the_order() {
        let o = order();
        let mut cancelled = o.clone();
        cancelled.revision = 2;
        cancelled.status = OrderStatus::Cancelled;
        let op = decide(&Record::Order(Box::new(cancelled.clone())), Some(&sent(&o))).unwrap();
        assert_eq!(op.key(), "amazon-us:113-5512345-1234567:cancel");
        let after = SentOrder::after(Some(&sent(&o)), &op, None);
        assert!(after.cancelled);
        // The channel's own cancellation record of the whole order has the same key; once sent, nothing more.
        let record = Record::OrderCancellation(cancellation_of(&cancelled));
        assert_eq!(decide(&record, None).unwrap().key(), op.key());
        assert_eq!(decide(&record, Some(&after)), Err(Unsent::Cancelled));
        cancelled.revision = 3;
        assert_eq!(
            decide(&Record::Order(Box::new(cancelled)), Some(&after)),
            Err(Unsent::Cancelled)
        );
    }

    #[test]
    fn a_cancellation_of_some_lines_is_keyed_by_them_in_any_order() {
        let o = order();
        let line = |id: &str, sku: &str| LineQuantity {
            line_id: id.into(),
            sku: sku.try_into().unwrap(),
            quantity: 1,
        };
        let mut c = cancellation_of(&o);
        c.lines = vec![line("10001", "TW-1001"), line("10002", "TW-2002")];
        let key = cancel_key(&c);
        assert!(
            key.starts_with("amazon-us:113-5512345-1234567:cancel:"),
            "{key}"
        );
        c.lines.reverse();
        assert_eq!(cancel_key(&c), key);
        c.lines.pop();
        assert_ne!(cancel_key(&c), key);
    }
}
