//! Request bodies of the order actions: shipping updates (`POST /v3/orders/{id}/shipping`) and line
//! cancellations (`POST /v3/orders/{id}/cancel`). Pure; bad input is an error naming the field and value.

use chrono::DateTime;
use serde_json::{Value, json};

/// Walmart's carriers (`trackingInfo.carrierName.carrier` in the orders specification). Anything else is sent
/// by the mapping as `otherCarrier`, never guessed.
pub const CARRIERS: [&str; 12] = [
    "UPS",
    "USPS",
    "FedEx",
    "Airborne",
    "OnTrac",
    "DHL Ecommerce - US",
    "DHL",
    "LS",
    "UDS",
    "UPSMI",
    "FDX",
    "PILOT",
];

/// Walmart's shipping method codes.
pub const METHOD_CODES: [&str; 6] = [
    "Standard",
    "Express",
    "OneDay",
    "Freight",
    "WhiteGlove",
    "Value",
];

/// Walmart's seller cancellation reasons.
pub const CANCEL_REASONS: [&str; 5] = [
    "CUSTOMER_REQUESTED_SELLER_TO_CANCEL",
    "SELLER_CANCEL_PRICING_ERROR",
    "SELLER_CANCEL_OUT_OF_STOCK",
    "SELLER_CANCEL_FRAUD_STOP_SHIPMENT",
    "SELLER_CANCEL_ADDRESS_NOT_SERVICEABLE",
];

/// A mapped field under `trackingInfo` (the example mapping) or at the top level (a flat mapping).
fn mapped<'a>(fields: &'a Value, pointer: &str) -> Option<&'a Value> {
    fields
        .pointer(&format!("/trackingInfo{pointer}"))
        .or_else(|| fields.pointer(pointer))
        .filter(|v| !v.is_null())
}

/// A time as Walmart's epoch milliseconds, from a number or an RFC 3339 string.
fn epoch_millis(value: &Value, field: &str) -> Result<i64, String> {
    match value {
        Value::Number(n) => n.as_i64(),
        Value::String(s) => DateTime::parse_from_rfc3339(s)
            .ok()
            .map(|t| t.timestamp_millis()),
        _ => None,
    }
    .ok_or_else(|| format!("{field}: not a time (value: {value})"))
}

/// The carrier: the mapped `carrierName.carrier` (the mapping's value map gives Walmart's code), or the
/// shipment's carrier when it is one of Walmart's codes in another case (`ups`). It must be on Walmart's list.
fn carrier(fields: &Value, record: &Value) -> Result<Value, String> {
    if let Some(other) = mapped(fields, "/carrierName/otherCarrier").and_then(Value::as_str) {
        return Ok(json!({ "otherCarrier": other }));
    }
    let given = mapped(fields, "/carrierName/carrier")
        .or_else(|| record.get("carrier"))
        .and_then(Value::as_str)
        .ok_or("trackingInfo.carrierName.carrier: neither mapped nor in the shipment (carrier)")?;
    CARRIERS
        .iter()
        .find(|c| c.eq_ignore_ascii_case(given))
        .map(|c| json!({ "carrier": c }))
        .ok_or_else(|| {
            format!(
                "trackingInfo.carrierName.carrier: {given:?} is not one of Walmart's carriers ({}); map it with the ChannelMapping's carrier value map",
                CARRIERS.join(", ")
            )
        })
}

