//! The documents, each from a small example, and their errors naming where they are.

use chrono::{TimeZone, Utc};
use rust_decimal::Decimal;
use serde_json::json;

use channel_api::canonical::{MarketplaceName, OrderStatus};

use super::*;
use crate::x12::{Group, Segment, Transaction};

fn seg(text: &str) -> Segment {
    let mut parts = text.split('*');
    let id = parts.next().unwrap_or_default();
    Segment {
        id: id.into(),
        elements: parts.map(str::to_string).collect(),
    }
}

fn group(sets: Vec<Transaction>) -> Group {
    Group {
        functional_id: "PO".into(),
        sender_code: "ACMERETAIL".into(),
        receiver_code: "TRADEWINDDIST".into(),
        date: "20260105".into(),
        time: "0930".into(),
        control_number: 77,
        version: "004010".into(),
        transactions: sets,
    }
}

fn set(control: &str, body: &[&str]) -> Transaction {
    Transaction {
        set_id: "850".into(),
        control_number: control.into(),
        segments: body.iter().map(|s| seg(s)).collect(),
    }
}

const PO: &[&str] = &[
    "BEG*00*SA*PO-9*REL*20260104",
    "CUR*BY*EUR",
    "PER*BD*Jo*TE*555-0100*EM*jo@acme.example",
    "DTM*010*20260110",
    "TD5*****UPS Ground",
    "N1*ST*Store 7*92*0007",
    "N3*1 Rue X*Bat B",
    "N4*Paris**75001*FR",
    "PO1*1*3*EA*2.10**UP*012345678905*VN*V-1",
    "PO1*2*1*EA*10**BP*B-2",
    "CTT*2",
];

fn order(body: &[&str]) -> Result<channel_api::canonical::Order, String> {
    let marketplace = MarketplaceName::try_from("acme").unwrap_or_else(|_| unreachable!());
    let t = set("0001", body);
    purchase_order::to_order(
        &marketplace,
        "USD".parse().unwrap_or_else(|_| unreachable!()),
        &group(vec![t.clone()]),
        &t,
    )
}

#[test]
fn an_850_becomes_a_canonical_order() {
    let o = order(PO).expect("valid");
    assert_eq!(o.order_id.as_str(), "PO-9");
    assert_eq!((o.revision, o.status), (1, OrderStatus::Unshipped));
    assert_eq!(
        o.placed_at,
        Utc.with_ymd_and_hms(2026, 1, 4, 0, 0, 0).unwrap()
    );
    assert_eq!(
        o.updated_at,
        Utc.with_ymd_and_hms(2026, 1, 5, 9, 30, 0).unwrap(),
        "GS04/GS05"
    );
    assert_eq!(
        o.totals.total.amount,
        Decimal::new(1630, 2),
        "3 x 2.10 + 10"
    );
    assert_eq!(o.totals.total.currency.as_str(), "EUR");
    assert_eq!(o.lines[0].sku.as_str(), "V-1", "VN preferred over UP");
    assert_eq!(
        o.lines[1].sku.as_str(),
        "B-2",
        "else the buyer's part number"
    );
    assert_eq!(o.ship_to.line2.as_deref(), Some("Bat B"));
    assert_eq!(
        (o.ship_to.country.as_str(), o.ship_to.region.as_deref()),
        ("FR", None)
    );
    assert_eq!(o.buyer.name, "ACMERETAIL", "no N1*BY: the partner");
    assert_eq!(o.buyer.phone.as_deref(), Some("555-0100"));
    assert_eq!(o.buyer.email.as_deref(), Some("jo@acme.example"));
    assert_eq!(o.fulfilment.service_level.as_deref(), Some("UPS Ground"));
    assert_eq!(
        o.fulfilment.ship_by,
        Some(Utc.with_ymd_and_hms(2026, 1, 10, 23, 59, 59).unwrap())
    );
    assert_eq!(o.totals_mismatch(), None);
}

#[test]
fn a_cancellation_is_a_later_revision() {
    let mut body = PO.to_vec();
    body[0] = "BEG*01*SA*PO-9**20260104";
    let o = order(&body).expect("valid");
    assert_eq!((o.revision, o.status), (3, OrderStatus::Cancelled));
}

#[test]
fn an_unusable_850_names_the_segment_and_element() {
    let mut body = PO.to_vec();
    body[10] = "CTT*3";
    let e = order(&body).unwrap_err();
    assert_eq!(
        e,
        "850 0001: segment 12 (CTT), element 01 (CTT01): states 3 lines, the set has 2"
    );
    body[10] = "CTT*2";
    body[8] = "PO1*1*3*EA*2,10**VN*V-1";
    let e = order(&body).unwrap_err();
    assert!(e.contains("segment 10 (PO1), element 04 (PO104)"), "{e}");
    body[8] = "PO1*1*3*EA*2.10";
    let e = order(&body).unwrap_err();
    assert!(
        e.contains("element 06 (PO106): the line names no product"),
        "{e}"
    );
    let without_ship_to: Vec<&str> = PO
        .iter()
        .copied()
        .filter(|s| !s.starts_with("N1*ST"))
        .collect();
    assert!(order(&without_ship_to).unwrap_err().contains("no N1*ST"));
    let mut bad_date = PO.to_vec();
    bad_date[0] = "BEG*00*SA*PO-9**2026-01-04";
    assert!(order(&bad_date).unwrap_err().contains("element 05 (BEG05)"));
}

