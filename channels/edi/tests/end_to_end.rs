//! The EDI connector end to end: a real nats-server, `adapter_runtime::app::run` with the connector, the
//! simulated retailer (sandbox-edi) on the other side of a local folder or of a real OpenSSH sshd over SFTP.
//! Assertions read what the partner received and what it left in its folders, and the dead-letter stream.

#![allow(clippy::unwrap_used)] // a test that cannot set up fails, which is what unwrap does

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use adapter_runtime::canonical::{
    AcknowledgementOutcome, InventoryPosition, Invoice, InvoiceLine, LineQuantity, Money,
    OrderAcknowledgement, Record, Shipment,
};
use adapter_runtime::config::AdapterConfig;
use adapter_runtime::envelope::Event;
use adapter_runtime::flow::Shutdown;
use adapter_runtime::http::Readiness;
use adapter_runtime::jetstream::{DeadLetterStore, ensure_kv, publish_event};
use adapter_runtime::metrics::Metrics;
use adapter_runtime::resilience::Resilience;
use adapter_runtime::topology::{Namespace, OrderUpdateKind};
use async_nats::jetstream;
use channel_edi::EdiConnector;
use channel_edi::state::EdiState;
use chrono::Utc;
use crds::channel::Flow;
use rust_decimal::Decimal;
use sandbox_edi::{Partner, PurchaseOrder, SshServer};
use test_support::{NatsServer, eventually};

const NS: &str = "edi-test";
const MARKETPLACE: &str = "acme-retail";
const ERP: &str = "erp";
const PARTNER_ID: &str = "ACMERETAIL";
const OUR_ID: &str = "TRADEWINDDIST";

/// The example's ChannelMapping (examples/edi/30-channel-mapping.yaml) as the configuration's `mapping`.
fn example_mapping() -> String {
    let manifest = include_str!("../../../examples/edi/30-channel-mapping.yaml");
    let spec = manifest.split_once("\nspec:\n").unwrap().1;
    let indented: Vec<String> = spec.lines().map(|l| format!("  {l}")).collect();
    format!(
        "mapping:\n  name: acme-retail-x12\n  spec:\n{}\n",
        indented.join("\n")
    )
}

enum Via {
    Folder,
    Sftp,
}

struct Options {
    via: Via,
    deadline: &'static str,
    mapping: bool,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            via: Via::Folder,
            deadline: "1h",
            mapping: false,
        }
    }
}

fn config(base_url: &str, nats_url: &str, credentials: &Path, options: &Options) -> AdapterConfig {
    let mapping = if options.mapping {
        example_mapping()
    } else {
        String::new()
    };
    let yaml = format!(
        r#"
namespace: {NS}
marketplace: {MARKETPLACE}
spec:
  channel: edi-x12
  endpoint: {{baseUrl: "{base_url}", sellerId: {PARTNER_ID}}}
  credentialsSecretRef: {{name: edi}}
  erpConnectionRef: {{name: {ERP}}}
  channelMappingRef: {{name: acme-retail-x12}}
  rateLimitPolicyRef: {{name: edi}}
  currency: USD
  edi:
    interchangeId: {OUR_ID}
    acknowledgementDeadline: {deadline}
  flows:
    inventory: {{coalesceWindow: 200ms}}
    orders: {{pollInterval: 200ms, validation: {{requireKnownSku: false, checkTotals: true}}}}
    shipments: {{coalesceWindow: 200ms}}
    invoices: {{coalesceWindow: 200ms}}
rateLimits:
  name: edi
  spec:
    channel: edi-x12
    defaults:
      tokenBucket: {{requests: 50, per: 1s, burst: 50}}
      retry: {{maxAttempts: 4, initialBackoff: 100ms, maxBackoff: 1s}}
nats: {{url: "{nats_url}"}}
credentialsDir: {credentials}
ackWait: 30s
{mapping}"#,
        deadline = options.deadline,
        credentials = credentials.display()
    );
    AdapterConfig::parse("test", &yaml).unwrap()
}

fn event(id: String, record: Record) -> Event {
    Event {
        id,
        source: format!("/tradewind/{NS}/erp/{ERP}"),
        time: Utc::now(),
        traceparent: None,
        record,
    }
}

