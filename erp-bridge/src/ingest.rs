//! What every ERP source shares: reading a canonical record (errors name the field), where an ERP record goes
//! in the topology, and the event it is published as. Pure; the sources do the I/O.

use adapter_runtime::canonical::{AcknowledgementOutcome, Record, Validate};
use adapter_runtime::envelope::Event;
use adapter_runtime::topology::{Namespace, OrderUpdateKind};
use chrono::Utc;
use crds::channel::Flow;

/// Where an ERP record goes: its subject, the flow it belongs to and its subject key; or why it cannot go
/// anywhere (the record is not one an ERP sends).
pub fn subject_for(
    ns: &Namespace,
    erp: &str,
    record: &Record,
) -> Result<(String, Flow, String), String> {
    Ok(match record {
        Record::Inventory(r) => {
            let sku = r.sku.to_string();
            (
                ns.erp_subject(erp, Flow::Inventory, &sku),
                Flow::Inventory,
                sku,
            )
        }
        Record::Price(r) => {
            let sku = r.sku.to_string();
            (ns.erp_subject(erp, Flow::Price, &sku), Flow::Price, sku)
        }
        Record::Product(r) => {
            let sku = r.sku.to_string();
            (ns.erp_subject(erp, Flow::Catalog, &sku), Flow::Catalog, sku)
        }
        Record::Shipment(s) => (
            ns.shipment_subject(
                erp,
                s.marketplace.as_str(),
                s.order_id.as_str(),
                &s.shipment_id,
            ),
            Flow::Shipments,
            s.order_id.to_string(),
        ),
        Record::Invoice(i) => (
            ns.invoice_subject(erp, i.marketplace.as_str(), &i.invoice_number),
            Flow::Invoices,
            i.invoice_number.clone(),
        ),
        Record::OrderCancellation(c) => (
            ns.order_update_subject(
                erp,
                c.marketplace.as_str(),
                c.order_id.as_str(),
                OrderUpdateKind::Cancelled,
            ),
            Flow::Orders,
            c.order_id.to_string(),
        ),
        // With a PostgreSQL or NATS sink the ERP answers an order asynchronously: it sends the
        // acknowledgement through its source, and the channel flow acknowledges the order from it.
        Record::OrderAcknowledgement(a) => {
            let kind = match a.outcome {
                AcknowledgementOutcome::Accepted { .. } => OrderUpdateKind::Accepted,
                AcknowledgementOutcome::Rejected { .. } => OrderUpdateKind::Rejected,
            };
            (
                ns.order_update_subject(erp, a.marketplace.as_str(), a.order_id.as_str(), kind),
                Flow::Orders,
                a.order_id.to_string(),
            )
        }
        other => {
            return Err(format!(
                "type: a {} record does not come from an ERP (expected inventory, price, product, shipment, \
                 invoice, orderAcknowledgement or orderCancellation)",
                other.event_type()
            ));
        }
    })
}

/// A canonical record `{"type": ..., "data": {...}}`, checked against its invariants. The error names the
/// field (`data.lines[0].quantity`) and the value. The `data` is read as the type's own struct, since serde
/// loses the field path inside a tagged enum.
pub fn parse_record(value: &serde_json::Value) -> Result<Record, String> {
    let tag = value
        .get("type")
        .and_then(serde_json::Value::as_str)
        .ok_or("type: required text (the record type, e.g. \"inventory\")")?;
    let data = value.get("data").ok_or("data: required object")?;
    let record = match tag {
        "inventory" => Record::Inventory(typed(data)?),
        "price" => Record::Price(typed(data)?),
        "product" => Record::Product(typed(data)?),
        "order" => Record::Order(Box::new(typed(data)?)),
        "orderAcknowledgement" => Record::OrderAcknowledgement(typed(data)?),
        "orderCancellation" => Record::OrderCancellation(typed(data)?),
        "shipment" => Record::Shipment(typed(data)?),
        "return" => Record::Return(typed(data)?),
        "settlement" => Record::Settlement(typed(data)?),
        "invoice" => Record::Invoice(typed(data)?),
        other => {
            return Err(format!(
                "type: unknown record type (value: {:?})",
                other.chars().take(60).collect::<String>()
            ));
        }
    };
    let problems = record.problems();
    if problems.is_empty() {
        Ok(record)
    } else {
        let texts: Vec<String> = problems.iter().map(|p| format!("data.{p}")).collect();
        Err(texts.join("; "))
    }
}

