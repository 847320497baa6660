//! The one OAuth token cache, against a real HTTP token endpoint and API on localhost: concurrent callers make
//! one token request, a failure is shared by those who waited for it, a refused token is replaced once, a token
//! is renewed before it expires, and what a server says about a token's lifetime cannot panic the cache.

#![allow(clippy::unwrap_used)] // a test that cannot set up fails, which is what unwrap does

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use channel_api::auth::{Grant, TokenCache};
use channel_api::connector::{ConnectorError, FailureKind};
use channel_api::connectors::http::{HttpAnswer, read_json, transport_error};
use channel_api::connectors::http_client;
use channel_api::resilience::ManualClock;
use serde_json::{Value, json};
use tokio::sync::{Mutex, watch};

/// A token endpoint that counts its requests, answers with `answer` (status, body) and can hold its answers
/// until released; and an API that accepts only the tokens in `valid`.
struct Server {
    token_requests: AtomicUsize,
    api_requests: AtomicUsize,
    answer: Mutex<(StatusCode, Value)>,
    issued: AtomicUsize,
    valid: Mutex<Vec<String>>,
    release: watch::Sender<bool>,
}

impl Server {
    async fn start(answer: (StatusCode, Value)) -> (Arc<Self>, String) {
        let server = Arc::new(Self {
            token_requests: AtomicUsize::new(0),
            api_requests: AtomicUsize::new(0),
            answer: Mutex::new(answer),
            issued: AtomicUsize::new(0),
            valid: Mutex::new(Vec::new()),
            release: watch::channel(true).0,
        });
        let app = Router::new()
            .route("/token", post(token))
            .route("/api", get(api))
            .with_state(server.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await });
        (server, url)
    }

    fn tokens(&self) -> usize {
        self.token_requests.load(Ordering::SeqCst)
    }
}

/// Issues `t<n>` (or the configured answer), after the release.
async fn token(State(server): State<Arc<Server>>) -> Response {
    server.token_requests.fetch_add(1, Ordering::SeqCst);
    let mut released = server.release.subscribe();
    let _ = released.wait_for(|open| *open).await;
    let (status, mut body) = server.answer.lock().await.clone();
    if status.is_success() && body.get("access_token").is_none() {
        let token = format!("t{}", server.issued.fetch_add(1, Ordering::SeqCst) + 1);
        server.valid.lock().await.push(token.clone());
        body["access_token"] = Value::from(token);
    }
    (status, axum::Json(body)).into_response()
}

async fn api(State(server): State<Arc<Server>>, headers: HeaderMap) -> Response {
    server.api_requests.fetch_add(1, Ordering::SeqCst);
    let bearer = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or_default()
        .to_string();
    if server.valid.lock().await.contains(&bearer) {
        (StatusCode::OK, "ok").into_response()
    } else {
        (StatusCode::UNAUTHORIZED, "token expired").into_response()
    }
}

/// The connector's side: one grant from the token endpoint.
async fn fetch(http: &reqwest::Client, url: &str) -> Result<Grant, ConnectorError> {
    let response = http
        .post(format!("{url}/token"))
        .send()
        .await
        .map_err(transport_error)?;
    if !response.status().is_success() {
        let answer = HttpAnswer::read(response).await;
        return Err(ConnectorError::retryable(answer.summary()).with_http(answer.failure()));
    }
    read_json(response, "the token answer").await
}

/// One API call with `token`.
async fn call_api(http: &reqwest::Client, url: &str, token: &str) -> Result<(), ConnectorError> {
    let response = http
        .get(format!("{url}/api"))
        .bearer_auth(token)
        .send()
        .await
        .map_err(transport_error)?;
    if response.status().is_success() {
        return Ok(());
    }
    let answer = HttpAnswer::read(response).await;
    Err(ConnectorError::permanent(answer.summary()).with_http(answer.failure()))
}