fn inventory(sku: &str, available: i64) -> Event {
    let id = format!("erp:inventory:{sku}:{available}");
    event(
        id.clone(),
        Record::Inventory(InventoryPosition {
            correlation_id: id.as_str().try_into().unwrap(),
            sku: sku.try_into().unwrap(),
            available,
            locations: Vec::new(),
            as_of: Utc::now(),
        }),
    )
}

struct Running {
    _nats: NatsServer,
    _ssh: Option<SshServer>,
    _root: tempfile::TempDir,
    _credentials: tempfile::TempDir,
    js: jetstream::Context,
    ns: Namespace,
    partner: Arc<Partner>,
    shutdown: Shutdown,
    adapter: tokio::task::JoinHandle<Result<(), String>>,
}

/// Starts NATS, the partner and the adapter; `None` when SFTP was asked for and no sshd exists here.
async fn start(options: Options) -> Option<Running> {
    let nats = NatsServer::start().await.unwrap();
    let credentials = tempfile::tempdir().unwrap();
    let (ssh, root, base_url) = match options.via {
        Via::Folder => {
            let root = tempfile::tempdir().unwrap();
            let url = format!("file://{}", root.path().display());
            (None, root, url)
        }
        Via::Sftp => {
            let ssh = match SshServer::start().await {
                Ok(ssh) => ssh,
                Err(sandbox_edi::ssh::SshError::NotFound) => {
                    eprintln!(
                        "SKIPPED: no OpenSSH sshd on this machine (scripts/setup.sh installs openssh-server)"
                    );
                    return None;
                }
                Err(e) => panic!("sshd did not start: {e}"),
            };
            let root = tempfile::tempdir_in(ssh.dir()).unwrap();
            std::fs::write(credentials.path().join("username"), ssh.user()).unwrap();
            std::fs::write(
                credentials.path().join("ssh_private_key"),
                ssh.user_private_key(),
            )
            .unwrap();
            std::fs::write(
                credentials.path().join("known_hosts"),
                ssh.known_hosts_line(),
            )
            .unwrap();
            let url = format!("sftp://127.0.0.1:{}{}", ssh.port(), root.path().display());
            (Some(ssh), root, url)
        }
    };
    let partner = Arc::new(Partner::new(root.path(), PARTNER_ID, OUR_ID).unwrap());
    let config = config(&base_url, &nats.url(), credentials.path(), &options);
    let resilience = Arc::new(Resilience::new(config.rate_limits.spec.clone(), 1));
    let connector = Arc::new(EdiConnector::from_config(&config, resilience.clone()).unwrap());
    let shutdown = Shutdown::new();
    let readiness = Arc::new(Readiness::starting());
    let adapter = tokio::spawn(adapter_runtime::app::run(
        config,
        connector,
        Some(resilience),
        shutdown.clone(),
        readiness.clone(),
        Arc::new(Metrics::new()),
    ));
    eventually(Duration::from_secs(20), "the adapter is ready", || {
        let readiness = readiness.clone();
        async move { readiness.reason().is_none() }
    })
    .await;
    let js = nats.jetstream().await.unwrap();
    Some(Running {
        _nats: nats,
        _ssh: ssh,
        _root: root,
        _credentials: credentials,
        js,
        ns: Namespace::new(NS),
        partner,
        shutdown,
        adapter,
    })
}

impl Running {
    async fn stop(self) {
        self.shutdown.trigger();
        self.adapter.await.unwrap().unwrap();
    }

    async fn state(&self) -> EdiState {
        let kv = ensure_kv(&self.js, &self.ns.cursor_bucket()).await.unwrap();
        EdiState::new(kv, MARKETPLACE)
    }

    fn dead_letters(&self) -> Arc<DeadLetterStore> {
        Arc::new(DeadLetterStore::new(self.js.clone(), self.ns.clone()))
    }

    /// Waits until the partner holds an interchange of `set_id` satisfying `check`, and returns it.
    async fn wait_for(
        &self,
        set_id: &str,
        what: &str,
        check: impl Fn(&sandbox_edi::Received) -> bool,
    ) -> sandbox_edi::Received {
        let partner = self.partner.clone();
        let found = std::sync::Mutex::new(None);
        eventually(Duration::from_secs(30), what, || {
            let hit = partner
                .received_sets(set_id)
                .unwrap()
                .into_iter()
                .find(|r| check(r));
            let done = hit.is_some();
            if let Some(hit) = hit {
                *found.lock().unwrap() = Some(hit);
            }
            async move { done }
        })
        .await;
        found.into_inner().unwrap().unwrap()
    }

