//! The connector called directly (no flows): control numbers under concurrency and across a NATS restart,
//! the 810 (the canonical model has no invoice event yet, so no flow feeds it), per-record failures, and
//! SFTP refusing a server whose host key is not the known one.

#![allow(clippy::unwrap_used)] // a test that cannot set up fails, which is what unwrap does

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use adapter_runtime::canonical::CorrelationId;
use adapter_runtime::config::NatsSettings;
use adapter_runtime::connector::{Connector, FailureKind, OutboundItem};
use adapter_runtime::jetstream::ensure_kv;
use adapter_runtime::resilience::Resilience;
use adapter_runtime::topology::Namespace;
use channel_edi::EdiConnector;
use channel_edi::settings::Partner;
use channel_edi::state::EdiState;
use channel_edi::transport::Transport;
use channel_edi::x12::Delimiters;
use crds::channel::Flow;
use crds::v1alpha1::RateLimitPolicySpec;
use sandbox_edi::SshServer;
use serde_json::json;
use test_support::NatsServer;

const MARKETPLACE: &str = "acme-retail";

fn partner() -> Partner {
    Partner {
        our_id: "TRADEWINDDIST".into(),
        our_qualifier: "ZZ".into(),
        partner_id: "ACMERETAIL".into(),
        partner_qualifier: "ZZ".into(),
        our_application: "TRADEWINDDIST".into(),
        partner_application: "ACMERETAIL".into(),
        delimiters: Delimiters::default(),
        usage: 'T',
        outbound_dir: "in".into(),
        inbound_dir: "out".into(),
        acknowledgement_deadline: Duration::from_secs(3600),
    }
}

fn resilience() -> Arc<Resilience> {
    let spec: RateLimitPolicySpec = serde_json::from_value(json!({
        "channel": "edi-x12",
        "defaults": {"retry": {"maxAttempts": 1, "initialBackoff": "10ms", "maxBackoff": "10ms"}}
    }))
    .unwrap();
    Arc::new(Resilience::new(spec, 1))
}

fn connector(transport: Transport, nats: &NatsServer) -> EdiConnector {
    EdiConnector::new(
        partner(),
        MARKETPLACE,
        "edi-connector-test",
        "USD",
        transport,
        NatsSettings {
            url: nats.url(),
            credentials_file: None,
            tls_ca_file: None,
        },
        resilience(),
    )
    .unwrap()
}

fn item(key: &str, record: serde_json::Value) -> OutboundItem {
    OutboundItem {
        key: key.into(),
        correlation_id: CorrelationId::try_from(key).unwrap(),
        fields: record.clone(),
        record,
    }
}

#[tokio::test]
async fn control_numbers_never_repeat_across_replicas_and_restarts() {
    let mut nats = NatsServer::start().await.unwrap();
    let js = nats.jetstream().await.unwrap();
    let ns = Namespace::new("edi-connector-test");
    let kv = ensure_kv(&js, &ns.cursor_bucket()).await.unwrap();
    // Two replicas allocating at once.
    let a = EdiState::new(kv.clone(), MARKETPLACE);
    let b = EdiState::new(kv, MARKETPLACE);
    let mut tasks = Vec::new();
    for i in 0..40 {
        let state = if i % 2 == 0 { a.clone() } else { b.clone() };
        tasks.push(tokio::spawn(async move {
            state.next_control_number().await.unwrap()
        }));
    }
    let mut numbers = BTreeSet::new();
    for t in tasks {
        assert!(
            numbers.insert(t.await.unwrap()),
            "a control number was handed out twice"
        );
    }
    assert_eq!(numbers, (1..=40).collect());
    // Another marketplace has its own sequence.
    let other = EdiState::new(ensure_kv(&js, &ns.cursor_bucket()).await.unwrap(), "other");
    assert_eq!(other.next_control_number().await.unwrap(), 1);

    nats.restart().await.unwrap();
    let js = nats.jetstream().await.unwrap();
    let state = EdiState::new(
        ensure_kv(&js, &ns.cursor_bucket()).await.unwrap(),
        MARKETPLACE,
    );
    assert_eq!(
        state.next_control_number().await.unwrap(),
        41,
        "persisted across a restart"
    );
}

#[tokio::test]
async fn invoices_go_out_as_810_and_a_bad_record_fails_alone() {
    let nats = NatsServer::start().await.unwrap();
    let root = tempfile::tempdir().unwrap();
    let retailer = sandbox_edi::Partner::new(root.path(), "ACMERETAIL", "TRADEWINDDIST").unwrap();
    let edi = connector(
        Transport::Folder(channel_edi::transport::folder::Folder::new(
            root.path().into(),
        )),
        &nats,
    );
    let invoice = json!({
        "invoiceNumber": "INV-500",
        "invoiceDate": "2026-01-06T10:00:00Z",
        "orderId": "PO-1001",
        "total": {"amount": "39.97", "currency": "USD"},
        "lines": [
            {"lineId": "1", "quantity": 2, "unitPrice": {"amount": "12.50"}, "sku": "0001001"},
            {"lineId": "2", "quantity": 3, "unitPrice": {"amount": "4.99"}, "sku": "TW-2002"}
        ]
    });
    let broken = json!({"invoiceNumber": "INV-501", "invoiceDate": "2026-01-06T10:00:00Z", "orderId": "PO-1",
        "total": {"amount": "1.005", "currency": "USD"}, "lines": []});
    let results = edi
        .deliver(
            Flow::Invoices,
            &[item("INV-500", invoice), item("INV-501", broken)],
        )
        .await;
    assert!(results[0].is_ok(), "{:?}", results[0]);
    let error = results[1].clone().unwrap_err();
    assert_eq!(error.kind, FailureKind::Permanent);
    assert!(
        error.message.contains("more than two decimals"),
        "{}",
        error.message
    );

    let received = retailer.received_sets("810").unwrap();
    assert_eq!(received.len(), 1);
    let r = &received[0];
    assert_eq!(r.functional_id, "IN");
    assert_eq!(r.sets.len(), 1, "the broken invoice was not sent");
    let big = r.segments("BIG")[0].clone();
    assert_eq!(big, ["BIG", "20260106", "INV-500", "", "PO-1001"]);
    assert_eq!(r.segments("TDS")[0][1], "3997", "two implied decimals");
    let it1: Vec<Vec<String>> = r.segments("IT1").into_iter().cloned().collect();
    assert_eq!(it1[1], ["IT1", "2", "3", "EA", "4.99", "", "VN", "TW-2002"]);
    assert_eq!(r.segments("CTT")[0][1], "2");
}