/// An `orderShipment` for the shipment's lines: each line `Shipped` with its quantity, the carrier, method
/// and tracking number. `sellerOrderId` (required by Walmart) is the mapped one or the order id.
pub fn shipping_request(fields: &Value, record: &Value) -> Result<Value, String> {
    let lines = record
        .get("lines")
        .and_then(Value::as_array)
        .filter(|l| !l.is_empty())
        .ok_or("the shipment has no lines")?;
    let tracking_number = mapped(fields, "/trackingNumber")
        .or_else(|| record.get("trackingNumber"))
        .and_then(Value::as_str)
        .filter(|t| !t.trim().is_empty())
        .ok_or(
            "trackingInfo.trackingNumber: neither mapped nor in the shipment (trackingNumber)",
        )?;
    let shipped = mapped(fields, "/shipDateTime")
        .or_else(|| record.get("shippedAt"))
        .ok_or("trackingInfo.shipDateTime: neither mapped nor in the shipment (shippedAt)")?;
    let ship_date_time = epoch_millis(shipped, "trackingInfo.shipDateTime")?;
    let method = mapped(fields, "/methodCode")
        .and_then(Value::as_str)
        .unwrap_or("Standard");
    if !METHOD_CODES.contains(&method) {
        return Err(format!(
            "trackingInfo.methodCode: {method:?} is not one of {}",
            METHOD_CODES.join(", ")
        ));
    }
    let seller_order_id = fields
        .get("sellerOrderId")
        .or_else(|| record.get("orderId"))
        .and_then(Value::as_str)
        .ok_or("sellerOrderId: neither mapped nor in the shipment (orderId)")?;
    let mut tracking = json!({
        "shipDateTime": ship_date_time,
        "carrierName": carrier(fields, record)?,
        "methodCode": method,
        "trackingNumber": tracking_number,
    });
    if let Some(url) = mapped(fields, "/trackingURL").and_then(Value::as_str) {
        tracking["trackingURL"] = Value::from(url);
    }
    let order_lines = lines
        .iter()
        .enumerate()
        .map(|(i, line)| {
            let line_number = line
                .get("lineId")
                .and_then(Value::as_str)
                .ok_or_else(|| format!("lines[{i}].lineId: missing"))?;
            let quantity = line
                .get("quantity")
                .and_then(Value::as_i64)
                .filter(|q| *q > 0)
                .ok_or_else(|| {
                    format!("lines[{i}].quantity: a positive whole number is required")
                })?;
            Ok(json!({
                "lineNumber": line_number,
                "sellerOrderId": seller_order_id,
                "orderLineStatuses": {"orderLineStatus": [{
                    "status": "Shipped",
                    "statusQuantity": {"unitOfMeasurement": "EACH", "amount": quantity.to_string()},
                    "trackingInfo": tracking,
                }]},
            }))
        })
        .collect::<Result<Vec<_>, String>>()?;
    Ok(json!({ "orderShipment": { "orderLines": { "orderLine": order_lines } } }))
}

/// Walmart's reason for a seller cancellation: the mapped `cancellationReason`, the ERP's reason when it is
/// one of Walmart's, else read from the ERP's words; out of stock when nothing says otherwise (the common
/// case of an ERP refusing an order).
pub fn cancellation_reason(fields: &Value) -> Result<&'static str, String> {
    if let Some(given) = fields.get("cancellationReason").and_then(Value::as_str) {
        return CANCEL_REASONS
            .iter()
            .find(|r| **r == given)
            .copied()
            .ok_or_else(|| {
                format!(
                    "cancellationReason: {given:?} is not one of {}",
                    CANCEL_REASONS.join(", ")
                )
            });
    }
    let reason = fields
        .get("reason")
        .and_then(Value::as_str)
        .unwrap_or_default();
    if let Some(exact) = CANCEL_REASONS.iter().find(|r| **r == reason) {
        return Ok(exact);
    }
    let words = reason.to_ascii_lowercase();
    Ok(
        if fields.get("requestedBy").and_then(Value::as_str) == Some("Buyer")
            || words.contains("customer")
            || words.contains("buyer")
        {
            "CUSTOMER_REQUESTED_SELLER_TO_CANCEL"
        } else if words.contains("price") || words.contains("pricing") {
            "SELLER_CANCEL_PRICING_ERROR"
        } else if words.contains("fraud") {
            "SELLER_CANCEL_FRAUD_STOP_SHIPMENT"
        } else if words.contains("address") {
            "SELLER_CANCEL_ADDRESS_NOT_SERVICEABLE"
        } else {
            "SELLER_CANCEL_OUT_OF_STOCK"
        },
    )
}

/// An `orderCancellation` of `lines` (line number, quantity) with `reason`.
pub fn cancel_request(lines: &[(String, i64)], reason: &str) -> Value {
    let order_lines: Vec<Value> = lines
        .iter()
        .map(|(line_number, quantity)| {
            json!({
                "lineNumber": line_number,
                "orderLineStatuses": {"orderLineStatus": [{
                    "status": "Cancelled",
                    "cancellationReason": reason,
                    "statusQuantity": {"unitOfMeasurement": "EACH", "amount": quantity.to_string()},
                }]},
            })
        })
        .collect();
    json!({ "orderCancellation": { "orderLines": { "orderLine": order_lines } } })
}