fn typed<T: serde::de::DeserializeOwned>(data: &serde_json::Value) -> Result<T, String> {
    serde_path_to_error::deserialize(data).map_err(|e| {
        let path = e.path().to_string();
        let at = if path == "." {
            "data".into()
        } else {
            format!("data.{path}")
        };
        format!("{at}: {}", e.inner())
    })
}

/// The CloudEvent `source` of everything an ERP connection publishes.
pub fn erp_source(namespace_name: &str, erp: &str) -> String {
    format!("/tradewind/{namespace_name}/erp/{erp}")
}

/// A record ready to publish: subject, event (with the idempotent id) and subject key.
pub struct Routed {
    pub subject: String,
    pub flow: Flow,
    pub event: Event,
    pub key: String,
}

/// The event of an ERP record with message id `id`, routed.
pub fn route(
    ns: &Namespace,
    namespace_name: &str,
    erp: &str,
    id: String,
    record: Record,
    traceparent: Option<String>,
) -> Result<Routed, String> {
    let (subject, flow, key) = subject_for(ns, erp, &record)?;
    Ok(Routed {
        subject,
        flow,
        key,
        event: Event {
            id,
            source: erp_source(namespace_name, erp),
            time: Utc::now(),
            traceparent,
            record,
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn inventory(available: serde_json::Value) -> serde_json::Value {
        json!({"type": "inventory", "data": {
            "correlationId": "erp:inv:A:1", "sku": "A", "available": available,
            "locations": [], "asOf": "2026-11-28T10:00:00Z"}})
    }

    #[test]
    fn a_valid_record_is_routed_by_its_sku() {
        let record = parse_record(&inventory(json!(5))).unwrap();
        let routed = route(
            &Namespace::new("ns"),
            "ns",
            "erp",
            "erp:x:1".into(),
            record,
            None,
        )
        .unwrap();
        assert_eq!(routed.subject, "tw.ns.erp.erp.inventory.A");
        assert_eq!(routed.flow, Flow::Inventory);
        assert_eq!(routed.event.id, "erp:x:1");
    }

    #[test]
    fn errors_name_the_field() {
        let error = parse_record(&inventory(json!("five"))).unwrap_err();
        assert!(error.starts_with("data.available:"), "{error}");
        let error = parse_record(&json!({"type": "stock", "data": {}})).unwrap_err();
        assert!(error.contains("type"), "{error}");
        let error = parse_record(&inventory(json!(-3))).unwrap_err();
        assert!(error.contains("data.available"), "{error}");
    }

    #[test]
    fn an_invoice_goes_to_its_marketplace_and_its_total_is_checked() {
        let invoice = |total: &str| {
            json!({"type": "invoice", "data": {
                "correlationId": "erp:invoice:INV-1", "marketplace": "acme-retail", "orderId": "PO-1",
                "invoiceNumber": "INV-1", "invoiceDate": "2026-11-28T10:00:00Z",
                "lines": [{"lineId": "1", "sku": "A", "quantity": 2,
                           "unitPrice": {"amount": "4.25", "currency": "USD"}}],
                "total": {"amount": total, "currency": "USD"}}})
        };
        let record = parse_record(&invoice("8.50")).unwrap();
        let routed = route(&Namespace::new("ns"), "ns", "erp", "x".into(), record, None).unwrap();
        assert_eq!(routed.subject, "tw.ns.erp.erp.invoices.acme-retail.INV-1");
        assert_eq!(routed.flow, Flow::Invoices);
        let error = parse_record(&invoice("9.00")).unwrap_err();
        assert!(error.starts_with("data.total:"), "{error}");
    }

    #[test]
    fn channel_records_do_not_come_from_an_erp() {
        let order: serde_json::Value = serde_json::from_str(include_str!(
            "../../adapter-runtime/tests/fixtures/order.json"
        ))
        .unwrap();
        let record = parse_record(&json!({"type": "order", "data": order})).unwrap();
        let error = route(&Namespace::new("ns"), "ns", "erp", "x".into(), record, None)
            .err()
            .unwrap();
        assert!(
            error.starts_with("type: a dev.tradewind.order.v1 record"),
            "{error}"
        );
    }
}
