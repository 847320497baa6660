//! 850 Purchase Order, in: one canonical order per set.
//!
//! Read: `BEG` (BEG01 purpose: 00 original, 05 replace, 01 cancellation; BEG03 the PO number, which becomes
//! the order id; BEG05 the PO date), `CUR` (CUR02 currency, else the marketplace's), `DTM*010` (requested
//! ship date), `TD5` (TD505 routing as the service level), `PER` (TE phone, EM email), the `N1` loops (`BY`
//! buyer, `ST` ship-to with its `N3` and `N4`), `PO1` lines (PO101 line id, PO102 quantity, PO104 unit price,
//! and the first of the VN/SK/BP/UP/IN product ids in PO106..PO125) and `CTT` (its count must match).
//! A purchase order states no tax or shipping: those totals are zero and the total is the sum of the lines.

use chrono::{DateTime, NaiveDate, NaiveTime, Utc};
use rust_decimal::Decimal;

use channel_api::canonical::{
    Address, Buyer, CorrelationId, Currency, FulfilledBy, Fulfilment, MarketplaceName, Money,
    Order, OrderId, OrderLine, OrderStatus, OrderTotals, Sku,
};

use crate::x12::{Group, Segment, Transaction};

/// Product id qualifiers, in the order they are preferred as the SKU: vendor's (our) part number first.
const PRODUCT_QUALIFIERS: [&str; 5] = ["VN", "SK", "BP", "UP", "IN"];

/// Where a value sits in a set: segment position (ST = 1) and element.
fn at(position: usize, segment: &Segment, element: usize, reason: impl Into<String>) -> String {
    format!(
        "segment {position} ({}), element {element:02} ({}{element:02}): {}",
        segment.id,
        segment.id,
        reason.into()
    )
}

fn ccyymmdd(value: &str) -> Option<NaiveDate> {
    NaiveDate::parse_from_str(value, "%Y%m%d").ok()
}

/// The group's date and time (GS04/GS05), when the partner sent it: an order's `updatedAt`.
fn sent_at(group: &Group) -> Option<DateTime<Utc>> {
    let date = ccyymmdd(&group.date)?;
    let hhmm = group.time.get(..4)?;
    let time = NaiveTime::parse_from_str(hhmm, "%H%M").ok()?;
    Some(date.and_time(time).and_utc())
}

