//! Walmart `getAllOrders` orders into canonical records: an order with its lines, buyer, ship-to and totals,
//! and, when the buyer (or Walmart) cancelled lines, a cancellation of those lines. Pure.
//!
//! Walmart keeps a status per line (`Created`, `Acknowledged`, `Shipped`, `Delivered`, `Cancelled`) and no
//! order-level revision. An order's content (lines, charges, address) does not change after it is placed; what
//! changes are line statuses, mostly by our own acknowledgements and shipments. So an order is published once
//! (revision 1: re-polls are dropped as duplicates, and our own acknowledgement does not send the ERP the order
//! again), and what the ERP must hear about later (cancellations not made by the seller) comes as a separate
//! cancellation record whose identity is the time of the last cancelled line.

use std::str::FromStr;

use channel_api::canonical::{
    Address, Buyer, CancelledBy, CorrelationId, Currency, FulfilledBy, Fulfilment, LineQuantity,
    MarketplaceName, Money, Order, OrderCancellation, OrderId, OrderLine, OrderStatus, OrderTotals,
    Record,
};
use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use serde_json::Value;

/// The path of a field for messages: `/a/b/0` becomes `a.b.0`.
fn path(pointer: &str) -> String {
    pointer.trim_start_matches('/').replace('/', ".")
}

fn text<'a>(value: &'a Value, pointer: &str) -> Result<&'a str, String> {
    match value.pointer(pointer) {
        Some(Value::String(s)) if !s.trim().is_empty() => Ok(s),
        Some(other) => Err(format!(
            "{}: not a non-empty string (value: {other})",
            path(pointer)
        )),
        None => Err(format!("{}: missing", path(pointer))),
    }
}

fn optional_text(value: &Value, pointer: &str) -> Option<String> {
    value
        .pointer(pointer)
        .and_then(Value::as_str)
        .filter(|s| !s.trim().is_empty())
        .map(str::to_string)
}

/// Walmart's times are epoch milliseconds (numbers, sometimes strings); `getAnOrder` writes `orderDate` as an
/// RFC 3339 date-time.
fn epoch_millis(value: &Value, pointer: &str) -> Result<DateTime<Utc>, String> {
    let raw = value
        .pointer(pointer)
        .ok_or_else(|| format!("{}: missing", path(pointer)))?;
    let millis = match raw {
        Value::Number(n) => n.as_i64(),
        Value::String(s) => s.parse::<i64>().ok().or_else(|| {
            DateTime::parse_from_rfc3339(s)
                .ok()
                .map(|t| t.timestamp_millis())
        }),
        _ => None,
    };
    millis
        .and_then(DateTime::<Utc>::from_timestamp_millis)
        .ok_or_else(|| format!("{}: not epoch milliseconds (value: {raw})", path(pointer)))
}

/// A JSON number or numeric string as an exact decimal (the number's text, never a float).
pub fn decimal(value: &Value, pointer: &str) -> Result<Decimal, String> {
    let raw = value
        .pointer(pointer)
        .ok_or_else(|| format!("{}: missing", path(pointer)))?;
    let parsed = match raw {
        Value::Number(n) => {
            Decimal::from_str(&n.to_string()).or_else(|_| Decimal::from_scientific(&n.to_string()))
        }
        Value::String(s) => Decimal::from_str(s.trim()),
        _ => return Err(format!("{}: not a number (value: {raw})", path(pointer))),
    };
    parsed.map_err(|e| format!("{}: not a decimal (value: {raw}): {e}", path(pointer)))
}

/// Walmart money: `{"currency", "amount"}`.
fn money(value: &Value, pointer: &str) -> Result<Money, String> {
    let amount = decimal(value, &format!("{pointer}/amount"))?;
    let currency = text(value, &format!("{pointer}/currency"))?;
    Ok(Money::new(
        amount,
        currency
            .parse::<Currency>()
            .map_err(|e| format!("{}.currency: {e}", path(pointer)))?,
    ))
}

/// Walmart writes countries as ISO alpha-3 (`USA`); the canonical model uses alpha-2.
pub fn country(code: &str) -> Result<String, String> {
    match code {
        "USA" | "US" => Ok("US".into()),
        "PRI" | "PR" => Ok("PR".into()),
        "CAN" | "CA" => Ok("CA".into()),
        "MEX" | "MX" => Ok("MX".into()),
        other if other.len() == 2 && other.chars().all(|c| c.is_ascii_uppercase()) => {
            Ok(other.into())
        }
        other => Err(format!(
            "shippingInfo.postalAddress.country: {other:?} is not a country Walmart US ships to (USA, PRI, CAN, MEX)"
        )),
    }
}

