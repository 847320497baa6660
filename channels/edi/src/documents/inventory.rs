//! 846 Inventory Inquiry/Advice, out: one set per batch, one LIN/QTY loop per SKU.
//!
//! `BIA*00*DD*<reference>*<CCYYMMDD>*<HHMM>` (original distributor inventory report), then per SKU
//! `LIN**<LIN02, default VN>*<LIN03, default the SKU>` and `QTY*<QTY01, default 33 available>*<quantity>*<unit,
//! default EA>`, and `CTT*<number of LIN loops>`.

use chrono::{DateTime, Utc};
use serde_json::Value;

use super::{date, mapped, quantity, required, time};
use crate::x12::Segment;

/// The LIN/QTY loop of one SKU, or why it cannot be sent.
pub fn item_loop(fields: &Value, record: &Value) -> Result<Vec<Segment>, String> {
    let qualifier = mapped(fields, "LIN", "LIN02").unwrap_or_else(|| "VN".into());
    let sku = required(fields, record, ("LIN", "LIN03"), "sku")?;
    let amount = mapped(fields, "QTY", "QTY02")
        .or_else(|| super::field(record, "available"))
        .ok_or("QTY.QTY02 (or the record's available) is missing")?;
    let amount = quantity(&amount, "QTY02")?;
    if amount < 0 {
        return Err(format!(
            "QTY02 {amount}: an 846 does not advertise a negative quantity"
        ));
    }
    let kind = mapped(fields, "QTY", "QTY01").unwrap_or_else(|| "33".into());
    let unit = mapped(fields, "QTY", "QTY03").unwrap_or_else(|| "EA".into());
    Ok(vec![
        Segment::new("LIN", &["", &qualifier, &sku]).trimmed(),
        Segment::new("QTY", &[&kind, &amount.to_string(), &unit]),
    ])
}

/// The body of one 846 holding `loops` (each from [`item_loop`]).
pub fn body(reference: &str, at: DateTime<Utc>, loops: Vec<Vec<Segment>>) -> Vec<Segment> {
    let count = loops.len();
    let mut segments = vec![Segment::new(
        "BIA",
        &["00", "DD", reference, &date(at), &time(at)],
    )];
    segments.extend(loops.into_iter().flatten());
    segments.push(Segment::new("CTT", &[&count.to_string()]));
    segments
}

/// An 846 read back (by the sandbox partner and tests): SKU and quantity per LIN loop.
pub fn read(segments: &[Segment]) -> Result<Vec<(String, i64)>, String> {
    let mut out: Vec<(String, Option<i64>)> = Vec::new();
    for s in segments {
        match s.id.as_str() {
            "LIN" => out.push((s.get(3).to_string(), None)),
            "QTY" if s.get(1) == "33" => {
                let last = out.last_mut().ok_or("QTY before any LIN")?;
                last.1 = Some(quantity(s.get(2), "QTY02")?);
            }
            _ => {}
        }
    }
    out.into_iter()
        .map(|(sku, q)| {
            q.map(|q| (sku.clone(), q))
                .ok_or(format!("LIN {sku} has no QTY*33"))
        })
        .collect()
}