/// One 850 set as a canonical order of `marketplace`. `currency` applies when the set has no CUR.
pub fn to_order(
    marketplace: &MarketplaceName,
    currency: Currency,
    group: &Group,
    set: &Transaction,
) -> Result<Order, String> {
    let within = |e: String| format!("850 {}: {e}", set.control_number);
    let numbered = || set.segments.iter().enumerate().map(|(i, s)| (i + 2, s));
    let (beg_at, beg) = numbered()
        .find(|(_, s)| s.id == "BEG")
        .ok_or_else(|| within("no BEG segment".into()))?;
    let po = beg.get(3);
    let order_id = OrderId::try_from(po).map_err(|e| within(at(beg_at, beg, 3, e)))?;
    let (revision, status) = match beg.get(1) {
        "00" => (1, OrderStatus::Unshipped),
        "05" => (2, OrderStatus::Unshipped),
        "01" => (3, OrderStatus::Cancelled),
        other => {
            return Err(within(at(
                beg_at,
                beg,
                1,
                format!(
                    "purpose {other:?} is not 00 (original), 05 (replace) or 01 (cancellation)"
                ),
            )));
        }
    };
    let placed = ccyymmdd(beg.get(5))
        .ok_or_else(|| {
            within(at(
                beg_at,
                beg,
                5,
                format!("{:?} is not a date CCYYMMDD", beg.get(5)),
            ))
        })?
        .and_hms_opt(0, 0, 0)
        .map(|t| t.and_utc())
        .ok_or_else(|| within("BEG05 out of range".into()))?;
    let currency = match numbered().find(|(_, s)| s.id == "CUR") {
        Some((p, s)) => s
            .get(2)
            .parse::<Currency>()
            .map_err(|e| within(at(p, s, 2, e)))?,
        None => currency,
    };
    let money = |amount: Decimal| Money::new(amount, currency);

    // N1 loops: each N1 owns the N2/N3/N4/PER segments up to the next N1 or PO1.
    let mut parties: Vec<(&str, Vec<&Segment>)> = Vec::new();
    let mut header_per = None;
    let mut lines = Vec::new();
    let mut in_detail = false;
    let mut subtotal = Decimal::ZERO;
    let mut ship_by = None;
    let mut service_level = None;
    let mut ctt = None;
    for (p, s) in numbered() {
        match s.id.as_str() {
            "N1" if !in_detail => parties.push((s.get(1), vec![s])),
            "N2" | "N3" | "N4" | "PER" if !in_detail && !parties.is_empty() => {
                if let Some(last) = parties.last_mut() {
                    last.1.push(s);
                }
            }
            "PER" if !in_detail => header_per = Some(s),
            "DTM" if !in_detail && s.get(1) == "010" => {
                let d = ccyymmdd(s.get(2)).ok_or_else(|| {
                    within(at(
                        p,
                        s,
                        2,
                        format!("{:?} is not a date CCYYMMDD", s.get(2)),
                    ))
                })?;
                ship_by = d.and_hms_opt(23, 59, 59).map(|t| t.and_utc());
            }
            "TD5" if !in_detail => {
                service_level = Some(s.get(5)).filter(|v| !v.is_empty()).map(str::to_string);
            }
            "PO1" => {
                in_detail = true;
                let line = po1(p, s, money).map_err(within)?;
                subtotal += line.unit_price.amount * Decimal::from(line.quantity);
                lines.push(line);
            }
            "CTT" => {
                ctt =
                    Some(s.get(1).parse::<usize>().map_err(|_| {
                        within(at(p, s, 1, format!("{:?} is not a count", s.get(1))))
                    })?)
                    .map(|n| (p, s, n));
            }
            _ => {}
        }
    }
    if lines.is_empty() {
        return Err(within("no PO1 line".into()));
    }
    if let Some((p, s, n)) = ctt
        && n != lines.len()
    {
        return Err(within(at(
            p,
            s,
            1,
            format!("states {n} lines, the set has {}", lines.len()),
        )));
    }
    let party = |code: &str| parties.iter().find(|(c, _)| *c == code).map(|(_, s)| s);
    let ship_to = party("ST").ok_or_else(|| within("no N1*ST (ship-to) loop".into()))?;
    let n1 = ship_to[0];
    let n3 = in_party(ship_to, "N3")
        .ok_or_else(|| within("the N1*ST loop has no N3 (address)".into()))?;
    let n4 = in_party(ship_to, "N4")
        .ok_or_else(|| within("the N1*ST loop has no N4 (city, postal code)".into()))?;
    let optional = |v: &str| Some(v).filter(|v| !v.is_empty()).map(str::to_string);
    let country = optional(n4.get(4)).unwrap_or_else(|| "US".into());
    let buyer = party("BY");
    let per = buyer.and_then(|b| in_party(b, "PER")).or(header_per);
    let contact = |qualifier: &str| {
        per.and_then(|s| {
            [(3, 4), (5, 6), (7, 8)]
                .into_iter()
                .find(|(q, _)| s.get(*q) == qualifier)
                .map(|(_, v)| s.get(v).to_string())
        })
    };
    let total = money(subtotal);
    Ok(Order {
        correlation_id: CorrelationId::for_order(marketplace, &order_id),
        marketplace: marketplace.clone(),
        order_id,
        revision,
        status,
        placed_at: placed,
        updated_at: sent_at(group).unwrap_or(placed).max(placed),
        buyer: Buyer {
            name: buyer
                .map(|b| b[0].get(2).to_string())
                .filter(|n| !n.is_empty())
                .unwrap_or_else(|| group.sender_code.clone()),
            email: contact("EM"),
            phone: contact("TE"),
        },
        ship_to: Address {
            name: n1.get(2).to_string(),
            line1: n3.get(1).to_string(),
            line2: optional(n3.get(2)),
            city: n4.get(1).to_string(),
            region: optional(n4.get(2)),
            postal_code: n4.get(3).to_string(),
            // N404 is omitted for domestic addresses; X12's home is the US.
            country,
        },
        lines,
        totals: OrderTotals {
            subtotal: total,
            shipping: money(Decimal::ZERO),
            tax: money(Decimal::ZERO),
            discount: money(Decimal::ZERO),
            total,
        },
        fulfilment: Fulfilment {
            by: FulfilledBy::Merchant,
            service_level,
            ship_by,
        },
        enrichment: None,
    })
}

fn in_party<'a>(segments: &[&'a Segment], id: &str) -> Option<&'a Segment> {
    segments.iter().find(|s| s.id == id).copied()
}

fn po1(p: usize, s: &Segment, money: impl Fn(Decimal) -> Money) -> Result<OrderLine, String> {
    let line_id = s.get(1);
    if line_id.is_empty() {
        return Err(at(p, s, 1, "the line has no assigned id"));
    }
    let quantity = s
        .get(2)
        .parse::<i64>()
        .ok()
        .filter(|q| *q > 0)
        .ok_or_else(|| {
            at(
                p,
                s,
                2,
                format!("quantity {:?} is not a positive whole number", s.get(2)),
            )
        })?;
    // Parsed from the text: never through binary floating point.
    let price = s
        .get(4)
        .parse::<Decimal>()
        .ok()
        .filter(|d| *d >= Decimal::ZERO)
        .ok_or_else(|| {
            at(
                p,
                s,
                4,
                format!("unit price {:?} is not a decimal amount", s.get(4)),
            )
        })?;
    let ids: Vec<(usize, &str, &str)> = (6..=24)
        .step_by(2)
        .map(|q| (q + 1, s.get(q), s.get(q + 1)))
        .filter(|(_, q, v)| !q.is_empty() && !v.is_empty())
        .collect();
    let (element, sku) = PRODUCT_QUALIFIERS
        .iter()
        .find_map(|wanted| ids.iter().find(|(_, q, _)| q == wanted))
        .or(ids.first())
        .map(|(e, _, v)| (*e, *v))
        .ok_or_else(|| at(p, s, 6, "the line names no product (PO106/PO107)"))?;
    Ok(OrderLine {
        line_id: line_id.to_string(),
        sku: Sku::try_from(sku).map_err(|e| at(p, s, element, e))?,
        quantity,
        unit_price: money(price),
        tax: money(Decimal::ZERO),
        discount: None,
    })
}
