//! How a connector reports a failed call: the class that decides what the flow does with the record
//! ([`FailureKind`]), the channel's own words, and, when the failure was an HTTP answer, its status, the
//! server's hints and the answer's body ([`HttpFailure`]), so that a connector decides on the status (a 404
//! that means "no such offer", a 401 that means "log in again") and never on the text. The cause is kept as
//! the error's [`source`](std::error::Error::source).

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

pub use reqwest::StatusCode;

use crate::resilience::{Outcome, ServerHint, hints_from_headers};

/// How a failed call should be handled.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FailureKind {
    /// Might succeed later (timeout, 5xx, throttled, circuit open): the message is redelivered with backoff.
    Retryable,
    /// Cannot succeed (a 4xx the channel will answer the same way): the message goes to the dead-letter stream.
    Permanent,
    /// Every attempt the operation's retry policy allows failed: the message goes to the dead-letter stream.
    Exhausted,
}

/// A non-2xx HTTP answer: its status, what its headers said about limits (`Retry-After`,
/// `x-amzn-RateLimit-Limit`), and its body (the first [`HttpFailure::BODY_LIMIT`] bytes), for a connector that
/// reads the channel's error codes from it.
#[derive(Clone, Debug, PartialEq)]
pub struct HttpFailure {
    pub status: StatusCode,
    pub hints: Vec<ServerHint>,
    pub body: String,
}

impl HttpFailure {
    /// Bytes of the body kept: enough for any channel's error document, bounded for a channel that answers an
    /// error with a page of HTML.
    pub const BODY_LIMIT: usize = 16 * 1024;

    /// The answer of `status` with `headers` (names in any case) and `body`, its hints read as of `now`.
    pub fn new<'a>(
        status: StatusCode,
        headers: impl IntoIterator<Item = (&'a str, &'a str)>,
        body: &str,
        now: SystemTime,
    ) -> Self {
        let mut end = body.len().min(Self::BODY_LIMIT);
        while !body.is_char_boundary(end) {
            end -= 1;
        }
        Self {
            status,
            hints: hints_from_headers(headers, now),
            body: body[..end].to_string(),
        }
    }

    /// How long the server asked to wait (`Retry-After`), if it did.
    pub fn retry_after(&self) -> Option<Duration> {
        self.hints.iter().find_map(|hint| match hint {
            ServerHint::RetryAfter(wait) => Some(*wait),
            _ => None,
        })
    }
}

/// A failed delivery or poll, with the channel's own words.
#[derive(Clone, Debug)]
pub struct ConnectorError {
    pub kind: FailureKind,
    pub message: String,
    http: Option<Arc<HttpFailure>>,
    source: Option<Arc<dyn std::error::Error + Send + Sync>>,
}

impl ConnectorError {
    pub fn new(kind: FailureKind, message: impl Into<String>) -> Self {
        Self {
            kind,
            message: message.into(),
            http: None,
            source: None,
        }
    }

    pub fn retryable(message: impl Into<String>) -> Self {
        Self::new(FailureKind::Retryable, message)
    }

    pub fn permanent(message: impl Into<String>) -> Self {
        Self::new(FailureKind::Permanent, message)
    }

    /// The same failure, caused by `source` (kept as the error's source; its text is not added to the message).
    pub fn with_source(mut self, source: impl std::error::Error + Send + Sync + 'static) -> Self {
        self.source = Some(Arc::new(source));
        self
    }

    /// The same failure, answered by the channel with `http`.
    pub fn with_http(mut self, http: HttpFailure) -> Self {
        self.http = Some(Arc::new(http));
        self
    }

    /// The same failure (class, answer, cause), its message prefixed with where it happened: `context: message`.
    pub fn context(mut self, context: impl fmt::Display) -> Self {
        self.message = format!("{context}: {}", self.message);
        self
    }

    /// The HTTP answer, when the failure was one.
    pub fn http(&self) -> Option<&HttpFailure> {
        self.http.as_deref()
    }

    /// The HTTP status, when the failure was an answer.
    pub fn status(&self) -> Option<StatusCode> {
        self.http.as_ref().map(|h| h.status)
    }

    /// True when the channel answered `status`.
    pub fn is_status(&self, status: StatusCode) -> bool {
        self.status() == Some(status)
    }

    /// The server's hints (`Retry-After`, rate limits), when it answered with any.
    pub fn hints(&self) -> &[ServerHint] {
        self.http
            .as_ref()
            .map(|h| h.hints.as_slice())
            .unwrap_or_default()
    }

    /// The connector's view of a guarded call that did not succeed: the class from the guard's outcome, the
    /// answer and cause of the last attempt.
    pub fn from_outcome<E: Attempt>(outcome: Outcome<E>) -> Self {
        let message = outcome.to_string();
        match outcome {
            Outcome::CircuitOpen { last, .. } => last
                .map(|last| last.into_error(FailureKind::Retryable, message.clone()))
                .unwrap_or_else(|| Self::retryable(message)),
            Outcome::Exhausted { last, .. } => last.into_error(FailureKind::Exhausted, message),
            Outcome::Permanent { error, .. } => {
                let message = error.to_string();
                error.into_error(FailureKind::Permanent, message)
            }
            Outcome::TooCostly(_) => Self::permanent(message),
        }
    }
}

/// What one failed attempt of a guarded call carries into the [`ConnectorError`] its outcome becomes: a plain
/// message, or a [`ConnectorError`] with its answer and cause.
pub trait Attempt: fmt::Display {
    fn into_error(self, kind: FailureKind, message: String) -> ConnectorError;
}

impl Attempt for String {
    fn into_error(self, kind: FailureKind, message: String) -> ConnectorError {
        ConnectorError::new(kind, message)
    }
}

impl Attempt for ConnectorError {
    fn into_error(self, kind: FailureKind, message: String) -> ConnectorError {
        ConnectorError {
            kind,
            message,
            ..self
        }
    }
}

impl PartialEq for ConnectorError {
    /// Equal when the class, the message and the answer are (the cause is not compared).
    fn eq(&self, other: &Self) -> bool {
        self.kind == other.kind && self.message == other.message && self.http == other.http
    }
}

impl fmt::Display for ConnectorError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for ConnectorError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.source
            .as_deref()
            .map(|e| e as &(dyn std::error::Error + 'static))
    }
}