    async fn wait_for_letter(&self, flow: Flow, what: &str, needle: &str) -> String {
        let store = self.dead_letters();
        let needle = needle.to_string();
        eventually(Duration::from_secs(30), what, || {
            let (store, needle) = (store.clone(), needle.clone());
            async move {
                store
                    .list(Some(MARKETPLACE), Some(flow))
                    .await
                    .is_ok_and(|l| l.iter().any(|d| d.letter.reason.contains(&needle)))
            }
        })
        .await;
        store
            .list(Some(MARKETPLACE), Some(flow))
            .await
            .unwrap()
            .into_iter()
            .map(|d| d.letter.reason)
            .find(|r| r.contains(&needle))
            .unwrap()
    }
}

fn element(segment: &[String], n: usize) -> &str {
    segment.get(n).map_or("", String::as_str)
}

#[tokio::test]
async fn inventory_goes_out_as_846_with_the_mapping_and_a_997_settles_it() {
    let run = start(Options {
        mapping: true,
        ..Options::default()
    })
    .await
    .unwrap();
    for (sku, available) in [("TW-1001", 40), ("TW-2002", 7), ("TW-3003", 0)] {
        let subject = run.ns.erp_subject(ERP, Flow::Inventory, sku);
        publish_event(&run.js, &subject, &inventory(sku, available), Some(sku))
            .await
            .unwrap();
    }
    // Coalesced batches may split the SKUs over several 846s; the partner sees each SKU's quantity.
    let partner = run.partner.clone();
    eventually(
        Duration::from_secs(30),
        "the partner has every SKU's quantity",
        || {
            let advertised: Vec<(String, i64)> = partner
                .received_sets("846")
                .unwrap()
                .iter()
                .flat_map(|r| r.inventory())
                .collect();
            let all = [("0001001", 40), ("TW-2002", 7), ("TW-3003", 0)]
                .iter()
                .all(|(sku, q)| advertised.iter().any(|(s, n)| s == sku && n == q));
            async move { all }
        },
    )
    .await;
    let received = run.partner.received_sets("846").unwrap();
    for r in &received {
        assert_eq!(
            (r.sender.as_str(), r.receiver.as_str()),
            (OUR_ID, PARTNER_ID)
        );
        assert_eq!(r.functional_id, "IB");
        assert_eq!(
            r.control_number, r.group_control_number,
            "ISA13 and GS06 agree"
        );
        let lin = r.segments("LIN");
        assert!(lin.iter().all(|s| element(s, 2) == "VN"), "{lin:?}");
        assert_eq!(r.segments("CTT")[0][1], lin.len().to_string());
    }
    // The cross-reference of the example mapping applied: TW-1001 is the partner's 0001001.
    assert!(
        received
            .iter()
            .flat_map(|r| r.inventory())
            .all(|(s, _)| s != "TW-1001")
    );
    let mut numbers: Vec<u32> = received.iter().map(|r| r.control_number).collect();
    numbers.dedup();
    assert_eq!(
        numbers.len(),
        received.len(),
        "control numbers never repeat"
    );

    // Each 846 awaits its 997 until the partner sends one.
    let state = run.state().await;
    assert_eq!(state.pending().await.unwrap().len(), received.len());
    for r in &received {
        run.partner.acknowledge(r, true).unwrap();
    }
    eventually(
        Duration::from_secs(30),
        "every 846 is settled by its 997",
        || {
            let state = state.clone();
            async move { state.pending().await.is_ok_and(|p| p.is_empty()) }
        },
    )
    .await;
    let partner = run.partner.clone();
    let expected = received.len();
    eventually(Duration::from_secs(10), "the 997s are archived", || {
        let n = partner.archived().len();
        async move { n == expected }
    })
    .await;
    assert!(run.partner.waiting().is_empty());
    run.stop().await;
}