/// The statuses of one line.
fn statuses(line: &Value) -> Vec<&Value> {
    line.pointer("/orderLineStatuses/orderLineStatus")
        .and_then(Value::as_array)
        .map(|s| s.iter().collect())
        .unwrap_or_default()
}

fn has_status(line: &Value, wanted: &[&str]) -> bool {
    statuses(line).iter().any(|s| {
        s.get("status")
            .and_then(Value::as_str)
            .is_some_and(|s| wanted.contains(&s))
    })
}

/// Who cancelled a cancelled line, from its `cancellationReason`; `None` for the seller's own cancellations
/// (they came from the ERP, which need not hear of them again).
fn cancelled_by(line: &Value) -> Option<CancelledBy> {
    if line
        .get("intentToCancel")
        .and_then(Value::as_str)
        .is_some_and(|s| !s.is_empty())
    {
        return Some(CancelledBy::Buyer);
    }
    let cancelled = statuses(line)
        .into_iter()
        .find(|s| s.get("status").and_then(Value::as_str) == Some("Cancelled"))?;
    let reason = cancelled
        .get("cancellationReason")
        .and_then(Value::as_str)
        .unwrap_or_default();
    if reason.starts_with("SELLER_") {
        None
    } else if reason.starts_with("CUSTOMER") || reason.is_empty() {
        Some(CancelledBy::Buyer)
    } else {
        Some(CancelledBy::Marketplace)
    }
}

/// The unit price of a line whose PRODUCT charge (for the whole quantity) is `product`: the charge divided by
/// the quantity when that is exact to the cent; otherwise rounded up to the cent, with the difference as the
/// line's discount, so that quantity × unit price − discount is exactly what Walmart charged (10.00 for 3 is
/// 3.34 each less 0.02).
pub fn unit_price(product: Decimal, quantity: i64) -> (Decimal, Option<Decimal>) {
    let exact = product / Decimal::from(quantity);
    if exact.round_dp(2) == exact {
        return (exact.normalize(), None);
    }
    let unit = exact.round_dp_with_strategy(2, rust_decimal::RoundingStrategy::ToPositiveInfinity);
    (unit, Some(unit * Decimal::from(quantity) - product))
}

/// The orders of a `getAllOrders` answer (`list.elements.order`).
pub fn orders_of(answer: &Value) -> Vec<Value> {
    answer
        .pointer("/list/elements/order")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default()
}

/// The `nextCursor` of a `getAllOrders` or `getReturns` answer, when there are more pages.
pub fn next_cursor(answer: &Value) -> Option<String> {
    answer
        .pointer("/list/meta/nextCursor")
        .or_else(|| answer.pointer("/meta/nextCursor"))
        .and_then(Value::as_str)
        .filter(|c| !c.trim().is_empty())
        .map(str::to_string)
}

/// The latest `statusDate` of an order's lines: when Walmart last changed it.
pub fn last_modified(order: &Value) -> Option<DateTime<Utc>> {
    order
        .pointer("/orderLines/orderLine")
        .and_then(Value::as_array)?
        .iter()
        .filter_map(|l| epoch_millis(l, "/statusDate").ok())
        .max()
}

