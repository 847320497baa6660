//! Orders 2026-01-01 orders into canonical records: an order with its lines, buyer, ship-to and totals, or,
//! when the buyer asked to cancel, a cancellation. Pure.

use channel_api::canonical::{
    Address, Buyer, CancelledBy, CorrelationId, Currency, FulfilledBy, Fulfilment, LineQuantity,
    MarketplaceName, Money, Order, OrderCancellation, OrderId, OrderLine, OrderStatus, OrderTotals,
    Record,
};
use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use serde_json::Value;

fn text<'a>(value: &'a Value, pointer: &str) -> Result<&'a str, String> {
    value
        .pointer(pointer)
        .and_then(Value::as_str)
        .ok_or_else(|| {
            format!(
                "{}: missing",
                pointer.trim_start_matches('/').replace('/', ".")
            )
        })
}

fn time(value: &Value, pointer: &str) -> Result<DateTime<Utc>, String> {
    let raw = text(value, pointer)?;
    DateTime::parse_from_rfc3339(raw)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|e| {
            format!(
                "{}: not a date-time (value: {raw:?}): {e}",
                pointer.trim_start_matches('/')
            )
        })
}

fn money(value: &Value, pointer: &str) -> Result<Money, String> {
    let amount = text(value, &format!("{pointer}/amount"))?;
    let currency = text(value, &format!("{pointer}/currencyCode"))?;
    Ok(Money {
        amount: amount
            .parse::<Decimal>()
            .map_err(|e| format!("{pointer}.amount: not a decimal (value: {amount:?}): {e}"))?,
        currency: currency
            .parse::<Currency>()
            .map_err(|e| format!("{pointer}.currencyCode: {e}"))?,
    })
}

fn zero(currency: &Currency) -> Money {
    Money {
        amount: Decimal::ZERO,
        currency: *currency,
    }
}

/// The revision of an order: seconds from its creation to its last update, plus one. It grows with every
/// change, so a changed order gets a new message id and an unchanged one is dropped as a duplicate.
pub fn revision(created: DateTime<Utc>, updated: DateTime<Utc>) -> u32 {
    u32::try_from((updated - created).num_seconds().max(0) + 1).unwrap_or(u32::MAX)
}