async fn purchase_orders_round_trip(via: Via) {
    let Some(run) = start(Options {
        via,
        mapping: true,
        ..Options::default()
    })
    .await
    else {
        return;
    };
    let po = PurchaseOrder::sample(
        "PO-1001",
        &[("0001001", 2, "12.50"), ("TW-2002", 3, "4.99")],
    );
    let other = PurchaseOrder::sample("PO-1002", &[("TW-3003", 1, "100")]);
    let file = run.partner.send_purchase_orders(&[po, other]).unwrap();

    // Both orders reach the marketplace stream as canonical orders.
    let stream = run
        .js
        .get_stream(run.ns.marketplace_stream(MARKETPLACE).name)
        .await
        .unwrap();
    let mut orders = Vec::new();
    for id in ["PO-1001", "PO-1002"] {
        let subject = run.ns.marketplace_subject(MARKETPLACE, Flow::Orders, id);
        eventually(
            Duration::from_secs(30),
            &format!("{id} is published"),
            || {
                let (stream, subject) = (stream.clone(), subject.clone());
                async move {
                    stream
                        .get_last_raw_message_by_subject(&subject)
                        .await
                        .is_ok()
                }
            },
        )
        .await;
        let message = stream
            .get_last_raw_message_by_subject(&subject)
            .await
            .unwrap();
        let headers = adapter_runtime::jetstream::from_header_map(&message.headers);
        let event = adapter_runtime::envelope::decode(&headers, &message.payload).unwrap();
        let Record::Order(order) = event.record else {
            panic!("not an order: {:?}", event.record)
        };
        orders.push(order);
    }
    let order = &orders[0];
    assert_eq!(order.order_id.as_str(), "PO-1001");
    assert_eq!(order.lines.len(), 2);
    assert_eq!(order.lines[0].sku.as_str(), "0001001");
    assert_eq!(order.lines[0].quantity, 2);
    assert_eq!(order.lines[0].unit_price.amount, Decimal::new(1250, 2));
    assert_eq!(
        order.totals.total.amount,
        Decimal::new(3997, 2),
        "2 x 12.50 + 3 x 4.99"
    );
    assert_eq!(order.totals.total.currency.as_str(), "USD");
    assert_eq!(order.totals_mismatch(), None);
    assert_eq!(order.ship_to.city, "Newark");
    assert_eq!(order.ship_to.postal_code, "07102");
    assert_eq!(order.buyer.name, "Acme Retail");
    assert!(
        order.fulfilment.ship_by.is_some(),
        "DTM*010 is the ship-by date"
    );
    assert_eq!(orders[1].totals.total.amount, Decimal::new(100, 0));

    // The partner gets one 997 accepting both sets, and its file is archived.
    let ack = run
        .wait_for("997", "the partner receives our 997", |r| {
            r.segments("AK1").iter().any(|s| element(s, 1) == "PO")
        })
        .await;
    let ak9 = &ack.segments("AK9")[0];
    assert_eq!(
        (element(ak9, 1), element(ak9, 2), element(ak9, 4)),
        ("A", "2", "2")
    );
    assert_eq!(ack.segments("AK2").len(), 2);
    let partner = run.partner.clone();
    eventually(Duration::from_secs(10), "the 850 file is archived", || {
        let archived = partner
            .archived()
            .iter()
            .any(|a| a.ends_with(&format!("-{file}")));
        async move { archived }
    })
    .await;
    assert_eq!(
        run.partner.received_sets("997").unwrap().len(),
        1,
        "acknowledged once"
    );

    // The ERP accepts PO-1001: an 855. Then ships it: an 856 with its HL hierarchy.
    let ack = OrderAcknowledgement {
        correlation_id: format!("{MARKETPLACE}:PO-1001")
            .as_str()
            .try_into()
            .unwrap(),
        marketplace: MARKETPLACE.try_into().unwrap(),
        order_id: "PO-1001".try_into().unwrap(),
        outcome: AcknowledgementOutcome::Accepted {
            erp_order_number: "SO-77".into(),
        },
        at: Utc::now(),
    };
    let subject =
        run.ns
            .order_update_subject(ERP, MARKETPLACE, "PO-1001", OrderUpdateKind::Accepted);
    publish_event(
        &run.js,
        &subject,
        &event("ack:PO-1001".into(), Record::OrderAcknowledgement(ack)),
        None,
    )
    .await
    .unwrap();
    let r855 = run
        .wait_for("855", "the partner receives the 855", |_| true)
        .await;
    let bak = &r855.segments("BAK")[0];
    assert_eq!(
        (
            element(bak, 1),
            element(bak, 2),
            element(bak, 3),
            element(bak, 8)
        ),
        ("00", "AT", "PO-1001", "SO-77")
    );
    assert_eq!(r855.functional_id, "PR");

    let shipment = Shipment {
        correlation_id: format!("{MARKETPLACE}:PO-1001")
            .as_str()
            .try_into()
            .unwrap(),
        marketplace: MARKETPLACE.try_into().unwrap(),
        order_id: "PO-1001".try_into().unwrap(),
        shipment_id: "PKG-1".into(),
        carrier: "ups".into(),
        service: None,
        tracking_number: "1Z999AA10123456784".into(),
        shipped_at: Utc::now(),
        ship_from_location: Some("NJ1".into()),
        lines: vec![
            LineQuantity {
                line_id: "1".into(),
                sku: "TW-1001".try_into().unwrap(),
                quantity: 2,
            },
            LineQuantity {
                line_id: "2".into(),
                sku: "TW-2002".try_into().unwrap(),
                quantity: 3,
            },
        ],
    };
    let subject = run
        .ns
        .shipment_subject(ERP, MARKETPLACE, "PO-1001", "PKG-1");
    publish_event(
        &run.js,
        &subject,
        &event("ship:PKG-1".into(), Record::Shipment(shipment)),
        None,
    )
    .await
    .unwrap();
    let r856 = run
        .wait_for("856", "the partner receives the 856", |_| true)
        .await;
    assert_eq!(r856.functional_id, "SH");
    let hl: Vec<(String, String, String)> = r856
        .segments("HL")
        .iter()
        .map(|s| {
            (
                element(s, 1).into(),
                element(s, 2).into(),
                element(s, 3).into(),
            )
        })
        .collect();
    let want = |a: &str, b: &str, c: &str| (a.to_string(), b.to_string(), c.to_string());
    assert_eq!(
        hl,
        vec![
            want("1", "", "S"),
            want("2", "1", "O"),
            want("3", "2", "I"),
            want("4", "2", "I")
        ]
    );
    assert_eq!(
        element(r856.segments("TD5")[0], 3),
        "UPSN",
        "the example's SCAC value map"
    );
    assert_eq!(element(r856.segments("REF")[0], 2), "1Z999AA10123456784");
    assert_eq!(element(r856.segments("PRF")[0], 1), "PO-1001");
    let lin: Vec<&str> = r856.segments("LIN").iter().map(|s| element(s, 3)).collect();
    assert_eq!(lin, vec!["0001001", "TW-2002"], "cross-referenced SKUs");
    assert_eq!(element(r856.segments("CTT")[0], 1), "4");
    run.stop().await;
}