#[test]
fn our_997_accepts_or_refuses_each_set_and_a_partners_997_is_read() {
    let g = group(vec![set("0001", PO), set("0002", PO)]);
    let body = functional_ack::answer(&g, &[true, false], &[]);
    let text: Vec<String> = body
        .iter()
        .map(|s| format!("{}*{}", s.id, s.elements.join("*")))
        .collect();
    assert_eq!(
        text,
        [
            "AK1*PO*77",
            "AK2*850*0001",
            "AK5*A",
            "AK2*850*0002",
            "AK5*R*5",
            "AK9*P*2*2*1"
        ]
    );
    let ack = functional_ack::read(&Transaction {
        set_id: "997".into(),
        control_number: "0001".into(),
        segments: body,
    })
    .expect("readable");
    assert_eq!(ack.group_control_number, 77);
    assert_eq!(ack.status, functional_ack::AckStatus::PartiallyAccepted);
    assert_eq!(
        ack.rejected_sets,
        vec![("850".into(), "0002".into(), "R".into())]
    );
    let e = functional_ack::read(&set("0001", &["AK9*A*1*1*1"])).unwrap_err();
    assert!(e.contains("no AK1"), "{e}");
}

#[test]
fn amounts_have_two_implied_decimals_never_rounded() {
    assert_eq!(invoice::implied_two_decimals("1234.5"), Ok(123_450));
    assert_eq!(invoice::implied_two_decimals("0.07"), Ok(7));
    assert!(invoice::implied_two_decimals("1.005").is_err());
    assert!(invoice::implied_two_decimals("12,00").is_err());
}

#[test]
fn a_partial_cancellation_is_an_855_with_the_cancelled_lines() {
    let update = json!({
        "kind": "cancelled", "orderId": "PO-9", "at": "2026-01-06T08:00:00Z",
        "lines": [{"lineId": "2", "sku": "B-2", "quantity": 1}]
    });
    let body = acknowledgement::body(&update).expect("valid");
    let text: Vec<String> = body
        .iter()
        .map(|s| format!("{}*{}", s.id, s.elements.join("*")))
        .collect();
    assert_eq!(
        text,
        [
            "BAK*00*AC*PO-9*20260106",
            "PO1*2*1*EA***VN*B-2",
            "ACK*IR*1*EA"
        ]
    );
    let rejected = json!({"kind": "rejected", "orderId": "PO-9", "at": "2026-01-06T08:00:00Z",
        "outcome": {"kind": "rejected", "reason": "no stock"}});
    assert_eq!(
        acknowledgement::body(&rejected).expect("valid")[0].get(2),
        "RJ"
    );
    assert!(
        acknowledgement::body(
            &json!({"kind": "maybe", "orderId": "X", "at": "2026-01-06T08:00:00Z"})
        )
        .is_err()
    );
}

#[test]
fn an_856_without_a_mapping_reads_the_canonical_shipment() {
    let shipment = json!({
        "orderId": "PO-9", "shipmentId": "PKG-9", "carrier": "UPSN", "trackingNumber": "1Z",
        "shippedAt": "2026-01-06T15:45:00Z",
        "lines": [{"lineId": "1", "sku": "V-1", "quantity": 3}]
    });
    let body = ship_notice::body(&shipment, &shipment).expect("valid");
    let text: Vec<String> = body
        .iter()
        .map(|s| format!("{}*{}", s.id, s.elements.join("*")))
        .collect();
    assert_eq!(
        text,
        [
            "BSN*00*PKG-9*20260106*1545*0001",
            "HL*1**S",
            "TD5*B*2*UPSN",
            "REF*CN*1Z",
            "DTM*011*20260106",
            "HL*2*1*O",
            "PRF*PO-9",
            "HL*3*2*I",
            "LIN*1*VN*V-1",
            "SN1*1*3*EA",
            "CTT*3"
        ]
    );
    let e =
        ship_notice::body(&json!({}), &json!({"shippedAt": "2026-01-06T15:45:00Z"})).unwrap_err();
    assert!(e.contains("BSN.BSN02"), "{e}");
}

#[test]
fn a_refused_interchange_is_answered_naming_set_segment_and_element() {
    let text = "ISA*00*          *00*          *ZZ*ACMERETAIL     *ZZ*TRADEWINDDIST  *260105*0930*U*00401*000000123*0*P*>~\
        GS*PO*ACMERETAIL*TRADEWINDDIST*20260105*0930*123*X*004010~\
        ST*850*0001~BEG*00*SA*PO-1**20260105~PO1*1*2*EA*1**VN*A~CTT*1~SE*5*0001~\
        ST*850*0002~BEG*00*SA*PO-2**20260105~PO1*1*2*EA*1**VN*A~CTT*1\u{7}~SE*5*0002~\
        GE*2*123~IEA*1*000000123~";
    let error = crate::x12::parse(text.as_bytes()).unwrap_err();
    assert_eq!(
        (error.segment, error.segment_id.as_str(), error.element),
        (11, "CTT", Some(1))
    );
    let scanned = crate::x12::scan::scan(text.as_bytes()).expect("envelope readable");
    let bodies = functional_ack::reject(&scanned, &error);
    let lines: Vec<String> = bodies[0]
        .iter()
        .map(|s| format!("{}*{}", s.id, s.elements.join("*")))
        .collect();
    assert_eq!(
        lines,
        [
            "AK1*PO*123",
            "AK2*850*0002",
            "AK3*CTT*4**8",
            "AK4*1**6",
            "AK5*R*5",
            "AK9*R*2*2*0"
        ]
    );
    // An error in the group trailer is the group's, with AK905.
    let bad_ge = text.replace('\u{7}', "").replace("GE*2*123", "GE*3*123");
    let error = crate::x12::parse(bad_ge.as_bytes()).unwrap_err();
    let scanned = crate::x12::scan::scan(bad_ge.as_bytes()).expect("envelope readable");
    let body = &functional_ack::reject(&scanned, &error)[0];
    let last = body.last().map(|s| s.elements.join("*"));
    assert_eq!(last.as_deref(), Some("R*2*2*0*5"));
}