/// One Amazon order as a canonical record, for the marketplace named `marketplace`.
pub fn to_record(order: &Value, marketplace: &str) -> Result<Record, String> {
    let order_id = text(order, "/orderId")?;
    let context = |e: String| format!("order {order_id}: {e}");
    let marketplace_name = MarketplaceName::try_from(marketplace).map_err(context)?;
    let id = OrderId::try_from(order_id).map_err(context)?;
    let correlation_id = CorrelationId::for_order(&marketplace_name, &id);
    let created = time(order, "/createdTime").map_err(context)?;
    let updated = time(order, "/lastUpdatedTime").map_err(context)?;
    let items = order
        .get("orderItems")
        .and_then(Value::as_array)
        .filter(|items| !items.is_empty())
        .ok_or_else(|| context("orderItems: missing or empty".into()))?;
    let status = text(order, "/fulfillment/fulfillmentStatus").unwrap_or("PENDING");
    let cancel_request = items
        .iter()
        .find_map(|i| i.pointer("/cancellation/cancellationRequest"));
    if status == "CANCELLED" || cancel_request.is_some() {
        let lines = items
            .iter()
            .map(|item| {
                Ok(LineQuantity {
                    line_id: text(item, "/orderItemId")?.to_string(),
                    sku: text(item, "/product/sellerSku")?.try_into()?,
                    quantity: item
                        .get("quantityOrdered")
                        .and_then(Value::as_i64)
                        .unwrap_or(0),
                })
            })
            .collect::<Result<Vec<_>, String>>()
            .map_err(context)?;
        let reason = cancel_request
            .and_then(|r| r.get("cancelReason"))
            .and_then(Value::as_str)
            .unwrap_or("cancelled on Amazon")
            .to_string();
        return Ok(Record::OrderCancellation(OrderCancellation {
            correlation_id,
            marketplace: marketplace_name,
            order_id: id,
            requested_by: CancelledBy::Buyer,
            lines,
            reason,
            at: updated,
        }));
    }
    let mut lines = Vec::with_capacity(items.len());
    let mut currency: Option<Currency> = None;
    let mut subtotal = Decimal::ZERO;
    for (i, item) in items.iter().enumerate() {
        let at = |e: String| context(format!("orderItems[{i}].{e}"));
        let unit_price = money(item, "/product/price/unitPrice").map_err(at)?;
        let quantity = item
            .get("quantityOrdered")
            .and_then(Value::as_i64)
            .filter(|q| *q > 0)
            .ok_or_else(|| at("quantityOrdered: a positive integer is required".into()))?;
        subtotal += unit_price.amount * Decimal::from(quantity);
        currency.get_or_insert(unit_price.currency);
        lines.push(OrderLine {
            line_id: text(item, "/orderItemId").map_err(at)?.to_string(),
            sku: text(item, "/product/sellerSku")
                .map_err(at)?
                .try_into()
                .map_err(at)?,
            quantity,
            tax: zero(&unit_price.currency),
            unit_price,
            discount: None,
        });
    }
    let currency = currency.ok_or_else(|| context("no priced line".into()))?;
    let address = order
        .pointer("/recipient/deliveryAddress")
        .ok_or_else(|| context("recipient.deliveryAddress: missing".into()))?;
    let ship_to = Address {
        name: text(address, "/name").map_err(context)?.to_string(),
        line1: text(address, "/addressLine1").map_err(context)?.to_string(),
        line2: address
            .get("addressLine2")
            .and_then(Value::as_str)
            .map(str::to_string),
        city: text(address, "/city").map_err(context)?.to_string(),
        region: address
            .get("stateOrRegion")
            .and_then(Value::as_str)
            .map(str::to_string),
        postal_code: text(address, "/postalCode").map_err(context)?.to_string(),
        country: text(address, "/countryCode").map_err(context)?.to_string(),
    };
    let total = Money {
        amount: subtotal,
        currency,
    };
    Ok(Record::Order(Box::new(Order {
        correlation_id,
        marketplace: marketplace_name,
        order_id: id,
        revision: revision(created, updated),
        status: match status {
            "UNSHIPPED" => OrderStatus::Unshipped,
            "PARTIALLY_SHIPPED" => OrderStatus::PartiallyShipped,
            "SHIPPED" => OrderStatus::Shipped,
            _ => OrderStatus::Pending,
        },
        placed_at: created,
        updated_at: updated,
        buyer: Buyer {
            name: order
                .pointer("/buyer/buyerName")
                .and_then(Value::as_str)
                .unwrap_or(&ship_to.name)
                .to_string(),
            email: order
                .pointer("/buyer/buyerEmail")
                .and_then(Value::as_str)
                .map(str::to_string),
            phone: address
                .get("phone")
                .and_then(Value::as_str)
                .map(str::to_string),
        },
        ship_to,
        lines,
        totals: OrderTotals {
            subtotal: total,
            shipping: zero(&currency),
            tax: zero(&currency),
            discount: zero(&currency),
            total,
        },
        fulfilment: Fulfilment {
            by: match order
                .pointer("/fulfillment/fulfilledBy")
                .and_then(Value::as_str)
            {
                Some("AMAZON") => FulfilledBy::Marketplace,
                _ => FulfilledBy::Merchant,
            },
            service_level: order
                .pointer("/fulfillment/fulfillmentServiceLevel")
                .and_then(Value::as_str)
                .map(str::to_string),
            ship_by: None,
        },
        enrichment: None,
    })))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn order(status: &str) -> Value {
        json!({
            "orderId": "113-1", "createdTime": "2026-11-28T10:00:00Z", "lastUpdatedTime": "2026-11-28T10:00:09Z",
            "salesChannel": {"channelName": "Amazon.com"},
            "recipient": {"deliveryAddress": {"name": "J", "addressLine1": "1 Main", "city": "Dallas", "postalCode": "75201", "countryCode": "US"}},
            "fulfillment": {"fulfillmentStatus": status, "fulfilledBy": "MERCHANT"},
            "orderItems": [{"orderItemId": "9", "quantityOrdered": 3,
                "product": {"sellerSku": "TW-1", "price": {"unitPrice": {"amount": "1.10", "currencyCode": "USD"}}}}]
        })
    }

    #[test]
    fn an_order_maps_with_lines_totals_and_revision() {
        let Record::Order(o) = to_record(&order("UNSHIPPED"), "amazon-us").unwrap() else {
            panic!("an order")
        };
        assert_eq!(o.correlation_id.as_str(), "amazon-us:113-1");
        assert_eq!(o.totals.total.amount, Decimal::new(330, 2));
        assert_eq!(o.revision, 10);
        assert_eq!(o.lines[0].line_id, "9");
        assert_eq!(o.status, OrderStatus::Unshipped);
    }

    #[test]
    fn a_cancelled_order_is_a_buyer_cancellation() {
        let record = to_record(&order("CANCELLED"), "amazon-us").unwrap();
        assert!(
            matches!(record, Record::OrderCancellation(c) if c.requested_by == CancelledBy::Buyer)
        );
    }

    #[test]
    fn a_missing_field_is_named() {
        let mut bad = order("UNSHIPPED");
        bad["orderItems"][0]["product"]["price"] = json!(null);
        let error = to_record(&bad, "amazon-us").unwrap_err();
        assert!(error.starts_with("order 113-1: orderItems[0]."), "{error}");
        assert!(error.contains("unitPrice"), "{error}");
    }
}
