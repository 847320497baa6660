//! A portal's orders into canonical records. The portal writes orders in its own JSON; the `ChannelMapping`'s
//! `orders` flow (expressions over `payload`) turns one into the canonical order's fields. Without that flow
//! the portal must send the canonical fields itself. Pure; errors name the field (the mapping's target or the
//! canonical path) and the order.

use channel_api::canonical::{CorrelationId, MarketplaceName, Order, OrderId, Record};
use channel_api::mapping::FlowPlan;
use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::Value;

/// One page of the orders endpoint: `{"orders": [...], "nextCursor": "...", "more": false}`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OrdersPage {
    pub orders: Vec<Value>,
    #[serde(default)]
    pub next_cursor: Option<String>,
    #[serde(default)]
    pub more: bool,
}

/// The revision of an order: seconds from its placement to its last update, plus one, so each change of the
/// order on the portal gets a new message id and an unchanged re-poll is dropped as a duplicate.
pub fn revision(placed: DateTime<Utc>, updated: DateTime<Utc>) -> u32 {
    u32::try_from((updated - placed).num_seconds().max(0) + 1).unwrap_or(u32::MAX)
}

/// One portal order as a canonical order of `marketplace`, through `plan` (the mapping's orders flow) when
/// there is one.
pub fn to_record(
    order: &Value,
    plan: Option<&FlowPlan>,
    marketplace: &str,
) -> Result<Record, String> {
    let mut fields = match plan {
        Some(plan) => plan.apply(order).map_err(|e| e.to_string())?,
        None => order.clone(),
    };
    let Some(object) = fields.as_object_mut() else {
        return Err("the order is not a JSON object".into());
    };
    let order_id = match object.get("orderId") {
        Some(Value::String(id)) => id.clone(),
        Some(other) => return Err(format!("orderId: not a string (value: {other})")),
        None => return Err("orderId: missing".into()),
    };
    let context = |e: String| format!("order {order_id}: {e}");
    let marketplace_name = MarketplaceName::try_from(marketplace).map_err(context)?;
    let id = OrderId::try_from(order_id.as_str()).map_err(|e| context(format!("orderId: {e}")))?;
    let placed = time(object.get("placedAt"), "placedAt").map_err(context)?;
    let updated = time(object.get("updatedAt"), "updatedAt").map_err(context)?;
    let correlation_id = CorrelationId::for_order(&marketplace_name, &id);
    object.insert("correlationId".into(), Value::from(correlation_id.as_str()));
    object.insert("marketplace".into(), Value::from(marketplace));
    object
        .entry("revision")
        .or_insert_with(|| Value::from(revision(placed, updated)));
    let order: Order = serde_path_to_error::deserialize(&fields).map_err(|e| {
        let path = e.path().to_string();
        context(format!("{path}: {}", e.into_inner()))
    })?;
    Ok(Record::Order(Box::new(order)))
}

fn time(value: Option<&Value>, field: &str) -> Result<DateTime<Utc>, String> {
    let raw = match value {
        Some(Value::String(raw)) => raw,
        Some(other) => return Err(format!("{field}: not a date-time (value: {other})")),
        None => return Err(format!("{field}: missing")),
    };
    DateTime::parse_from_rfc3339(raw)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|e| format!("{field}: not an RFC 3339 date-time (value: {raw:?}): {e}"))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use serde_json::json;

    pub fn canonical() -> Value {
        json!({
            "orderId": "PO-1",
            "status": "Pending",
            "placedAt": "2026-11-28T10:00:00Z",
            "updatedAt": "2026-11-28T10:00:09Z",
            "buyer": {"name": "Acme GmbH"},
            "shipTo": {"name": "Acme", "line1": "Hafenstr. 1", "city": "Hamburg", "postalCode": "20457", "country": "DE"},
            "lines": [{"lineId": "1", "sku": "TW-1001", "quantity": 2,
                       "unitPrice": {"amount": "10.00", "currency": "EUR"},
                       "tax": {"amount": "3.80", "currency": "EUR"}}],
            "totals": {"subtotal": {"amount": "20.00", "currency": "EUR"},
                       "shipping": {"amount": "0", "currency": "EUR"},
                       "tax": {"amount": "3.80", "currency": "EUR"},
                       "discount": {"amount": "0", "currency": "EUR"},
                       "total": {"amount": "23.80", "currency": "EUR"}},
            "fulfilment": {"by": "Merchant"}
        })
    }

    #[test]
    fn a_canonical_order_gets_its_correlation_id_and_revision() {
        let Record::Order(order) = to_record(&canonical(), None, "b2b-portal").unwrap() else {
            panic!("not an order");
        };
        assert_eq!(order.correlation_id.as_str(), "b2b-portal:PO-1");
        assert_eq!(order.revision, 10);
        assert_eq!(order.lines[0].quantity, 2);
        assert_eq!(order.totals.total.amount.to_string(), "23.80");
    }

    #[test]
    fn a_bad_field_is_named_with_the_order() {
        let mut order = canonical();
        order["shipTo"].as_object_mut().unwrap().remove("country");
        let e = to_record(&order, None, "b2b-portal").unwrap_err();
        assert!(
            e.starts_with("order PO-1: shipTo: missing field `country`"),
            "{e}"
        );
        let mut order = canonical();
        order["lines"][0]["quantity"] = json!("two");
        let e = to_record(&order, None, "b2b-portal").unwrap_err();
        assert!(
            e.starts_with("order PO-1: lines[0].quantity: invalid type"),
            "{e}"
        );
        let mut order = canonical();
        order["placedAt"] = json!("yesterday");
        let e = to_record(&order, None, "b2b-portal").unwrap_err();
        assert!(
            e.starts_with("order PO-1: placedAt: not an RFC 3339 date-time (value: \"yesterday\")"),
            "{e}"
        );
        assert_eq!(
            to_record(&json!({"status": "Pending"}), None, "b2b-portal").unwrap_err(),
            "orderId: missing"
        );
    }
}