#[tokio::test]
async fn purchase_orders_over_sftp_become_orders_and_get_997_855_856() {
    purchase_orders_round_trip(Via::Sftp).await;
}

#[tokio::test]
async fn purchase_orders_through_a_folder_become_orders_and_get_997_855_856() {
    purchase_orders_round_trip(Via::Folder).await;
}

#[tokio::test]
async fn malformed_interchanges_are_rejected_with_their_position_in_a_997_and_bad_sets_refused() {
    let run = start(Options::default()).await.unwrap();
    // An interchange of two purchase orders whose second set's SE counts one segment too many: the first is
    // taken in, the second refused where it is, and the 997 says so (AK9 P, AK5 code 4).
    let ok = PurchaseOrder::sample("PO-OK", &[("A-1", 1, "1.00")]);
    let miscounted = PurchaseOrder::sample("PO-BAD", &[("A-1", 1, "1.00")]);
    let file = run.partner.send_purchase_orders(&[ok, miscounted]).unwrap();
    let path = run.partner.root().join("out").join(&file);
    let text = std::fs::read_to_string(&path).unwrap();
    std::fs::remove_file(&path).unwrap();
    let broken = text.replace("SE|11|0002", "SE|12|0002");
    assert_ne!(broken, text);
    run.partner
        .write_out("broken.edi", broken.as_bytes())
        .unwrap();
    let reason = run
        .wait_for_letter(
            Flow::Orders,
            "the miscounted set is dead-lettered",
            "broken.edi",
        )
        .await;
    assert!(
        reason.contains(
            "set 850 0002: segment 24 (SE), element 01 (SE01): SE01 states 12, but there are 11"
        ),
        "{reason}"
    );
    let refusal = run
        .wait_for("997", "the partner receives a 997 refusing the set", |r| {
            r.segments("AK5").iter().any(|s| element(s, 2) == "4")
        })
        .await;
    let ak2: Vec<(&str, &str)> = refusal
        .segments("AK2")
        .iter()
        .map(|s| (element(s, 1), element(s, 2)))
        .collect();
    assert_eq!(ak2, [("850", "0001"), ("850", "0002")]);
    let ak9 = &refusal.segments("AK9")[0];
    assert_eq!(
        (element(ak9, 1), element(ak9, 2), element(ak9, 4)),
        ("P", "2", "1")
    );
    let stream = run
        .js
        .get_stream(run.ns.marketplace_stream(MARKETPLACE).name)
        .await
        .unwrap();
    let subject = run
        .ns
        .marketplace_subject(MARKETPLACE, Flow::Orders, "PO-OK");
    eventually(Duration::from_secs(10), "PO-OK is published", || {
        let (stream, subject) = (stream.clone(), subject.clone());
        async move {
            stream
                .get_last_raw_message_by_subject(&subject)
                .await
                .is_ok()
        }
    })
    .await;

    // A group trailer counting the wrong number of sets breaks the envelope: the whole file is refused,
    // moved to rejected/, and the 997 rejects the group with AK905 5.
    let po = PurchaseOrder::sample("PO-GE", &[("A-1", 1, "1.00")]);
    let file = run.partner.send_purchase_orders(&[po]).unwrap();
    let path = run.partner.root().join("out").join(&file);
    let text = std::fs::read_to_string(&path).unwrap();
    std::fs::remove_file(&path).unwrap();
    let broken = text.replace("GE|1|", "GE|2|");
    assert_ne!(broken, text);
    run.partner
        .write_out("bad-group.edi", broken.as_bytes())
        .unwrap();
    let reason = run
        .wait_for_letter(
            Flow::Orders,
            "the bad group is dead-lettered",
            "bad-group.edi",
        )
        .await;
    assert!(
        reason.contains("(GE), element 01 (GE01): GE01 states 2, but there are 1"),
        "{reason}"
    );
    let partner = run.partner.clone();
    eventually(
        Duration::from_secs(10),
        "the file is moved to rejected/",
        || {
            let rejected = partner.rejected();
            let moved = rejected.len() == 1 && rejected[0].ends_with("-bad-group.edi");
            async move { moved }
        },
    )
    .await;
    let refusal = run
        .wait_for(
            "997",
            "the partner receives a 997 rejecting the group",
            |r| r.segments("AK9").iter().any(|s| element(s, 5) == "5"),
        )
        .await;
    let ak9 = &refusal.segments("AK9")[0];
    assert_eq!((element(ak9, 1), element(ak9, 4)), ("R", "0"));

    // A well-formed interchange with one good and one unusable purchase order: the good one is published,
    // the bad one dead-lettered and refused in the 997 (AK9 P).
    let good = PurchaseOrder::sample("PO-GOOD", &[("A-1", 1, "1.00")]);
    let bad = PurchaseOrder::sample("PO-ZERO", &[("A-1", 0, "1.00")]);
    run.partner.send_purchase_orders(&[good, bad]).unwrap();
    let reason = run
        .wait_for_letter(Flow::Orders, "the unusable 850 is dead-lettered", "PO1")
        .await;
    assert!(reason.contains("element 02 (PO102)"), "{reason}");
    let ack = run
        .wait_for("997", "the partner receives a partial 997", |r| {
            r.segments("AK5").iter().any(|s| element(s, 2) == "5")
        })
        .await;
    let ak5: Vec<&str> = ack.segments("AK5").iter().map(|s| element(s, 1)).collect();
    assert_eq!(ak5, vec!["A", "R"]);
    let subject = run
        .ns
        .marketplace_subject(MARKETPLACE, Flow::Orders, "PO-GOOD");
    assert!(
        stream
            .get_last_raw_message_by_subject(&subject)
            .await
            .is_ok()
    );
    run.stop().await;
}

