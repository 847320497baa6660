//! The one guarded HTTP call against a real server on localhost: a failure carries the answer's status, the
//! server's hints and body, so a connector decides on the status; a transport failure keeps its cause; neither
//! carries the URL (which may hold a signature).

#![allow(clippy::unwrap_used)] // a test that cannot set up fails, which is what unwrap does

use std::error::Error;
use std::time::Duration;

use axum::Router;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::get;
use channel_api::connector::{ConnectorError, FailureKind};
use channel_api::connectors::http::{classify_status, read_json, send_guarded};
use channel_api::connectors::http_client;
use channel_api::resilience::{Resilience, ServerHint};
use crds::channel::ChannelKind;
use crds::v1alpha1::{OperationDefaults, RateLimitPolicySpec, ReplicaSharing, RetryPolicy};

/// Guards that make one attempt per call, so a failure comes back at once.
fn resilience() -> Resilience {
    Resilience::new(
        RateLimitPolicySpec {
            channel: ChannelKind::Rest,
            operations: Vec::new(),
            defaults: OperationDefaults {
                retry: RetryPolicy {
                    max_attempts: 1,
                    ..RetryPolicy::default()
                },
                ..OperationDefaults::default()
            },
            replica_sharing: ReplicaSharing::DivideAmongReplicas,
        },
        1,
    )
}

async fn server() -> String {
    let app = Router::new()
        .route(
            "/missing",
            get(|| async {
                (
                    StatusCode::NOT_FOUND,
                    [("retry-after", "7")],
                    r#"{"errors":[{"code":"NOT_FOUND"}]}"#,
                )
                    .into_response()
            }),
        )
        .route("/garbage", get(|| async { "not json" }));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    url
}

/// One guarded GET of `url`.
async fn guarded_get(url: &str) -> Result<reqwest::Response, ConnectorError> {
    let http = http_client(Duration::from_secs(5)).unwrap();
    send_guarded(
        &resilience(),
        "getThing",
        1,
        || http.get(url),
        classify_status,
    )
    .await
}

#[tokio::test]
async fn an_answer_keeps_its_status_hints_and_body() {
    let url = server().await;
    let error = guarded_get(&format!("{url}/missing?signature=SECRET"))
        .await
        .unwrap_err();
    assert_eq!(error.kind, FailureKind::Permanent);
    assert!(error.is_status(reqwest::StatusCode::NOT_FOUND));
    assert_eq!(
        error.hints(),
        [ServerHint::RetryAfter(Duration::from_secs(7))]
    );
    assert_eq!(
        error.http().map(|h| h.body.as_str()),
        Some(r#"{"errors":[{"code":"NOT_FOUND"}]}"#)
    );
    assert!(error.message.starts_with("404 Not Found"), "{error}");
    assert!(!format!("{error:?}").contains("SECRET"));
}

#[tokio::test]
async fn a_transport_failure_keeps_its_cause_without_the_url() {
    // A port nothing listens on.
    let closed = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = closed.local_addr().unwrap();
    drop(closed);
    let error = guarded_get(&format!("http://{address}/x?signature=SECRET"))
        .await
        .unwrap_err();
    assert_eq!(error.kind, FailureKind::Exhausted);
    assert_eq!(error.status(), None);
    let source = error.source().expect("the transport error is the source");
    assert!(source.downcast_ref::<reqwest::Error>().is_some());
    let mut chain = error.to_string();
    let mut next = error.source();
    while let Some(cause) = next {
        chain.push_str(&cause.to_string());
        next = cause.source();
    }
    assert!(!chain.contains("SECRET"), "{chain}");
}

#[tokio::test]
async fn a_body_that_is_not_json_is_permanent_with_the_parse_error_as_cause() {
    let url = server().await;
    let response = guarded_get(&format!("{url}/garbage")).await.unwrap();
    let error = read_json::<serde_json::Value>(response, "the thing")
        .await
        .unwrap_err();
    assert_eq!(error.kind, FailureKind::Permanent);
    assert!(
        error
            .source()
            .unwrap()
            .downcast_ref::<serde_json::Error>()
            .is_some()
    );
}
