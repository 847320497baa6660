//! Walmart's error bodies and how an answer is classified: Walmart's own words (`errors[].code` and
//! `description`) go into every failure, so a dead letter says what Walmart said.

use channel_api::connectors::http::HttpAnswer;
use channel_api::resilience::Failure;
use reqwest::StatusCode;
use serde::Deserialize;

#[derive(Deserialize)]
struct ErrorBody {
    #[serde(default)]
    errors: Vec<WalmartError>,
}

#[derive(Deserialize)]
struct WalmartError {
    #[serde(default)]
    code: String,
    #[serde(default)]
    field: Option<String>,
    #[serde(default)]
    description: Option<String>,
    #[serde(default)]
    info: Option<String>,
}

/// Walmart's error text in one line: `CODE (field): description; ...`, or the body's first 300 characters
/// when it is not Walmart's error body.
pub fn error_text(body: &str) -> String {
    let parsed = serde_json::from_str::<ErrorBody>(body)
        .ok()
        .filter(|b| !b.errors.is_empty());
    match parsed {
        Some(body) => body
            .errors
            .iter()
            .map(|e| {
                let field = e
                    .field
                    .as_deref()
                    .filter(|f| !f.is_empty())
                    .map(|f| format!(" ({f})"))
                    .unwrap_or_default();
                let text = e
                    .description
                    .as_deref()
                    .or(e.info.as_deref())
                    .unwrap_or_default();
                format!("{}{field}: {text}", e.code)
            })
            .collect::<Vec<_>>()
            .join("; "),
        None => body.chars().take(300).collect(),
    }
}

/// The `errors[].code` of Walmart's error body (none when the body is not one).
pub fn codes(body: &str) -> impl Iterator<Item = String> {
    serde_json::from_str::<ErrorBody>(body)
        .map(|b| b.errors)
        .unwrap_or_default()
        .into_iter()
        .map(|e| e.code)
}

/// How a non-2xx answer is handled: 429 throttled with its `Retry-After`, 5xx retryable, 401 handled by the
/// caller (the token is renewed once), anything else permanent with Walmart's text.
pub fn classify(answer: &HttpAnswer) -> Failure<String> {
    let error = format!("{} {}", answer.status.as_u16(), error_text(&answer.body));
    if answer.status == StatusCode::TOO_MANY_REQUESTS {
        Failure::Throttled {
            error,
            hint: answer.hint(),
        }
    } else if answer.status.is_server_error() || answer.status == StatusCode::REQUEST_TIMEOUT {
        Failure::Retryable(error)
    } else {
        Failure::Permanent(error)
    }
}

/// `failure` with the `WM_QOS.CORRELATION_ID` of the refused call appended to its text, so a dead letter
/// names the call Walmart's support can look up.
pub fn with_call_id(failure: Failure<String>, call_id: &str) -> Failure<String> {
    let tag = |error: String| {
        format!(
            "{error} [{} {call_id}]",
            crate::headers::WM_QOS_CORRELATION_ID
        )
    };
    match failure {
        Failure::Retryable(error) => Failure::Retryable(tag(error)),
        Failure::Throttled { error, hint } => Failure::Throttled {
            error: tag(error),
            hint,
        },
        Failure::Permanent(error) => Failure::Permanent(tag(error)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer(status: u16, body: &str, headers: &[(&str, &str)]) -> HttpAnswer {
        HttpAnswer {
            status: StatusCode::from_u16(status).unwrap_or(StatusCode::IM_A_TEAPOT),
            headers: headers
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            body: body.to_string(),
        }
    }

    #[test]
    fn walmart_text_names_code_field_and_description() {
        let body = r#"{"errors":[{"code":"CONTENT_NOT_FOUND.GMP_INVENTORY_API","field":"sku","description":"Item not found for sku A-1","severity":"ERROR"}]}"#;
        assert_eq!(
            error_text(body),
            "CONTENT_NOT_FOUND.GMP_INVENTORY_API (sku): Item not found for sku A-1"
        );
        assert_eq!(error_text("<html>oops</html>"), "<html>oops</html>");
    }

    #[test]
    fn classes() {
        let throttled = classify(&answer(429, "{}", &[("retry-after", "7")]));
        match throttled {
            Failure::Throttled { hint, .. } => assert_eq!(
                hint,
                Some(channel_api::resilience::ServerHint::RetryAfter(
                    std::time::Duration::from_secs(7)
                ))
            ),
            other => panic!("429 is throttled, got {other:?}"),
        }
        assert!(matches!(
            classify(&answer(503, "", &[])),
            Failure::Retryable(_)
        ));
        match classify(&answer(
            400,
            r#"{"errors":[{"code":"INVALID_REQUEST_CONTENT.GMP_PRICE_API","description":"bad"}]}"#,
            &[],
        )) {
            Failure::Permanent(e) => {
                assert_eq!(e, "400 INVALID_REQUEST_CONTENT.GMP_PRICE_API: bad")
            }
            other => panic!("400 is permanent, got {other:?}"),
        }
    }
}