#[tokio::test]
async fn interchanges_without_a_997_are_dead_lettered_after_the_deadline_and_rejections_too() {
    let run = start(Options {
        deadline: "3s",
        ..Options::default()
    })
    .await
    .unwrap();
    let subject = run.ns.erp_subject(ERP, Flow::Inventory, "SKU-1");
    publish_event(&run.js, &subject, &inventory("SKU-1", 5), Some("SKU-1"))
        .await
        .unwrap();
    let sent = run.wait_for("846", "the 846 is sent", |_| true).await;
    let reason = run
        .wait_for_letter(
            Flow::Inventory,
            "the unacknowledged 846 is dead-lettered",
            "has no 997",
        )
        .await;
    assert!(
        reason.contains(&format!("interchange {:09}", sent.control_number)),
        "{reason}"
    );
    assert!(reason.contains("SKU-1"), "{reason}");
    let state = run.state().await;
    assert!(
        state.pending().await.unwrap().is_empty(),
        "reported once, then forgotten"
    );

    // A 997 rejecting an interchange dead-letters it at once.
    let subject = run.ns.erp_subject(ERP, Flow::Inventory, "SKU-2");
    publish_event(&run.js, &subject, &inventory("SKU-2", 9), Some("SKU-2"))
        .await
        .unwrap();
    let second = run
        .wait_for("846", "the second 846 is sent", |r| {
            r.control_number != sent.control_number
        })
        .await;
    run.partner.acknowledge(&second, false).unwrap();
    let reason = run
        .wait_for_letter(
            Flow::Inventory,
            "the rejected 846 is dead-lettered",
            "rejected interchange",
        )
        .await;
    assert!(reason.contains("AK9 R"), "{reason}");
    run.stop().await;
}

