//! Orders v0 `confirmShipment` requests from a canonical shipment and its mapped fields. Pure.

use serde_json::{Value, json};

/// A `ConfirmShipmentRequest` for one package. The mapping gives Amazon's carrier code (through its value
/// map) and may override any `packageDetail` field; the order's lines and identity come from the record.
pub fn confirm_request(
    fields: &Value,
    record: &Value,
    marketplace_id: &str,
) -> Result<Value, String> {
    let mapped = fields
        .get("packageDetail")
        .cloned()
        .unwrap_or_else(|| json!({}));
    let field = |name: &str, canonical: &str| -> Result<Value, String> {
        mapped
            .get(name)
            .or_else(|| record.get(canonical))
            .filter(|v| !v.is_null())
            .cloned()
            .ok_or_else(|| {
                format!("packageDetail.{name}: neither mapped nor in the shipment ({canonical})")
            })
    };
    let lines = record
        .get("lines")
        .and_then(Value::as_array)
        .filter(|l| !l.is_empty())
        .ok_or("the shipment has no lines")?;
    let order_items: Vec<Value> = lines
        .iter()
        .map(|l| json!({ "orderItemId": l["lineId"], "quantity": l["quantity"] }))
        .collect();
    let mut detail = json!({
        "packageReferenceId": field("packageReferenceId", "shipmentId")?,
        "carrierCode": field("carrierCode", "carrier")?,
        "trackingNumber": field("trackingNumber", "trackingNumber")?,
        "shipDate": field("shipDate", "shippedAt")?,
        "orderItems": order_items,
    });
    for optional in ["carrierName", "shippingMethod", "shipFromSupplySourceId"] {
        if let Some(value) = mapped.get(optional) {
            detail[optional] = value.clone();
        }
    }
    Ok(json!({ "marketplaceId": marketplace_id, "packageDetail": detail }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_mapped_carrier_and_the_records_lines_make_the_request() {
        let record = json!({"orderId": "113-1", "shipmentId": "PKG-1", "carrier": "ups", "trackingNumber": "1Z",
            "shippedAt": "2026-11-28T10:00:00Z", "lines": [{"lineId": "9", "sku": "A", "quantity": 2}]});
        let fields = json!({"packageDetail": {"carrierCode": "UPS", "trackingNumber": "1Z"}});
        let request = confirm_request(&fields, &record, "ATVPDKIKX0DER").unwrap();
        assert_eq!(request["packageDetail"]["carrierCode"], "UPS");
        assert_eq!(request["packageDetail"]["packageReferenceId"], "PKG-1");
        assert_eq!(
            request["packageDetail"]["orderItems"][0],
            json!({"orderItemId": "9", "quantity": 2})
        );
    }
}
