//! Inbound polling with cursors, de-duplication of re-polled orders, and the order process, on a real
//! nats-server.

#![allow(clippy::unwrap_used)] // a test that cannot set up fails, which is what unwrap does

use std::sync::{Arc, Mutex};
use std::time::Duration;

use adapter_runtime::canonical::{InventoryPosition, LocationStock, Order, Record};
use adapter_runtime::connector::{Connector, ConnectorError, OutboundItem, PollPage};
use adapter_runtime::envelope::{Event, decode};
use adapter_runtime::flow::{InboundFlow, InboundSettings, OrderProcess, Shutdown};
use adapter_runtime::jetstream::{
    CursorStore, DeadLetterStore, ErrorClass, ReplayOutcome, Step, Timeline, ensure_consumer,
    ensure_kv, ensure_stream, from_header_map, publish_event,
};
use adapter_runtime::metrics::Metrics;
use adapter_runtime::topology::Namespace;
use async_nats::jetstream;
use chrono::{TimeZone, Utc};
use crds::channel::Flow;
use test_support::{NatsServer, eventually};

/// A channel with a fixed list of orders, served two per page; the cursor is the index of the next order.
struct OrderFeed {
    orders: Vec<Order>,
    polls: Mutex<Vec<Option<String>>>,
}

impl Connector for OrderFeed {
    fn max_batch(&self, _: Flow) -> usize {
        1
    }

    async fn deliver(&self, _: Flow, items: &[OutboundItem]) -> Vec<Result<(), ConnectorError>> {
        items.iter().map(|_| Ok(())).collect()
    }

    async fn poll(&self, _: Flow, cursor: Option<&str>) -> Result<PollPage, ConnectorError> {
        self.polls.lock().unwrap().push(cursor.map(String::from));
        let start: usize = cursor.map(|c| c.parse().unwrap()).unwrap_or(0);
        let end = (start + 2).min(self.orders.len());
        Ok(PollPage {
            records: self.orders[start..end]
                .iter()
                .cloned()
                .map(|o| Record::Order(Box::new(o)))
                .collect(),
            next_cursor: Some(end.to_string()),
            more: end < self.orders.len(),
        })
    }
}

fn order(id: &str, first_sku: &str) -> Order {
    let mut order: Order = serde_json::from_str(include_str!("fixtures/order.json")).unwrap();
    order.order_id = id.try_into().unwrap();
    order.correlation_id = format!("shop:{id}").as_str().try_into().unwrap();
    order.lines[0].sku = first_sku.try_into().unwrap();
    order
}

async fn stock(js: &jetstream::Context, ns: &Namespace, sku: &str, locations: &[(&str, i64)]) {
    let position = InventoryPosition {
        correlation_id: format!("erp:{sku}").as_str().try_into().unwrap(),
        sku: sku.try_into().unwrap(),
        available: locations.iter().map(|(_, a)| a).sum(),
        locations: locations
            .iter()
            .map(|(l, a)| LocationStock {
                location: (*l).into(),
                available: *a,
            })
            .collect(),
        as_of: Utc.timestamp_opt(1_800_000_000, 0).unwrap(),
    };
    let event = Event {
        id: format!(
            "erp:{sku}:{}",
            Utc::now().timestamp_nanos_opt().unwrap_or_default()
        ),
        source: "/tradewind/test/erp/erp".into(),
        time: Utc::now(),
        traceparent: None,
        record: Record::Inventory(position),
    };
    publish_event(
        js,
        &ns.erp_subject("erp", Flow::Inventory, sku),
        &event,
        Some(sku),
    )
    .await
    .unwrap();
}