/// The lines a seller cancellation names (`lines` of the canonical cancellation) as (line number, quantity).
pub fn cancelled_lines(fields: &Value) -> Result<Vec<(String, i64)>, String> {
    let Some(lines) = fields.get("lines").and_then(Value::as_array) else {
        return Ok(Vec::new());
    };
    lines
        .iter()
        .enumerate()
        .map(|(i, l)| {
            Ok((
                l.get("lineId")
                    .and_then(Value::as_str)
                    .ok_or_else(|| format!("lines[{i}].lineId: missing"))?
                    .to_string(),
                l.get("quantity")
                    .and_then(Value::as_i64)
                    .filter(|q| *q > 0)
                    .ok_or_else(|| {
                        format!("lines[{i}].quantity: a positive whole number is required")
                    })?,
            ))
        })
        .collect()
}

/// The lines of an order (from `getAnOrder`) that can still be cancelled, with their quantities.
pub fn open_lines(order: &Value) -> Vec<(String, i64)> {
    order
        .pointer("/orderLines/orderLine")
        .and_then(Value::as_array)
        .map(|lines| {
            lines
                .iter()
                .filter(|l| {
                    !l.pointer("/orderLineStatuses/orderLineStatus")
                        .and_then(Value::as_array)
                        .is_some_and(|s| {
                            s.iter().any(|s| {
                                matches!(
                                    s.get("status").and_then(Value::as_str),
                                    Some("Cancelled" | "Shipped" | "Delivered")
                                )
                            })
                        })
                })
                .filter_map(|l| {
                    let number = l.get("lineNumber")?.as_str()?.to_string();
                    let quantity = crate::orders::decimal(l, "/orderLineQuantity/amount")
                        .ok()?
                        .to_string()
                        .parse::<i64>()
                        .ok()?;
                    Some((number, quantity))
                })
                .collect()
        })
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shipment() -> Value {
        json!({"orderId": "1796277083022", "shipmentId": "PKG-1", "carrier": "ups", "trackingNumber": "1Z",
            "shippedAt": "2026-11-28T10:00:00Z", "lines": [{"lineId": "1", "sku": "WM-1", "quantity": 2}]})
    }

    #[test]
    fn the_mapped_carrier_and_the_records_lines_make_the_request() {
        let fields = json!({"trackingInfo": {"carrierName": {"carrier": "FedEx"}, "methodCode": "Express",
            "trackingNumber": "7", "shipDateTime": "2026-11-28T10:00:00Z"}, "sellerOrderId": "SO-1"});
        let request = shipping_request(&fields, &shipment()).unwrap_or_default();
        let line = &request["orderShipment"]["orderLines"]["orderLine"][0];
        assert_eq!(line["lineNumber"], "1");
        assert_eq!(line["sellerOrderId"], "SO-1");
        let status = &line["orderLineStatuses"]["orderLineStatus"][0];
        assert_eq!(status["statusQuantity"]["amount"], "2");
        assert_eq!(status["trackingInfo"]["carrierName"]["carrier"], "FedEx");
        assert_eq!(
            status["trackingInfo"]["shipDateTime"],
            1_795_860_000_000_i64
        );
    }

    #[test]
    fn a_carrier_walmart_does_not_know_is_refused_by_name() {
        let fields = json!({"carrierName": {"carrier": "LaserShip"}});
        let error = shipping_request(&fields, &shipment())
            .err()
            .unwrap_or_default();
        assert!(
            error.contains("\"LaserShip\" is not one of Walmart's carriers"),
            "{error}"
        );
        // Unmapped, the ERP's code is accepted when it is Walmart's in another case.
        let request = shipping_request(&json!({}), &shipment()).unwrap_or_default();
        assert_eq!(
            request.pointer("/orderShipment/orderLines/orderLine/0/orderLineStatuses/orderLineStatus/0/trackingInfo/carrierName/carrier"),
            Some(&json!("UPS"))
        );
    }

    #[test]
    fn cancellation_reasons() {
        assert_eq!(
            cancellation_reason(&json!({"reason": "no stock in DAL"})).ok(),
            Some("SELLER_CANCEL_OUT_OF_STOCK")
        );
        assert_eq!(
            cancellation_reason(&json!({"reason": "Pricing error"})).ok(),
            Some("SELLER_CANCEL_PRICING_ERROR")
        );
        assert!(cancellation_reason(&json!({"cancellationReason": "WHIM"})).is_err());
        let body = cancel_request(&[("1".into(), 2)], "SELLER_CANCEL_OUT_OF_STOCK");
        assert_eq!(
            body.pointer("/orderCancellation/orderLines/orderLine/0/orderLineStatuses/orderLineStatus/0/statusQuantity/amount"),
            Some(&json!("2"))
        );
    }
}