fn invoice(number: &str, lines: &[(&str, i64, &str)], total: &str) -> Event {
    let id = format!("erp:invoice:{number}");
    let usd = |amount: &str| Money {
        amount: amount.parse().unwrap(),
        currency: "USD".parse().unwrap(),
    };
    event(
        id.clone(),
        Record::Invoice(Invoice {
            correlation_id: id.as_str().try_into().unwrap(),
            marketplace: MARKETPLACE.try_into().unwrap(),
            order_id: "PO-4471".try_into().unwrap(),
            invoice_number: number.into(),
            invoice_date: "2026-11-20T10:00:00Z".parse().unwrap(),
            lines: lines
                .iter()
                .enumerate()
                .map(|(i, (sku, quantity, price))| InvoiceLine {
                    line_id: (i + 1).to_string(),
                    sku: (*sku).try_into().unwrap(),
                    quantity: *quantity,
                    unit_price: usd(price),
                })
                .collect(),
            total: usd(total),
        }),
    )
}

#[tokio::test]
async fn invoices_from_the_erp_go_out_as_810_with_the_mapping() {
    let run = start(Options {
        mapping: true,
        ..Options::default()
    })
    .await
    .unwrap();
    let event = invoice(
        "INV-9001",
        &[("TW-1001", 3, "12.50"), ("TW-2002", 1, "0.99")],
        "38.49",
    );
    let subject = run.ns.invoice_subject(ERP, MARKETPLACE, "INV-9001");
    publish_event(&run.js, &subject, &event, Some("INV-9001"))
        .await
        .unwrap();
    let received = run
        .wait_for("810", "the partner receives the 810", |_| true)
        .await;
    assert_eq!(received.functional_id, "IN");
    let big = received.segments("BIG");
    assert_eq!(
        (element(big[0], 1), element(big[0], 2), element(big[0], 4)),
        ("20261120", "INV-9001", "PO-4471")
    );
    let lines: Vec<(String, String, String)> = received
        .segments("IT1")
        .iter()
        .map(|s| {
            (
                element(s, 2).to_string(),
                element(s, 4).to_string(),
                element(s, 7).to_string(),
            )
        })
        .collect();
    // The example mapping's cross-reference: TW-1001 is the partner's 0001001.
    assert_eq!(
        lines,
        vec![
            ("3".into(), "12.50".into(), "0001001".into()),
            ("1".into(), "0.99".into(), "TW-2002".into())
        ]
    );
    assert_eq!(
        element(received.segments("TDS")[0], 1),
        "3849",
        "the total with two implied decimals, computed exactly"
    );

    // An invoice whose lines do not add up to its total is dead-lettered with the reason, not sent.
    let bad = invoice("INV-9002", &[("TW-1001", 1, "12.50")], "99.00");
    let subject = run.ns.invoice_subject(ERP, MARKETPLACE, "INV-9002");
    publish_event(&run.js, &subject, &bad, Some("INV-9002"))
        .await
        .unwrap();
    let reason = run
        .wait_for_letter(Flow::Invoices, "the bad invoice is dead-lettered", "total")
        .await;
    assert!(reason.contains("12.50"), "{reason}");
    assert_eq!(
        run.partner.received_sets("810").unwrap().len(),
        1,
        "no 810 for the bad invoice"
    );
    run.stop().await;
}
