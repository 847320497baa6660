//! The layer that makes a sandbox as strict as its specification: every request to the API (not the
//! `/_sandbox/*` controls) is matched to its operation and checked ([`ApiSpec::check_request`]); one that
//! deviates is answered with the channel's own error body and recorded as a [`Deviation`] of the client,
//! unless every rule it breaks is a listed [`KnownDeviation`](crate::KnownDeviation) (then it is recorded as
//! known and served as if it were right). In debug builds (tests) every answer is checked too
//! ([`ApiSpec::check_response`]) and a mismatch is recorded as a deviation of the sandbox itself.

use std::sync::Arc;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderMap, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use chrono::Utc;

use crate::conformance::{Deviation, Side, Violation};
use crate::faults::InjectedFault;
use crate::recorder::{RecordedCall, body_value};
use crate::server::Controls;
use crate::spec::{ApiSpec, RequestParts};

/// The largest body the layer reads (Walmart's inventory feed files are at most 5 MB; Amazon's feeds are
/// uploaded elsewhere).
const BODY_LIMIT: usize = 64 * 1024 * 1024;

/// What a refusal is about, for the channel's error body.
#[derive(Debug)]
pub struct Refused<'a> {
    /// 400, 404 (no such operation), 405 (no such method on the path), 415 (media type).
    pub status: StatusCode,
    pub operation: Option<&'a str>,
    pub violations: &'a [Violation],
}

impl Refused<'_> {
    /// One line naming every violation, for an error message.
    pub fn describe(&self) -> String {
        self.violations
            .iter()
            .map(|v| format!("{}: {}", v.location, v.message))
            .collect::<Vec<_>>()
            .join("; ")
    }

    /// The parameter or body field of the first violation (`limit`, `WM_SVC.NAME`, `items/0/sku`), for
    /// error bodies that name one.
    pub fn field(&self) -> &str {
        let location = self
            .violations
            .first()
            .map(|v| v.location.as_str())
            .unwrap_or("");
        ["query.", "header.", "path.", "body/"]
            .iter()
            .find_map(|prefix| location.strip_prefix(prefix))
            .unwrap_or(location)
    }
}

/// How a sandbox is held to its specification.
#[derive(Clone)]
pub struct Strictness {
    pub spec: &'static ApiSpec,
    /// The channel's error answer to a deviating request.
    pub refuse: fn(&Refused<'_>) -> Response,
    /// API paths served that this specification does not describe (token endpoints documented elsewhere),
    /// as (method, path prefix, where it is specified).
    pub outside: &'static [(&'static str, &'static str, &'static str)],
    /// Whether answers are checked too: by default in debug builds, which is how tests run.
    pub check_responses: bool,
}

impl Strictness {
    pub fn new(spec: &'static ApiSpec, refuse: fn(&Refused<'_>) -> Response) -> Self {
        Self {
            spec,
            refuse,
            outside: &[],
            check_responses: cfg!(debug_assertions),
        }
    }

    pub fn outside(
        mut self,
        outside: &'static [(&'static str, &'static str, &'static str)],
    ) -> Self {
        self.outside = outside;
        self
    }

    fn is_outside(&self, method: &str, path: &str) -> bool {
        path.starts_with("/_sandbox/")
            || self
                .outside
                .iter()
                .any(|(m, prefix, _)| *m == method && path.starts_with(prefix))
    }
}

struct Enforcer {
    strictness: Strictness,
    controls: Arc<Controls>,
}

/// `router` with the strict layer in front of its routes.
pub fn layer(router: Router, strictness: Strictness, controls: Arc<Controls>) -> Router {
    let enforcer = Arc::new(Enforcer {
        strictness,
        controls,
    });
    router.layer(axum::middleware::from_fn_with_state(enforcer, enforce))
}

async fn enforce(State(enforcer): State<Arc<Enforcer>>, request: Request, next: Next) -> Response {
    let method = request.method().as_str().to_string();
    let path = request.uri().path().to_string();
    if enforcer.strictness.is_outside(&method, &path) {
        return next.run(request).await;
    }
    let query = request.uri().query().map(str::to_string);
    let (parts, body) = request.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, BODY_LIMIT).await else {
        return StatusCode::PAYLOAD_TOO_LARGE.into_response();
    };
    let spec = enforcer.strictness.spec;
    let checked = spec.check_request(&RequestParts {
        method: &method,
        path: &path,
        query: query.as_deref(),
        headers: &parts.headers,
        body: &bytes,
    });
    let operation = checked.operation;
    let operation_id = operation.map(|o| o.id.clone());
    if !checked.violations.is_empty() {
        let conformance = &enforcer.controls.conformance;
        let all_known = checked
            .violations
            .iter()
            .all(|v| conformance.is_known(&v.rule));
        let status = StatusCode::from_u16(checked.status).unwrap_or(StatusCode::BAD_REQUEST);
        let deviation = Deviation {
            side: Side::Request,
            operation: operation_id.clone(),
            method: method.clone(),
            path: path.clone(),
            query: query.clone(),
            status: status.as_u16(),
            violations: checked.violations.clone(),
            known: None,
            at: Utc::now(),
        };
        conformance.record(deviation);
        if !all_known {
            let response = (enforcer.strictness.refuse)(&Refused {
                status,
                operation: operation_id.as_deref(),
                violations: &checked.violations,
            });
            enforcer.controls.recorder.record(RecordedCall {
                operation: operation_id.unwrap_or_else(|| "unknown".into()),
                method,
                path,
                query,
                body: recordable_body(&parts.headers, &bytes),
                status: response.status().as_u16(),
                at: Utc::now(),
            });
            return response;
        }
    }
    let response = next
        .run(Request::from_parts(parts, Body::from(bytes)))
        .await;
    let Some(operation) = operation else {
        return response;
    };
    if !enforcer.strictness.check_responses
        || response.extensions().get::<InjectedFault>().is_some()
    {
        return response;
    }
    let (response_parts, body) = response.into_parts();
    let Ok(answer) = axum::body::to_bytes(body, BODY_LIMIT).await else {
        return StatusCode::INTERNAL_SERVER_ERROR.into_response();
    };
    let status = response_parts.status.as_u16();
    let content_type = response_parts
        .headers
        .get("content-type")
        .and_then(|v| v.to_str().ok());
    let violations = spec.check_response(operation, status, content_type, &answer);
    if !violations.is_empty() {
        enforcer.controls.conformance.record(Deviation {
            side: Side::Response,
            operation: operation_id,
            method,
            path,
            query,
            status,
            violations,
            known: None,
            at: Utc::now(),
        });
    }
    Response::from_parts(response_parts, Body::from(answer))
}

/// A refused request's body as recorded: form bodies may carry credentials and are left out.
fn recordable_body(headers: &HeaderMap, body: &Bytes) -> serde_json::Value {
    let form = headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|c| c.starts_with("application/x-www-form-urlencoded"));
    if form {
        serde_json::Value::Null
    } else {
        body_value(body)
    }
}
