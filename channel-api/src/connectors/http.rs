//! One guarded HTTP call, shared by every HTTP connector: the operation's guard paces and retries it, the
//! answer is classified (2xx delivered, 429 throttled with the server's hints, 5xx and transport errors
//! retryable, other 4xx permanent) unless the connector classifies it itself, because some channels answer
//! errors with 200 (GraphQL `userErrors`) or throttle with other codes. A failure keeps the answer's status, hints
//! and body ([`crate::error::HttpFailure`]), or the transport error as its source, so connectors decide on the
//! status, never on the message.

use std::time::SystemTime;

use reqwest::StatusCode;

use crate::error::{ConnectorError, HttpFailure};
use crate::resilience::{Failure, Resilience, ServerHint, hints_from_headers};

/// A non-2xx answer, as a classifier sees it.
#[derive(Clone, Debug)]
pub struct HttpAnswer {
    pub status: StatusCode,
    /// Header names lower-case, values that are not text skipped.
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl HttpAnswer {
    /// Reads a response whole: status, headers and body (empty when the body cannot be read).
    pub async fn read(response: reqwest::Response) -> Self {
        let status = response.status();
        let headers = header_pairs(response.headers());
        let body = response.text().await.unwrap_or_default();
        Self {
            status,
            headers,
            body,
        }
    }

    /// The answer in one line for a dead letter or a log: status and the first 500 characters of the body.
    pub fn summary(&self) -> String {
        format!(
            "{}: {}",
            self.status,
            self.body.chars().take(500).collect::<String>()
        )
    }

    /// The first hint the headers carry (`Retry-After`, `x-amzn-RateLimit-Limit`).
    pub fn hint(&self) -> Option<ServerHint> {
        hints_from_headers(
            self.headers.iter().map(|(k, v)| (k.as_str(), v.as_str())),
            SystemTime::now(),
        )
        .into_iter()
        .next()
    }

    /// What a [`ConnectorError`] keeps of this answer: status, hints, body.
    pub fn failure(&self) -> HttpFailure {
        HttpFailure::new(
            self.status,
            self.headers.iter().map(|(k, v)| (k.as_str(), v.as_str())),
            &self.body,
            SystemTime::now(),
        )
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// The usual classification of a non-2xx answer: 429 throttled (with the headers' hint), 5xx retryable,
/// anything else permanent.
pub fn classify_status(answer: &HttpAnswer) -> Failure<String> {
    let error = answer.summary();
    if answer.status == StatusCode::TOO_MANY_REQUESTS {
        Failure::Throttled {
            error,
            hint: answer.hint(),
        }
    } else if answer.status.is_server_error() {
        Failure::Retryable(error)
    } else {
        Failure::Permanent(error)
    }
}

/// Sends the request `build` makes (again for each attempt) through `operation`'s guard at `cost` tokens.
/// Non-2xx answers are classified by `classify`; a 2xx response is returned as it is. Each response's rate
/// hints are passed to the guard, so a server that lowers its rate is followed before it throttles.
pub async fn send_guarded<B, K>(
    resilience: &Resilience,
    operation: &str,
    cost: u32,
    build: B,
    classify: K,
) -> Result<reqwest::Response, ConnectorError>
where
    B: Fn() -> reqwest::RequestBuilder,
    K: Fn(&HttpAnswer) -> Failure<String>,
{
    let guard = resilience.guard(operation);
    guard
        .run(cost, || {
            let request = build();
            let guard = guard.clone();
            let classify = &classify;
            async move {
                let response = request
                    .send()
                    .await
                    .map_err(|e| Failure::Retryable(transport_error(e)))?;
                let status = response.status();
                let headers = header_pairs(response.headers());
                if status.is_success() {
                    for hint in hints_from_headers(
                        headers.iter().map(|(k, v)| (k.as_str(), v.as_str())),
                        SystemTime::now(),
                    ) {
                        if matches!(hint, ServerHint::RateLimit { .. }) {
                            guard.observe(hint);
                        }
                    }
                    return Ok(response);
                }
                let answer = HttpAnswer {
                    status,
                    headers,
                    body: response.text().await.unwrap_or_default(),
                };
                // The class and words are the classifier's; the answer itself is kept for the connector.
                let failure = answer.failure();
                Err(classify(&answer)
                    .map(|message| ConnectorError::retryable(message).with_http(failure.clone())))
            }
        })
        .await
        .map_err(ConnectorError::from_outcome)
}

fn header_pairs(headers: &reqwest::header::HeaderMap) -> Vec<(String, String)> {
    headers
        .iter()
        .filter_map(|(k, v)| {
            v.to_str()
                .ok()
                .map(|v| (k.as_str().to_ascii_lowercase(), v.to_string()))
        })
        .collect()
}

/// A transport failure (no answer): retryable, its text without the URL, the error kept as its source (also
/// without the URL).
pub fn transport_error(error: reqwest::Error) -> ConnectorError {
    ConnectorError::retryable(without_url(&error)).with_source(error.without_url())
}

/// A transport error's text without the URL (which may carry a query with a token or a signature).
pub fn without_url(error: &reqwest::Error) -> String {
    let error = error.to_string();
    match error.find(" for url") {
        Some(at) => error[..at].to_string(),
        None => error,
    }
}

/// Reads a 2xx response's body as JSON of type `T`; a body that is not is a permanent failure naming what
/// was expected, since asking again returns the same body.
pub async fn read_json<T: serde::de::DeserializeOwned>(
    response: reqwest::Response,
    what: &str,
) -> Result<T, ConnectorError> {
    let text = response
        .text()
        .await
        .map_err(|e| transport_error(e).context(format!("reading {what}")))?;
    serde_json::from_str(&text).map_err(|e| {
        ConnectorError::permanent(format!(
            "{what} is not what the API documents: {e} (body: {})",
            text.chars().take(300).collect::<String>()
        ))
        .with_source(e)
    })
}