/// One Walmart order as canonical records (an order, a cancellation, or both), for `marketplace`.
pub fn to_records(order: &Value, marketplace: &str) -> Result<Vec<Record>, String> {
    let order_id = text(order, "/purchaseOrderId")?;
    let context = |e: String| format!("order {order_id}: {e}");
    let marketplace_name = MarketplaceName::try_from(marketplace).map_err(context)?;
    let id = OrderId::try_from(order_id).map_err(context)?;
    let correlation_id = CorrelationId::for_order(&marketplace_name, &id);
    let placed = epoch_millis(order, "/orderDate").map_err(context)?;
    let items = order
        .pointer("/orderLines/orderLine")
        .and_then(Value::as_array)
        .filter(|lines| !lines.is_empty())
        .ok_or_else(|| context("orderLines.orderLine: missing or empty".into()))?;

    let mut lines = Vec::with_capacity(items.len());
    let mut cancelled = Vec::new();
    let mut cancelled_at: Option<DateTime<Utc>> = None;
    let mut requested_by = CancelledBy::Buyer;
    let mut reasons: Vec<String> = Vec::new();
    let mut active = 0;
    let mut currency: Option<Currency> = None;
    let (mut shipping, mut tax) = (Decimal::ZERO, Decimal::ZERO);
    let mut updated = placed;
    for (i, line) in items.iter().enumerate() {
        let at = |e: String| context(format!("orderLines.orderLine[{i}].{e}"));
        let line_id = text(line, "/lineNumber").map_err(at)?.to_string();
        let sku = text(line, "/item/sku").map_err(at)?;
        let quantity = decimal(line, "/orderLineQuantity/amount")
            .map_err(at)?
            .to_string()
            .parse::<i64>()
            .ok()
            .filter(|q| *q > 0)
            .ok_or_else(|| {
                at("orderLineQuantity.amount: a positive whole number is required".into())
            })?;
        let status_date = epoch_millis(line, "/statusDate").map_err(at)?;
        updated = updated.max(status_date);
        let charges = line
            .pointer("/charges/charge")
            .and_then(Value::as_array)
            .ok_or_else(|| at("charges.charge: missing".into()))?;
        let mut product: Option<Money> = None;
        let mut line_tax = Decimal::ZERO;
        let mut line_shipping = Decimal::ZERO;
        for (c, charge) in charges.iter().enumerate() {
            let at = |e: String| at(format!("charges.charge[{c}].{e}"));
            let amount = money(charge, "/chargeAmount").map_err(at)?;
            if *currency.get_or_insert(amount.currency) != amount.currency {
                return Err(at(format!(
                    "chargeAmount.currency: {} differs from the order's {}",
                    amount.currency,
                    currency.map(|c| c.to_string()).unwrap_or_default()
                )));
            }
            if charge.pointer("/tax/taxAmount").is_some() {
                line_tax += money(charge, "/tax/taxAmount").map_err(at)?.amount;
            }
            match charge.get("chargeType").and_then(Value::as_str) {
                Some("PRODUCT") => product = Some(amount),
                _ => line_shipping += amount.amount,
            }
        }
        let product = product.ok_or_else(|| at("charges.charge: no PRODUCT charge".into()))?;
        if has_status(line, &["Cancelled"])
            || line
                .get("intentToCancel")
                .and_then(Value::as_str)
                .is_some_and(|s| !s.is_empty())
        {
            if let Some(by) = cancelled_by(line) {
                requested_by = by;
                let reason = statuses(line)
                    .iter()
                    .find_map(|s| s.get("cancellationReason").and_then(Value::as_str))
                    .or_else(|| line.get("intentToCancel").and_then(Value::as_str))
                    .unwrap_or("cancelled on Walmart")
                    .to_string();
                if !reasons.contains(&reason) {
                    reasons.push(reason);
                }
                cancelled_at = Some(cancelled_at.map_or(status_date, |t| t.max(status_date)));
                cancelled.push(LineQuantity {
                    line_id: line_id.clone(),
                    sku: sku.try_into().map_err(at)?,
                    quantity,
                });
            }
            if has_status(line, &["Cancelled"]) {
                continue;
            }
        }
        active += 1;
        tax += line_tax;
        shipping += line_shipping;
        let (unit, discount) = unit_price(product.amount, quantity);
        lines.push(OrderLine {
            line_id,
            sku: sku.try_into().map_err(at)?,
            quantity,
            unit_price: Money::new(unit, product.currency),
            tax: Money::new(line_tax, product.currency),
            discount: discount.map(|d| Money::new(d, product.currency)),
        });
    }
    let currency = currency.ok_or_else(|| context("no charged line".into()))?;

    let mut records = Vec::new();
    if active > 0 {
        let address = order
            .pointer("/shippingInfo/postalAddress")
            .ok_or_else(|| context("shippingInfo.postalAddress: missing".into()))?;
        let field = |pointer: &str| {
            text(address, pointer)
                .map(str::to_string)
                .map_err(|e| context(format!("shippingInfo.postalAddress.{e}")))
        };
        let ship_to = Address {
            name: field("/name")?,
            line1: field("/address1")?,
            line2: optional_text(address, "/address2"),
            city: field("/city")?,
            region: optional_text(address, "/state"),
            postal_code: field("/postalCode")?,
            country: country(&field("/country")?).map_err(context)?,
        };
        let subtotal = lines
            .iter()
            .map(|l| l.unit_price.amount * Decimal::from(l.quantity))
            .sum::<Decimal>();
        let discount = lines
            .iter()
            .filter_map(|l| l.discount.map(|d| d.amount))
            .sum::<Decimal>();
        let status = if items
            .iter()
            .all(|l| has_status(l, &["Shipped", "Delivered", "Cancelled"]))
        {
            OrderStatus::Shipped
        } else if items
            .iter()
            .any(|l| has_status(l, &["Shipped", "Delivered"]))
        {
            OrderStatus::PartiallyShipped
        } else if items.iter().any(|l| has_status(l, &["Acknowledged"])) {
            OrderStatus::Unshipped
        } else {
            OrderStatus::Pending
        };
        records.push(Record::Order(Box::new(Order {
            correlation_id: correlation_id.clone(),
            marketplace: marketplace_name.clone(),
            order_id: id.clone(),
            revision: 1,
            status,
            placed_at: placed,
            updated_at: updated,
            buyer: Buyer {
                name: ship_to.name.clone(),
                email: optional_text(order, "/customerEmailId"),
                phone: optional_text(order, "/shippingInfo/phone"),
            },
            ship_to,
            lines,
            totals: OrderTotals {
                subtotal: Money::new(subtotal, currency),
                shipping: Money::new(shipping, currency),
                tax: Money::new(tax, currency),
                discount: Money::new(discount, currency),
                total: Money::new(subtotal + shipping + tax - discount, currency),
            },
            fulfilment: Fulfilment {
                by: match order.pointer("/shipNode/type").and_then(Value::as_str) {
                    Some("WFSFulfilled") => FulfilledBy::Marketplace,
                    _ => FulfilledBy::Merchant,
                },
                service_level: optional_text(order, "/shippingInfo/methodCode"),
                ship_by: epoch_millis(order, "/shippingInfo/estimatedShipDate").ok(),
            },
            enrichment: None,
        })));
    }
    if let Some(at) = cancelled_at {
        records.push(Record::OrderCancellation(OrderCancellation {
            correlation_id,
            marketplace: marketplace_name,
            order_id: id,
            requested_by,
            // Every line cancelled: the whole order.
            lines: if active == 0 { Vec::new() } else { cancelled },
            // Walmart's own reason codes (CUSTOMER_CANCEL, ...).
            reason: reasons.join(", "),
            at,
        }));
    }
    Ok(records)
}

