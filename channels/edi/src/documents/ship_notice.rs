//! 856 Ship Notice/Manifest, out: one set per shipment, in the standard pick-and-pack HL hierarchy
//! shipment (S) > order (O) > items (I).
//!
//! `BSN*00*<shipment id>*<CCYYMMDD>*<HHMM>*0001`, `HL*1**S` with `TD5*B*2*<SCAC>` (TD502/TD503 from the
//! mapping, the record's carrier otherwise), `REF*CN*<tracking>` and `DTM*011*<ship date>`; `HL*2*1*O` with
//! `PRF*<PO number>`; per line `HL*n*2*I` with `LIN*<line>*VN*<sku>` and `SN1*<line>*<quantity>*EA`; `CTT*<HL
//! count>`.

use serde_json::Value;

use super::{date, field, mapped, quantity, record_time, required, text, time};
use crate::x12::Segment;

/// The body of one 856.
pub fn body(fields: &Value, record: &Value) -> Result<Vec<Segment>, String> {
    let shipped = record_time(record, "shippedAt")?;
    let shipment_id = required(fields, record, ("BSN", "BSN02"), "shipmentId")?;
    let bsn_date = mapped(fields, "BSN", "BSN03").unwrap_or_else(|| date(shipped));
    let bsn_time = mapped(fields, "BSN", "BSN04").unwrap_or_else(|| time(shipped));
    let qualifier = mapped(fields, "TD5", "TD502").unwrap_or_else(|| "2".into());
    let carrier = required(fields, record, ("TD5", "TD503"), "carrier")?;
    let tracking = required(fields, record, ("REF", "REF02"), "trackingNumber")?;
    let po = required(fields, record, ("PRF", "PRF01"), "orderId")?;
    let mut segments = vec![
        Segment::new("BSN", &["00", &shipment_id, &bsn_date, &bsn_time, "0001"]),
        Segment::new("HL", &["1", "", "S"]),
        Segment::new("TD5", &["B", &qualifier, &carrier]),
        Segment::new("REF", &["CN", &tracking]),
        Segment::new("DTM", &["011", &date(shipped)]),
        Segment::new("HL", &["2", "1", "O"]),
        Segment::new("PRF", &[&po]),
    ];
    let items = items(fields, record)?;
    if items.is_empty() {
        return Err("the shipment has no lines".into());
    }
    let mut hl = 2;
    for (line, qualifier, sku, qty, unit) in items {
        hl += 1;
        segments.push(Segment::new("HL", &[&hl.to_string(), "2", "I"]));
        segments.push(Segment::new("LIN", &[&line, &qualifier, &sku]));
        segments.push(Segment::new("SN1", &[&line, &qty.to_string(), &unit]));
    }
    segments.push(Segment::new("CTT", &[&hl.to_string()]));
    Ok(segments)
}

type Item = (String, String, String, i64, String);

/// The shipped lines: the mapping's `items` (LIN01..03, SN102, SN103), else the record's `lines`.
fn items(fields: &Value, record: &Value) -> Result<Vec<Item>, String> {
    if let Some(mapped) = fields.get("items").and_then(Value::as_array) {
        return mapped
            .iter()
            .enumerate()
            .map(|(i, item)| {
                let get = |k: &str| text(item.get(k));
                let line = get("LIN01").unwrap_or_else(|| (i + 1).to_string());
                let sku = get("LIN03").ok_or(format!("items[{i}].LIN03 is missing"))?;
                let qty = quantity(
                    &get("SN102").ok_or(format!("items[{i}].SN102 is missing"))?,
                    "SN102",
                )?;
                Ok((
                    line,
                    get("LIN02").unwrap_or_else(|| "VN".into()),
                    sku,
                    qty,
                    get("SN103").unwrap_or_else(|| "EA".into()),
                ))
            })
            .collect();
    }
    record
        .get("lines")
        .and_then(Value::as_array)
        .ok_or("the record's lines are missing")?
        .iter()
        .enumerate()
        .map(|(i, l)| {
            let line = field(l, "lineId").unwrap_or_else(|| (i + 1).to_string());
            let sku = field(l, "sku").ok_or(format!("lines[{i}].sku is missing"))?;
            let qty = quantity(&field(l, "quantity").unwrap_or_default(), "quantity")?;
            Ok((line, "VN".into(), sku, qty, "EA".into()))
        })
        .collect()
}
