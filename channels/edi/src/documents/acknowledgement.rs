//! 855 Purchase Order Acknowledgment, out: the ERP's answer to an 850.
//!
//! `BAK*00*<AT accepted | RJ rejected | AC accepted with changes>*<PO number>*<CCYYMMDD>****<our order
//! number>` and, for a seller's cancellation of some lines, `PO1`/`ACK*IR` (item rejected) per cancelled line.
//! A cancellation of the whole order is an `RJ`.

use serde_json::Value;

use super::{date, field, record_time, text};
use crate::x12::Segment;

/// The body of one 855 for an order update (`kind` accepted, rejected or cancelled).
pub fn body(fields: &Value) -> Result<Vec<Segment>, String> {
    let order_id = field(fields, "orderId").ok_or("the record's orderId is missing")?;
    let at = record_time(fields, "at")?;
    let kind = field(fields, "kind").unwrap_or_default();
    let outcome = fields.get("outcome");
    // The canonical outcome names its fields in snake case (serde renames only its variants).
    let erp_number = text(outcome.and_then(|o| {
        o.get("erp_order_number")
            .or_else(|| o.get("erpOrderNumber"))
    }))
    .unwrap_or_default();
    let cancelled: Vec<&Value> = fields
        .get("lines")
        .and_then(Value::as_array)
        .map(|l| l.iter().collect())
        .unwrap_or_default();
    let code = match kind.as_str() {
        "accepted" => "AT",
        "rejected" => "RJ",
        "cancelled" if cancelled.is_empty() => "RJ",
        "cancelled" => "AC",
        other => {
            return Err(format!(
                "field kind must be accepted, rejected or cancelled, got {other:?}"
            ));
        }
    };
    let mut segments = vec![
        Segment::new(
            "BAK",
            &["00", code, &order_id, &date(at), "", "", "", &erp_number],
        )
        .trimmed(),
    ];
    for line in cancelled {
        let id = field(line, "lineId").ok_or("a cancelled line has no lineId")?;
        let quantity = field(line, "quantity").ok_or("a cancelled line has no quantity")?;
        let sku = field(line, "sku").ok_or("a cancelled line has no sku")?;
        segments.push(Segment::new(
            "PO1",
            &[&id, &quantity, "EA", "", "", "VN", &sku],
        ));
        segments.push(Segment::new("ACK", &["IR", &quantity, "EA"]));
    }
    Ok(segments)
}