/// What the buyer was charged for an order (lines still active, shipping and tax), for reconciliation.
pub fn charged(order: &Value) -> Result<Money, String> {
    let records = to_records(order, "walmart")?;
    records
        .iter()
        .find_map(|r| match r {
            Record::Order(o) => Some(o.totals.total),
            _ => None,
        })
        .ok_or_else(|| "every line is cancelled".to_string())
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use serde_json::json;

    /// An order as `getAllOrders` gives it.
    pub(crate) fn order() -> Value {
        json!({
            "purchaseOrderId": "1796277083022", "customerOrderId": "5281956426648", "customerEmailId": "b@example.com",
            "orderDate": 1_800_000_000_000_i64,
            "shippingInfo": {"phone": "3155598681", "estimatedDeliveryDate": 1_800_300_000_000_i64,
                "estimatedShipDate": 1_800_100_000_000_i64, "methodCode": "Standard",
                "postalAddress": {"name": "Kathryn Cole", "address1": "3258BWarners rd", "city": "Garland",
                    "state": "NY", "postalCode": "13035", "country": "USA", "addressType": "RESIDENTIAL"}},
            "orderLines": {"orderLine": [{
                "lineNumber": "1", "item": {"productName": "Clip", "sku": "WM-1"},
                "charges": {"charge": [
                    {"chargeType": "PRODUCT", "chargeName": "ItemPrice", "chargeAmount": {"currency": "USD", "amount": 25.98},
                     "tax": {"taxName": "Tax1", "taxAmount": {"currency": "USD", "amount": 1.3}}},
                    {"chargeType": "SHIPPING", "chargeName": "Shipping", "chargeAmount": {"currency": "USD", "amount": 4.5}}]},
                "orderLineQuantity": {"unitOfMeasurement": "EACH", "amount": "2"},
                "statusDate": 1_800_000_005_000_i64,
                "orderLineStatuses": {"orderLineStatus": [{"status": "Created",
                    "statusQuantity": {"unitOfMeasurement": "EACH", "amount": "2"}}]}
            }]}
        })
    }

    #[test]
    fn an_order_maps_with_lines_totals_and_address() {
        let records = to_records(&order(), "walmart-us").unwrap_or_default();
        let Some(Record::Order(o)) = records.first() else {
            panic!("an order: {records:?}")
        };
        assert_eq!(records.len(), 1);
        assert_eq!(o.correlation_id.as_str(), "walmart-us:1796277083022");
        assert_eq!(o.lines[0].unit_price.amount, Decimal::new(1299, 2));
        assert_eq!(o.totals.subtotal.amount, Decimal::new(2598, 2));
        assert_eq!(o.totals.shipping.amount, Decimal::new(450, 2));
        assert_eq!(o.totals.tax.amount, Decimal::new(13, 1));
        assert_eq!(o.totals.total.amount, Decimal::new(3178, 2));
        assert_eq!(o.ship_to.country, "US");
        assert_eq!(o.status, OrderStatus::Pending);
        assert_eq!(o.buyer.email.as_deref(), Some("b@example.com"));
        assert!(o.totals_mismatch().is_none());
    }

    #[test]
    fn an_uneven_line_charge_is_a_unit_price_and_a_discount() {
        assert_eq!(
            unit_price(Decimal::new(2598, 2), 2),
            (Decimal::new(1299, 2), None)
        );
        assert_eq!(
            unit_price(Decimal::new(1000, 2), 3),
            (Decimal::new(334, 2), Some(Decimal::new(2, 2)))
        );
        let mut o = order();
        o["orderLines"]["orderLine"][0]["orderLineQuantity"]["amount"] = json!("3");
        let records = to_records(&o, "walmart-us").unwrap_or_default();
        let Some(Record::Order(o)) = records.first() else {
            panic!("an order")
        };
        assert!(o.totals_mismatch().is_none(), "{:?}", o.totals_mismatch());
        assert_eq!(
            o.totals.total.amount,
            Decimal::new(3178, 2),
            "what Walmart charged"
        );
    }

    #[test]
    fn a_buyer_cancellation_is_a_cancellation_record() {
        let mut o = order();
        o["orderLines"]["orderLine"][0]["orderLineStatuses"]["orderLineStatus"][0] = json!({
            "status": "Cancelled", "cancellationReason": "CUSTOMER_CANCEL",
            "statusQuantity": {"unitOfMeasurement": "EACH", "amount": "2"}});
        let records = to_records(&o, "walmart-us").unwrap_or_default();
        assert_eq!(records.len(), 1);
        assert!(matches!(&records[0], Record::OrderCancellation(c)
            if c.requested_by == CancelledBy::Buyer && c.lines.is_empty() && c.reason == "CUSTOMER_CANCEL"));
        // A cancellation the seller made (from the ERP) is not sent back to the ERP.
        o["orderLines"]["orderLine"][0]["orderLineStatuses"]["orderLineStatus"][0]["cancellationReason"] =
            json!("SELLER_CANCEL_OUT_OF_STOCK");
        assert!(to_records(&o, "walmart-us").unwrap_or_default().is_empty());
    }

    #[test]
    fn get_an_orders_date_time_is_read_too() {
        let mut o = order();
        o["orderDate"] = json!("2027-01-15T08:00:00.000Z");
        let records = to_records(&o, "walmart-us").unwrap_or_default();
        assert!(
            matches!(&records[0], Record::Order(o) if o.placed_at.to_rfc3339() == "2027-01-15T08:00:00+00:00")
        );
    }

    #[test]
    fn a_malformed_order_names_the_field() {
        let mut o = order();
        o["orderLines"]["orderLine"][0]["charges"]["charge"][0]["chargeAmount"]["amount"] =
            json!("lots");
        let error = to_records(&o, "walmart-us").err().unwrap_or_default();
        assert!(
            error.starts_with(
                "order 1796277083022: orderLines.orderLine[0].charges.charge[0].chargeAmount.amount"
            ),
            "{error}"
        );
        let mut o = order();
        o["shippingInfo"]["postalAddress"]["country"] = json!("Narnia");
        let error = to_records(&o, "walmart-us").err().unwrap_or_default();
        assert!(error.contains("Narnia"), "{error}");
    }
}
