//! An in-memory Kubernetes API for tests, served to the real `kube::Client`, and as strict as the API server
//! in what Tradewind's operator relies on (each rule is tested in `tests/`, citing the Kubernetes
//! documentation it follows):
//!
//! - **Schemas** ([`schema`]): Tradewind kinds are decoded as the API server decodes custom resources
//!   (fields the CRD does not declare pruned, `null`s dropped, `default`s applied) and validated by the checks
//!   of `twctl validate` (`crds::schema::SchemaSet`: structural schema and CEL rules, transition rules on
//!   update); built-in kinds by the upstream Kubernetes 1.33 OpenAPI definitions (types, required fields,
//!   unknown fields). Unknown fields follow `fieldValidation` (Warn by default: dropped with a `Warning`;
//!   Strict: 400). An invalid object is a 422 `Invalid` Status with `details.causes`.
//! - **Server-side apply** ([`apply`]): `metadata.managedFields` per manager, operation and subresource;
//!   409 conflicts unless forced; lists merged by their list type (`atomic`, `set`, `map` with its keys, and
//!   the patch merge keys of built-in kinds); fields a manager stops applying removed when no other manager
//!   owns them. Writes to the main resource ignore `status`; writes to `/status` ignore everything else.
//! - **Metadata** ([`metadata`], [`gc`]): `generation` moves on spec changes only (custom resources: any change
//!   outside metadata and status); `resourceVersion` on every change and only then (a write that changes
//!   nothing is no event); finalizers hold a deleted object (`deletionTimestamp`, no new finalizers) until the
//!   last goes; owner references garbage-collect dependents (background, or orphaned); label and field
//!   selectors on list and watch ([`selector`], [`watch`]).
//!
//! Not modelled: built-in kinds' Go defaulting (a Deployment's `strategy`, a Service's `clusterIP`), their
//! hand-written validation beyond names and labels, foreground deletion, strategic merge patch (415), dry
//! runs, admission, RBAC, and controllers (a Deployment never gets pods or `availableReplicas`).

pub mod apply;
pub mod errors;
pub mod gc;
pub mod metadata;
pub mod patch;
pub mod request;
pub mod resources;
pub mod schema;
pub mod selector;
pub mod server;
pub mod store;
pub mod watch;

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use kube::Client;

use request::{Request, Verb};
use server::Server;

/// How long a watch request waits for a change before it ends empty (kube's watcher then watches again).
const WATCH_POLL: Duration = Duration::from_secs(5);

/// The in-memory API. Clones share the same objects.
#[derive(Clone)]
pub struct FakeApi {
    server: Arc<Server>,
    /// The version of the latest change, for watches waiting on one.
    changed: Arc<tokio::sync::watch::Sender<u64>>,
}

impl Default for FakeApi {
    fn default() -> Self {
        #[allow(clippy::expect_used)]
        let server = Server::new().expect("the served schemas compile");
        Self {
            server: Arc::new(server),
            changed: Arc::new(tokio::sync::watch::Sender::new(0)),
        }
    }
}

impl FakeApi {
    /// An API that keeps its changes for watches (to run the real controllers against it).
    pub fn watchable() -> Self {
        let api = Self::default();
        api.server
            .store
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .keep_log = true;
        api
    }

    /// Sets the `creationTimestamp` of objects created from now on (default: the real time).
    pub fn set_creation_time(&self, at: &str) {
        *self
            .server
            .creation_time
            .lock()
            .unwrap_or_else(|e| e.into_inner()) = Some(at.to_string());
    }

    /// Answers a watch: the changes after its `resourceVersion`, waiting up to [`WATCH_POLL`] for one.
    async fn watch(&self, request: &Request) -> Result<Vec<u8>, errors::ApiError> {
        let mut watch = self.server.watch(request)?;
        let mut changes = self.changed.subscribe();
        let deadline = tokio::time::Instant::now() + WATCH_POLL;
        loop {
            let (events, last) = self.server.watch_events(&watch);
            if !events.is_empty() {
                return Ok(events);
            }
            watch.after = last;
            if tokio::time::timeout_at(deadline, changes.changed())
                .await
                .is_err()
            {
                return Ok(Vec::new());
            }
        }
    }

    async fn respond(
        &self,
        parts: http::request::Parts,
        body: Vec<u8>,
    ) -> Result<(u16, Vec<u8>, Vec<String>), errors::ApiError> {
        let header = |name: http::header::HeaderName| {
            parts
                .headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("")
                .to_string()
        };
        let request = Request::parse(
            &parts.method,
            &parts.uri,
            &header(http::header::CONTENT_TYPE),
            &header(http::header::USER_AGENT),
        )?;
        if request.verb == Verb::Watch {
            return Ok((200, self.watch(&request).await?, Vec::new()));
        }
        let answer = self.server.handle(&request, &body)?;
        self.changed.send_replace(self.server.version());
        let body = serde_json::to_vec(&answer.body).unwrap_or_default();
        Ok((answer.code, body, answer.warnings))
    }

    /// A `kube::Client` talking to this API.
    pub fn client(&self) -> Client {
        let api = self.clone();
        let service = tower::service_fn(move |request: http::Request<kube::client::Body>| {
            let api = api.clone();
            async move {
                let (parts, body) = request.into_parts();
                let bytes = body.collect_bytes().await.unwrap_or_default();
                let (code, body, warnings) = match api.respond(parts, bytes.to_vec()).await {
                    Ok(answer) => answer,
                    Err(e) => (
                        e.code,
                        serde_json::to_vec(&e.to_status()).unwrap_or_default(),
                        Vec::new(),
                    ),
                };
                let mut response = http::Response::builder()
                    .status(code)
                    .header("content-type", "application/json");
                for warning in warnings {
                    response = response.header("warning", format!("299 - {warning:?}"));
                }
                Ok::<_, Infallible>(
                    response
                        .body(kube::client::Body::from(body))
                        .unwrap_or_else(|_| http::Response::new(kube::client::Body::empty())),
                )
            }
        });
        Client::new(service, "default")
    }
}