#[tokio::test]
async fn an_846_skips_only_the_record_it_cannot_advertise() {
    let nats = NatsServer::start().await.unwrap();
    let root = tempfile::tempdir().unwrap();
    let retailer = sandbox_edi::Partner::new(root.path(), "ACMERETAIL", "TRADEWINDDIST").unwrap();
    let edi = connector(
        Transport::Folder(channel_edi::transport::folder::Folder::new(
            root.path().into(),
        )),
        &nats,
    );
    let results = edi
        .deliver(
            Flow::Inventory,
            &[
                item("A", json!({"sku": "A", "available": 3})),
                item("B", json!({"sku": "B", "available": -1})),
                item("C", json!({"sku": "C"})),
            ],
        )
        .await;
    assert!(results[0].is_ok());
    assert!(
        results[1]
            .as_ref()
            .unwrap_err()
            .message
            .contains("negative")
    );
    assert!(
        results[2]
            .as_ref()
            .unwrap_err()
            .message
            .contains("QTY.QTY02")
    );
    let received = retailer.received_sets("846").unwrap();
    assert_eq!(received[0].inventory(), vec![("A".to_string(), 3)]);
}

#[tokio::test]
async fn sftp_refuses_a_server_whose_host_key_is_not_known() {
    let ssh = match SshServer::start().await {
        Ok(ssh) => ssh,
        Err(sandbox_edi::ssh::SshError::NotFound) => {
            eprintln!(
                "SKIPPED: no OpenSSH sshd on this machine (scripts/setup.sh installs openssh-server)"
            );
            return;
        }
        Err(e) => panic!("sshd did not start: {e}"),
    };
    let nats = NatsServer::start().await.unwrap();
    let credentials = tempfile::tempdir().unwrap();
    std::fs::write(credentials.path().join("username"), ssh.user()).unwrap();
    std::fs::write(
        credentials.path().join("ssh_private_key"),
        ssh.user_private_key(),
    )
    .unwrap();
    // The user's own public key is a valid key, but not the server's.
    let wrong = std::fs::read_to_string(ssh.dir().join("user_key.pub")).unwrap();
    std::fs::write(
        credentials.path().join("known_hosts"),
        format!("[127.0.0.1]:{} {wrong}", ssh.port()),
    )
    .unwrap();
    let url = format!("sftp://127.0.0.1:{}{}", ssh.port(), ssh.dir().display());
    let transport = channel_edi::transport_for(&url, credentials.path()).unwrap();
    let edi = connector(transport, &nats);
    let results = edi
        .deliver(
            Flow::Inventory,
            &[item("A", json!({"sku": "A", "available": 3}))],
        )
        .await;
    let error = results[0].clone().unwrap_err();
    assert_eq!(error.kind, FailureKind::Permanent, "{}", error.message);
    assert!(error.message.contains("host key"), "{}", error.message);
    assert!(
        !error.message.contains("PRIVATE KEY"),
        "no secret in errors"
    );
}

/// A partner's file kept raw in a dead letter (a refused file, an unreadable 850) is read again for its
/// purchase orders when it is replayed; an acknowledgement exception about our own interchange holds no
/// partner record, and says so.
#[tokio::test]
async fn a_partner_file_from_a_dead_letter_is_read_again_for_its_orders() {
    let nats = NatsServer::start().await.unwrap();
    let root = tempfile::tempdir().unwrap();
    let retailer = sandbox_edi::Partner::new(root.path(), "ACMERETAIL", "TRADEWINDDIST").unwrap();
    let edi = connector(
        Transport::Folder(channel_edi::transport::folder::Folder::new(
            root.path().into(),
        )),
        &nats,
    );
    let orders = [
        sandbox_edi::PurchaseOrder::sample("PO-77", &[("A-1", 2, "3.50")]),
        sandbox_edi::PurchaseOrder::sample("PO-78", &[("B-2", 1, "9.00")]),
    ];
    let name = retailer.send_purchase_orders(&orders).unwrap();
    let file = std::fs::read(root.path().join("out").join(&name)).unwrap();
    let records = edi.reread(Flow::Orders, &file).unwrap();
    let ids: Vec<String> = records
        .iter()
        .filter_map(|r| match r {
            adapter_runtime::canonical::Record::Order(o) => Some(o.order_id.to_string()),
            _ => None,
        })
        .collect();
    assert_eq!(ids, ["PO-77", "PO-78"]);
    let exception = br#"{"controlNumber": 12, "keys": ["SHIP-1"]}"#;
    assert!(
        edi.reread(Flow::Shipments, exception)
            .unwrap_err()
            .contains("holds no partner record")
    );
}