#[tokio::test]
async fn orders_are_polled_once_resumed_from_the_cursor_and_checked_before_the_erp() {
    let server = NatsServer::start().await.unwrap();
    let js = jetstream::new(server.client().await.unwrap());
    let ns = Namespace::new("test");
    for def in [
        ns.marketplace_stream("shop"),
        ns.dead_letter_stream(),
        ns.erp_stream("erp", Flow::Inventory),
    ] {
        ensure_stream(&js, &def).await.unwrap();
    }
    let cursors = Arc::new(CursorStore::new(
        ensure_kv(&js, &ns.cursor_bucket()).await.unwrap(),
    ));
    let timeline = Arc::new(Timeline::new(
        ensure_kv(&js, &ns.timeline_bucket()).await.unwrap(),
    ));
    let metrics = Arc::new(Metrics::new());
    let orders = vec![
        order("O-1", "TW-1001"),
        // The channel's own SKU for the ERP's TW-2002 (the mapping's skuCrossReference).
        order("O-2", "SHOP-2002"),
        order("O-3", "UNKNOWN-SKU"),
    ];
    let feed = Arc::new(OrderFeed {
        orders,
        polls: Mutex::new(Vec::new()),
    });
    let inbound = |feed: Arc<OrderFeed>| InboundFlow {
        settings: InboundSettings {
            namespace: "test".into(),
            marketplace: "shop".into(),
            flow: Flow::Orders,
            poll_interval: Duration::from_secs(60),
        },
        js: js.clone(),
        connector: feed,
        cursors: cursors.clone(),
        timeline: Some(timeline.clone()),
        metrics: metrics.clone(),
    };

    // First adapter: one page, then it "dies".
    assert!(
        inbound(feed.clone()).poll_once().await.unwrap(),
        "more pages are ready"
    );
    // A second adapter resumes from the stored cursor, not from the start.
    let second = inbound(feed.clone());
    while second.poll_once().await.unwrap() {}
    assert_eq!(
        *feed.polls.lock().unwrap(),
        vec![None, Some("2".to_string())]
    );

    // Re-polling a page (say the cursor write was lost) stores nothing twice.
    let replay_feed = Arc::new(OrderFeed {
        orders: feed.orders.clone(),
        polls: Mutex::new(Vec::new()),
    });
    cursors
        .advance(
            "shop",
            Flow::Orders,
            cursors.get("shop", Flow::Orders).await.unwrap().as_ref(),
            "0",
        )
        .await
        .unwrap();
    while inbound(replay_feed.clone()).poll_once().await.unwrap() {}
    let mut stream = js
        .get_stream(ns.marketplace_stream("shop").name)
        .await
        .unwrap();
    assert_eq!(
        stream.info().await.unwrap().state.messages,
        3,
        "three orders, each stored once"
    );

    // The order process: TW-1001 and TW-2002 are known to the ERP; UNKNOWN-SKU is not.
    stock(&js, &ns, "TW-1001", &[("DAL", 1), ("RNO", 10)]).await;
    stock(&js, &ns, "TW-2002", &[("DAL", 5)]).await;
    let consumer = ensure_consumer(&js, &ns.order_process_consumer("shop", 100))
        .await
        .unwrap();
    let dead_letters = Arc::new(DeadLetterStore::new(js.clone(), ns.clone()));
    let process = Arc::new(OrderProcess {
        namespace: ns.clone(),
        marketplace: "shop".into(),
        erp_connection: "erp".into(),
        currency: "USD".parse().unwrap(),
        settings: serde_yaml_ng::from_str(
            "{enrichment: {erpCustomerAccount: C-SHOP, warehousePriority: [DAL, RNO]}}",
        )
        .unwrap(),
        js: js.clone(),
        consumer,
        dead_letters: dead_letters.clone(),
        timeline: Some(timeline.clone()),
        metrics,
        erp_skus: [("SHOP-2002".to_string(), "TW-2002".to_string())].into(),
    });
    let shutdown = Shutdown::new();
    let task = {
        let (process, shutdown) = (process.clone(), shutdown.clone());
        tokio::spawn(async move { process.run(shutdown).await })
    };

    let accepted = |js: jetstream::Context| async move {
        let stream = js
            .get_stream(Namespace::new("test").marketplace_stream("shop").name)
            .await
            .unwrap();
        let subjects = stream
            .info_with_subjects("tw.test.mp.shop.erp-orders.>")
            .await
            .unwrap();
        futures::StreamExt::collect::<Vec<_>>(subjects).await.len()
    };
    eventually(Duration::from_secs(10), "two orders are accepted", || {
        let js = js.clone();
        async move { accepted(js).await == 2 }
    })
    .await;
    eventually(
        Duration::from_secs(10),
        "the third is dead-lettered",
        || async {
            dead_letters
                .list(Some("shop"), Some(Flow::Orders))
                .await
                .unwrap()
                .len()
                == 1
        },
    )
    .await;
    let letters = dead_letters
        .list(Some("shop"), Some(Flow::Orders))
        .await
        .unwrap();
    assert_eq!(letters[0].letter.class, ErrorClass::Business);
    assert_eq!(
        letters[0].letter.reason,
        "order refused: lines[0].sku: SKU UNKNOWN-SKU is unknown to the ERP"
    );

    let stream = js
        .get_stream(ns.marketplace_stream("shop").name)
        .await
        .unwrap();
    let message = stream
        .get_last_raw_message_by_subject("tw.test.mp.shop.erp-orders.O-1")
        .await
        .unwrap();
    let event = decode(&from_header_map(&message.headers), &message.payload).unwrap();
    assert!(
        event
            .traceparent
            .as_deref()
            .is_some_and(|t| t.starts_with("00-")),
        "the trace context is carried on"
    );
    let Record::Order(accepted_order) = event.record else {
        panic!("an order")
    };
    let enrichment = accepted_order.enrichment.unwrap();
    assert_eq!(enrichment.erp_customer_account.as_deref(), Some("C-SHOP"));
    assert_eq!(
        enrichment.allocation.get("10001").map(String::as_str),
        Some("RNO")
    );
    let message = stream
        .get_last_raw_message_by_subject("tw.test.mp.shop.erp-orders.O-2")
        .await
        .unwrap();
    let event = decode(&from_header_map(&message.headers), &message.payload).unwrap();
    let Record::Order(translated) = event.record else {
        panic!("an order")
    };
    assert_eq!(
        translated.lines[0].sku.as_str(),
        "TW-2002",
        "the channel SKU is translated to the ERP's"
    );
    let steps: Vec<Step> = timeline
        .get(&"shop:O-1".try_into().unwrap())
        .await
        .unwrap()
        .iter()
        .map(|e| e.step)
        .collect();
    assert_eq!(steps, vec![Step::Received, Step::Validated]);

    // Once the ERP knows the SKU, replaying the dead letter gets the order through.
    stock(&js, &ns, "UNKNOWN-SKU", &[("DAL", 3)]).await;
    assert!(matches!(
        dead_letters.replay(letters[0].sequence).await.unwrap(),
        ReplayOutcome::Republished(_)
    ));
    eventually(
        Duration::from_secs(10),
        "the replayed order is accepted",
        || {
            let js = js.clone();
            async move { accepted(js).await == 3 }
        },
    )
    .await;
    shutdown.trigger();
    task.await.unwrap();
}
