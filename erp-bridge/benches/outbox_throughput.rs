//! Load harness: PostgreSQL outbox rows into JetStream through the bridge's outbox source (claim with
//! `FOR UPDATE SKIP LOCKED`, decode and validate each row, publish with idempotent ids, wait for the acks,
//! mark the batch sent, commit), at three batch sizes, against raw JetStream publishing of the same events in
//! the same run (the same windows of outstanding acks, no database). Prints rates and ratios. Run with
//! `cargo bench -p erp-bridge --bench outbox_throughput` (needs TRADEWIND_NATS_SERVER and TRADEWIND_PG_URL, see
//! scripts/setup.sh).

use std::sync::Arc;
use std::time::{Duration, Instant};

use adapter_runtime::canonical::{InventoryPosition, Record};
use adapter_runtime::envelope::{Event, encode};
use adapter_runtime::jetstream::{DeadLetterStore, ensure_stream, to_header_map};
use adapter_runtime::metrics::Metrics;
use adapter_runtime::topology::Namespace;
use async_nats::jetstream;
use chrono::Utc;
use crds::channel::Flow;
use erp_bridge::outbox::OutboxSource;
use test_support::{NatsServer, TestDatabase};

/// Outbox rows per run: 1,000 SKUs changing 20 times each.
const ROWS: i64 = 20_000;
const SKUS: i64 = 1_000;
const ERP: &str = "erp";

type Error = Box<dyn std::error::Error>;

const DDL: &str = "CREATE TABLE tradewind_outbox (
    id bigserial PRIMARY KEY, kind text NOT NULL, key text NOT NULL, payload jsonb NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(), sent_at timestamptz);
CREATE INDEX tradewind_outbox_unsent ON tradewind_outbox (id) WHERE sent_at IS NULL;";

/// Fills the outbox with `ROWS` inventory changes, as the demo ERP's trigger writes them.
async fn fill(client: &tokio_postgres::Client) -> Result<(), Error> {
    client
        .execute(
            "INSERT INTO tradewind_outbox (kind, key, payload)
             SELECT 'inventory', 'SKU-' || (n % $2::bigint), jsonb_build_object('type', 'inventory', 'data',
                 jsonb_build_object('correlationId', 'erp:inv:' || n, 'sku', 'SKU-' || (n % $2),
                     'available', n / $2, 'locations', '[]'::jsonb, 'asOf', '2026-11-28T10:00:00Z'))
             FROM generate_series(1::bigint, $1::bigint) AS n",
            &[&ROWS, &SKUS],
        )
        .await?;
    client
        .batch_execute("VACUUM ANALYZE tradewind_outbox")
        .await?;
    Ok(())
}

/// Drains the filled outbox through the outbox source in batches of `batch`.
async fn outbox(
    js: &jetstream::Context,
    ns: &Namespace,
    client: &mut tokio_postgres::Client,
    batch: u32,
) -> Result<Duration, Error> {
    ensure_stream(js, &ns.erp_stream(ERP, Flow::Inventory)).await?;
    ensure_stream(js, &ns.dead_letter_stream()).await?;
    fill(client).await?;
    let source = OutboxSource {
        namespace: ns.clone(),
        namespace_name: "bench".into(),
        erp: ERP.into(),
        dsn: String::new(),
        table: "tradewind_outbox".into(),
        batch_size: batch,
        poll_interval: Duration::from_secs(1),
        js: js.clone(),
        dead_letters: Arc::new(DeadLetterStore::new(js.clone(), ns.clone())),
        metrics: Arc::new(Metrics::new()),
    };
    let started = Instant::now();
    let mut published = 0;
    loop {
        let n = source.drain_once(client).await?;
        if n == 0 {
            break;
        }
        published += n;
    }
    let elapsed = started.elapsed();
    assert_eq!(published as i64, ROWS, "every row published");
    client.batch_execute("TRUNCATE tradewind_outbox").await?;
    Ok(elapsed)
}

/// Publishes the same events straight to JetStream, `window` acks outstanding at a time.
async fn raw(js: &jetstream::Context, ns: &Namespace, window: usize) -> Result<Duration, Error> {
    ensure_stream(js, &ns.erp_stream(ERP, Flow::Inventory)).await?;
    let events: Vec<(String, Event)> = (1..=ROWS)
        .map(|n| -> Result<(String, Event), Error> {
            let sku = format!("SKU-{}", n % SKUS);
            let event = Event {
                id: format!("{ERP}:raw:{n}"),
                source: "/tradewind/bench/erp/erp".into(),
                time: Utc::now(),
                traceparent: None,
                record: Record::Inventory(InventoryPosition {
                    correlation_id: format!("erp:inv:{n}").as_str().try_into()?,
                    sku: sku.as_str().try_into()?,
                    available: n / SKUS,
                    locations: Vec::new(),
                    as_of: Utc::now(),
                }),
            };
            Ok((ns.erp_subject(ERP, Flow::Inventory, &sku), event))
        })
        .collect::<Result<_, _>>()?;
    let started = Instant::now();
    for chunk in events.chunks(window) {
        let mut acks = Vec::with_capacity(chunk.len());
        for (subject, event) in chunk {
            let (headers, payload) = encode(event, None)?;
            acks.push(
                js.publish_with_headers(subject.clone(), to_header_map(&headers), payload.into())
                    .await?,
            );
        }
        for ack in acks {
            ack.await?;
        }
    }
    Ok(started.elapsed())
}

fn median(mut times: Vec<Duration>) -> Duration {
    times.sort();
    times[times.len() / 2]
}

async fn bench() -> Result<(), Error> {
    let server = NatsServer::start().await?;
    let js = jetstream::new(server.client().await?);
    let db = TestDatabase::create().await?;
    let mut client = db.client().await?;
    client.batch_execute(DDL).await?;
    // Warm up the file store and the table once.
    outbox(&js, &Namespace::new("warmup"), &mut client, 500).await?;
    let batches = [50u32, 500, 2_000];
    let mut outbox_times: Vec<Vec<Duration>> = vec![Vec::new(); batches.len()];
    let mut raw_times = Vec::new();
    for round in 0..3 {
        raw_times.push(raw(&js, &Namespace::new(&format!("raw{round}")), 500).await?);
        for (i, batch) in batches.iter().enumerate() {
            let ns = Namespace::new(&format!("outbox{round}b{batch}"));
            outbox_times[i].push(outbox(&js, &ns, &mut client, *batch).await?);
        }
    }
    let rate = |d: Duration| ROWS as f64 / d.as_secs_f64();
    let raw = median(raw_times);
    println!("{ROWS} inventory events (1,000 SKUs x 20), median of 3 alternating runs");
    println!("| path | rate | time | ratio to raw |");
    println!("| --- | --- | --- | --- |");
    println!(
        "| raw JetStream publish, 500 acks outstanding | {:.0} ev/s | {:.2} s | 1.00 |",
        rate(raw),
        raw.as_secs_f64()
    );
    for (batch, times) in batches.iter().zip(outbox_times) {
        let t = median(times);
        println!(
            "| outbox source, batchSize {batch} | {:.0} ev/s | {:.2} s | {:.2} |",
            rate(t),
            t.as_secs_f64(),
            raw.as_secs_f64() / t.as_secs_f64()
        );
    }
    drop(client);
    db.close().await?;
    Ok(())
}

fn main() -> Result<(), Error> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?
        .block_on(bench())
}
