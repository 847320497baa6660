//! Real nats-server processes: these fail without a current (>= 2.10) nats-server.

use std::time::Duration;

use async_nats::jetstream::{self, kv, stream};
use test_support::{Error, NatsServer};

/// Bounds every step that talks to a server, so a hang fails the test instead of stalling the suite.
const STEP: Duration = Duration::from_secs(30);

async fn start() -> NatsServer {
    tokio::time::timeout(STEP, NatsServer::start())
        .await
        .expect("nats-server starts within 30 s")
        .unwrap_or_else(|err| panic!("{err}"))
}

#[tokio::test]
async fn jetstream_key_value_bucket_can_be_created_written_and_read() {
    let server = start().await;
    let js = server.jetstream().await.expect("connect");

    let bucket = js
        .create_key_value(kv::Config {
            bucket: "offers".to_string(),
            history: 5,
            ..Default::default()
        })
        .await
        .unwrap_or_else(|err| panic!("create a KV bucket: {err}\n{}", server.log_tail()));
    let first = bucket.put("sku.A-1", "price=10".into()).await.expect("put");
    let second = bucket
        .put("sku.A-1", "price=12".into())
        .await
        .expect("put again");
    assert!(second > first, "revisions grow: {first} then {second}");

    let value = bucket
        .get("sku.A-1")
        .await
        .expect("get")
        .expect("the key exists");
    assert_eq!(value.as_ref(), b"price=12");
    assert!(bucket.get("sku.missing").await.expect("get").is_none());

    // The bucket is visible to another client, i.e. it lives in the server.
    let other = server.jetstream().await.expect("connect");
    let seen = other
        .get_key_value("offers")
        .await
        .expect("open the bucket");
    let value = seen
        .get("sku.A-1")
        .await
        .expect("get")
        .expect("the key exists");
    assert_eq!(value.as_ref(), b"price=12");
}

#[tokio::test]
async fn two_servers_run_at_once_on_different_ports() {
    let (a, b) = tokio::join!(start(), start());
    assert_ne!(a.port(), b.port());
    assert_ne!(a.url(), b.url());
    assert_ne!(a.store_dir(), b.store_dir());
    assert_eq!(a.url(), format!("nats://127.0.0.1:{}", a.port()));

    let js_a = a.jetstream().await.expect("connect to a");
    let js_b = b.jetstream().await.expect("connect to b");
    js_a.create_stream(stream::Config {
        name: "ONLY_ON_A".to_string(),
        subjects: vec!["a.>".to_string()],
        ..Default::default()
    })
    .await
    .expect("create a stream on a");

    js_a.get_stream("ONLY_ON_A")
        .await
        .expect("a has the stream");
    assert!(
        js_b.get_stream("ONLY_ON_A").await.is_err(),
        "b is a separate server and must not have a's stream"
    );

    // Both serve core NATS too.
    for server in [&a, &b] {
        let client = server.client().await.expect("connect");
        let mut subscription = client.subscribe("ping").await.expect("subscribe");
        client
            .publish("ping", "pong".into())
            .await
            .expect("publish");
        let message = tokio::time::timeout(STEP, futures::StreamExt::next(&mut subscription))
            .await
            .expect("a message within 30 s")
            .expect("the subscription is open");
        assert_eq!(message.payload.as_ref(), b"pong");
    }
}

#[tokio::test]
async fn kill_then_restart_keeps_jetstream_stream_messages() {
    let mut server = start().await;
    let port = server.port();
    let js = server.jetstream().await.expect("connect");
    js.get_or_create_stream(stream::Config {
        name: "ORDERS".to_string(),
        subjects: vec!["orders.>".to_string()],
        ..Default::default()
    })
    .await
    .expect("create the stream");
    let payloads = ["order-1", "order-2", "order-3"];
    for payload in payloads {
        js.publish("orders.new", payload.into())
            .await
            .expect("publish")
            .await
            .expect("the stream acknowledges the message");
    }

    server.kill().expect("kill");
    assert!(!server.is_running());
    tokio::time::timeout(STEP, server.restart())
        .await
        .expect("restart within 30 s")
        .unwrap_or_else(|err| panic!("{err}"));
    assert!(server.is_running());
    assert_eq!(server.port(), port, "restart keeps the port");

    let js = server.jetstream().await.expect("connect after the restart");
    let mut stream = js.get_stream("ORDERS").await.expect("the stream survived");
    let messages = stream.info().await.expect("stream info").state.messages;
    assert_eq!(messages, payloads.len() as u64);
    for (sequence, payload) in (1..).zip(payloads) {
        let message = stream
            .get_raw_message(sequence)
            .await
            .expect("read a message");
        assert_eq!(message.payload.as_ref(), payload.as_bytes());
    }
}

#[tokio::test]
async fn publishing_while_killed_fails() {
    let mut server = start().await;
    let client = server.client().await.expect("connect");
    let js = jetstream::ContextBuilder::new()
        .timeout(Duration::from_secs(2))
        .build(client);
    js.get_or_create_stream(stream::Config {
        name: "EVENTS".to_string(),
        subjects: vec!["events.>".to_string()],
        ..Default::default()
    })
    .await
    .expect("create the stream");
    js.publish("events.before", "ok".into())
        .await
        .expect("publish")
        .await
        .expect("acknowledged while the server runs");

    server.kill().expect("kill");

    // A new connection is refused.
    let connect = tokio::time::timeout(STEP, server.client())
        .await
        .expect("connecting gives up within 30 s");
    assert!(
        matches!(connect, Err(Error::NatsConnect { .. })),
        "connecting to a killed server must fail, got {connect:?}"
    );

    // The connected client cannot get a publish acknowledged.
    let publish = tokio::time::timeout(STEP, async {
        js.publish("events.during", "lost".into()).await?.await?;
        Ok::<_, async_nats::Error>(())
    })
    .await
    .expect("the publish gives up within 30 s");
    assert!(publish.is_err(), "publishing to a killed server must fail");
}

#[tokio::test]
async fn refuses_a_nats_server_older_than_2_10_with_a_clear_error() {
    use std::os::unix::fs::PermissionsExt;

    // A stand-in binary that reports Debian's version.
    let dir = tempfile::tempdir().expect("temp dir");
    let fake = dir.path().join("nats-server");
    std::fs::write(&fake, "#!/bin/sh\necho 'nats-server: v2.9.10'\n").expect("write the script");
    std::fs::set_permissions(&fake, std::fs::Permissions::from_mode(0o755)).expect("chmod");

    let err = NatsServer::start_with_binary(&fake)
        .await
        .expect_err("a 2.9 server must be refused");
    assert!(
        matches!(err, Error::NatsTooOld { ref found, .. } if found == "2.9.10"),
        "{err:?}"
    );
    let message = err.to_string();
    assert!(message.contains("2.9.10"), "{message}");
    assert!(message.contains("scripts/setup.sh"), "{message}");

    let err = NatsServer::start_with_binary(dir.path().join("missing"))
        .await
        .expect_err("a missing binary must be refused");
    assert!(matches!(err, Error::NatsBinary { .. }), "{err:?}");
}
