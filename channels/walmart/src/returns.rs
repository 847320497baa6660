//! Walmart `getReturns` return orders into canonical returns, with the refund Walmart states. Pure.

use channel_api::canonical::{
    CorrelationId, Currency, MarketplaceName, Money, OrderId, Record, Return, ReturnLine,
    ReturnStatus,
};
use chrono::{DateTime, Utc};
use serde_json::Value;

use crate::orders::decimal;

/// The return orders of a `getReturns` answer.
pub fn returns_of(answer: &Value) -> Vec<Value> {
    answer
        .get("returnOrders")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default()
}

/// A return line's status as the canonical status: refunded once Walmart refunded it, received once it was
/// delivered back, rejected when cancelled, requested while only initiated.
fn status(line: &Value) -> ReturnStatus {
    let refund = line
        .get("currentRefundStatus")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let status = line
        .get("status")
        .and_then(Value::as_str)
        .unwrap_or_default();
    if refund.eq_ignore_ascii_case("REFUND_COMPLETED") || status == "COMPLETED" {
        ReturnStatus::Refunded
    } else if status == "CANCELLED" {
        ReturnStatus::Rejected
    } else if status == "DELIVERED"
        || line
            .get("currentDeliveryStatus")
            .and_then(Value::as_str)
            .is_some_and(|s| s == "DELIVERED")
    {
        ReturnStatus::Received
    } else if status == "INITIATED" {
        ReturnStatus::Requested
    } else {
        ReturnStatus::Authorized
    }
}

/// One return order as a canonical return for `marketplace`. Its order is the purchase order of its lines.
pub fn to_record(ret: &Value, marketplace: &str) -> Result<Record, String> {
    let return_id = ret
        .get("returnOrderId")
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .ok_or("returnOrderId: missing")?;
    let context = |e: String| format!("return {return_id}: {e}");
    let lines = ret
        .get("returnOrderLines")
        .and_then(Value::as_array)
        .filter(|l| !l.is_empty())
        .ok_or_else(|| context("returnOrderLines: missing or empty".into()))?;
    let order_id = lines[0]
        .get("purchaseOrderId")
        .and_then(Value::as_str)
        .ok_or_else(|| context("returnOrderLines[0].purchaseOrderId: missing".into()))?;
    let marketplace_name = MarketplaceName::try_from(marketplace).map_err(context)?;
    let order = OrderId::try_from(order_id).map_err(context)?;
    let created = ret
        .get("returnOrderDate")
        .and_then(Value::as_str)
        .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
        .map(|t| t.with_timezone(&Utc))
        .ok_or_else(|| context("returnOrderDate: missing or not a date-time".into()))?;
    let canonical_lines = lines
        .iter()
        .enumerate()
        .map(|(i, l)| {
            let at = |e: String| context(format!("returnOrderLines[{i}].{e}"));
            let line_id = match l.get("purchaseOrderLineNumber") {
                Some(Value::Number(n)) => n.to_string(),
                Some(Value::String(s)) => s.clone(),
                _ => return Err(at("purchaseOrderLineNumber: missing".into())),
            };
            let quantity = decimal(l, "/quantity/measurementValue")
                .map_err(at)?
                .normalize()
                .to_string()
                .parse::<i64>()
                .ok()
                .filter(|q| *q > 0)
                .ok_or_else(|| {
                    at("quantity.measurementValue: a positive whole number is required".into())
                })?;
            Ok(ReturnLine {
                line_id,
                sku: l
                    .pointer("/item/sku")
                    .and_then(Value::as_str)
                    .ok_or_else(|| at("item.sku: missing".into()))?
                    .try_into()
                    .map_err(at)?,
                quantity,
                reason: l
                    .get("returnReason")
                    .and_then(Value::as_str)
                    .unwrap_or("UNSPECIFIED")
                    .to_string(),
            })
        })
        .collect::<Result<Vec<_>, String>>()?;
    let refund = match ret.get("totalRefundAmount") {
        Some(total) if !total.is_null() => Some(Money::new(
            decimal(total, "/currencyAmount")
                .map_err(|e| context(format!("totalRefundAmount.{e}")))?,
            total
                .get("currencyUnit")
                .and_then(Value::as_str)
                .ok_or_else(|| context("totalRefundAmount.currencyUnit: missing".into()))?
                .parse::<Currency>()
                .map_err(|e| context(format!("totalRefundAmount.currencyUnit: {e}")))?,
        )),
        _ => None,
    };
    Ok(Record::Return(Return {
        correlation_id: CorrelationId::for_order(&marketplace_name, &order),
        marketplace: marketplace_name,
        order_id: order,
        return_id: return_id.to_string(),
        status: status(&lines[0]),
        lines: canonical_lines,
        refund,
        created_at: created,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use rust_decimal::Decimal;
    use serde_json::json;

    #[test]
    fn a_return_maps_with_lines_and_refund() {
        let ret = json!({"returnOrderId": "R-1", "returnOrderDate": "2026-11-28T10:00:00Z",
            "totalRefundAmount": {"currencyAmount": 12.99, "currencyUnit": "USD"},
            "returnOrderLines": [{"purchaseOrderId": "PO-1", "purchaseOrderLineNumber": 1, "returnReason": "DAMAGED",
                "item": {"sku": "WM-1"}, "quantity": {"unitOfMeasure": "EACH", "measurementValue": 1.0},
                "status": "COMPLETED", "currentRefundStatus": "REFUND_COMPLETED"}]});
        let Ok(Record::Return(r)) = to_record(&ret, "walmart-us") else {
            panic!("a return")
        };
        assert_eq!(r.order_id.as_str(), "PO-1");
        assert_eq!(r.status, ReturnStatus::Refunded);
        assert_eq!(r.lines[0].quantity, 1);
        assert_eq!(r.refund.map(|m| m.amount), Some(Decimal::new(1299, 2)));
    }
}