async fn until(what: &str, condition: impl Fn() -> bool) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while !condition() {
        assert!(tokio::time::Instant::now() < deadline, "timed out: {what}");
        tokio::task::yield_now().await;
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

type Caller = tokio::task::JoinHandle<Result<channel_api::auth::AccessToken, ConnectorError>>;

/// `callers` tasks asking `cache` for the token at once: the server holds its answer until every caller has
/// asked and the first request has arrived, then answers.
async fn ask_together(
    server: &Server,
    cache: &Arc<TokenCache>,
    http: &reqwest::Client,
    url: &str,
    callers: usize,
) -> Vec<Caller> {
    server.release.send_replace(false);
    let entered = Arc::new(AtomicUsize::new(0));
    let tasks = (0..callers)
        .map(|_| {
            let (cache, http, url, entered) = (
                cache.clone(),
                http.clone(),
                url.to_string(),
                entered.clone(),
            );
            tokio::spawn(async move {
                entered.fetch_add(1, Ordering::SeqCst);
                cache.get(|| fetch(&http, &url)).await
            })
        })
        .collect();
    until("every caller asked and one request arrived", || {
        entered.load(Ordering::SeqCst) == callers && server.tokens() >= 1
    })
    .await;
    server.release.send_replace(true);
    tasks
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_callers_make_one_token_request_and_share_the_token() {
    let (server, url) = Server::start((StatusCode::OK, json!({"expires_in": 3600}))).await;
    let cache = Arc::new(TokenCache::new());
    let http = http_client(Duration::from_secs(10)).unwrap();
    const CALLERS: usize = 32;
    let tasks = ask_together(&server, &cache, &http, &url, CALLERS).await;
    let mut tokens = Vec::new();
    for task in tasks {
        tokens.push(task.await.unwrap().unwrap());
    }
    assert_eq!(
        server.tokens(),
        1,
        "one token request for {CALLERS} callers"
    );
    assert!(tokens.iter().all(|t| t.as_str() == "t1"));
    // Later callers use the cached token.
    cache.get(|| fetch(&http, &url)).await.unwrap();
    assert_eq!(server.tokens(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn callers_that_waited_for_a_failed_fetch_share_its_failure_and_the_next_one_asks_again() {
    let (server, url) = Server::start((
        StatusCode::SERVICE_UNAVAILABLE,
        json!({"error": "temporarily_unavailable"}),
    ))
    .await;
    let cache = Arc::new(TokenCache::new());
    let http = http_client(Duration::from_secs(10)).unwrap();
    let tasks = ask_together(&server, &cache, &http, &url, 8).await;
    for task in tasks {
        let error = task.await.unwrap().unwrap_err();
        assert_eq!(error.status(), Some(StatusCode::SERVICE_UNAVAILABLE));
        assert_eq!(error.kind, FailureKind::Retryable);
    }
    assert_eq!(
        server.tokens(),
        1,
        "the failure was shared, not asked again"
    );

    // A caller arriving after the failure asks again, and gets a token once the endpoint is back.
    *server.answer.lock().await = (StatusCode::OK, json!({"expires_in": 3600}));
    let token = cache.get(|| fetch(&http, &url)).await.unwrap();
    assert_eq!(token.as_str(), "t1");
    assert_eq!(server.tokens(), 2);
}

#[tokio::test]
async fn a_refused_token_is_replaced_once_and_a_fresh_one_refused_again_is_retryable() {
    let (server, url) = Server::start((StatusCode::OK, json!({"expires_in": 3600}))).await;
    let cache = TokenCache::new();
    let http = http_client(Duration::from_secs(10)).unwrap();
    let call = |token: channel_api::auth::AccessToken| {
        let (http, url) = (&http, &url);
        async move { call_api(http, url, token.as_str()).await }
    };
    let authorized_call =
        || cache.authorized(|| fetch(&http, &url), StatusCode::UNAUTHORIZED, call);
    let requests = || (server.tokens(), server.api_requests.load(Ordering::SeqCst));
    authorized_call().await.unwrap();
    assert_eq!(requests(), (1, 1));

    // The API revokes t1 before it expires: one more token request, one more call, success.
    server.valid.lock().await.clear();
    authorized_call().await.unwrap();
    assert_eq!(requests(), (2, 3));

    // An API that refuses every token (revoked credentials): one retry, then a retryable failure, so the
    // records wait for the credentials instead of being dead-lettered.
    *server.answer.lock().await = (
        StatusCode::OK,
        json!({"access_token": "never-valid", "expires_in": 3600}),
    );
    server.valid.lock().await.clear();
    let error = authorized_call().await.unwrap_err();
    assert_eq!(error.kind, FailureKind::Retryable);
    assert_eq!(error.status(), Some(StatusCode::UNAUTHORIZED));
    assert!(
        error
            .message
            .starts_with("a freshly issued access token was refused"),
        "{error}"
    );
    assert_eq!(server.tokens(), 3);
}

#[tokio::test]
async fn a_token_is_renewed_before_it_expires() {
    let (server, url) = Server::start((StatusCode::OK, json!({"expires_in": 100}))).await;
    let clock = ManualClock::new();
    let cache = TokenCache::with_clock(clock.clone());
    let http = http_client(Duration::from_secs(10)).unwrap();
    assert_eq!(
        cache.get(|| fetch(&http, &url)).await.unwrap().as_str(),
        "t1"
    );
    // Renewed a fifth of its lifetime early (20 s): still cached at 79 s, renewed at 80 s.
    clock.advance(Duration::from_secs(79));
    assert_eq!(
        cache.get(|| fetch(&http, &url)).await.unwrap().as_str(),
        "t1"
    );
    clock.advance(Duration::from_secs(1));
    assert_eq!(
        cache.get(|| fetch(&http, &url)).await.unwrap().as_str(),
        "t2"
    );
    assert_eq!(server.tokens(), 2);
}

#[tokio::test]
async fn what_a_server_says_about_a_lifetime_cannot_panic_the_cache() {
    let (server, url) = Server::start((StatusCode::OK, json!({"expires_in": -5}))).await;
    let cache = TokenCache::new();
    let http = http_client(Duration::from_secs(10)).unwrap();
    let error = cache.get(|| fetch(&http, &url)).await.unwrap_err();
    assert_eq!(error.kind, FailureKind::Retryable);
    assert!(error.message.contains("expires_in -5"), "{error}");
    // Nothing was cached: the next caller asks again.
    let _ = cache.get(|| fetch(&http, &url)).await;
    assert_eq!(server.tokens(), 2);

    // A lifetime beyond what an Instant holds is capped, not an overflow.
    for absurd in [json!(u64::MAX), json!(1e300), json!("1e30")] {
        *server.answer.lock().await = (StatusCode::OK, json!({"expires_in": absurd}));
        let cache = TokenCache::new();
        cache.get(|| fetch(&http, &url)).await.unwrap();
        let before = server.tokens();
        cache.get(|| fetch(&http, &url)).await.unwrap();
        assert_eq!(server.tokens(), before, "cached after expires_in {absurd}");
    }
}
