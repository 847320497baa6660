//! Orders pushed to a webhook as the portal would: the order's JSON, `X-Tradewind-Timestamp` and
//! `X-Tradewind-Signature` (HMAC-SHA256 over `<timestamp>.<body>` with the portal's key). Tests ask for a
//! wrong key, an old timestamp or a body of their own to see the adapter refuse them.

use adapter_runtime::signature::{SIGNATURE_HEADER, TIMESTAMP_HEADER, sign};
use chrono::Utc;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::Shared;
use crate::state::Push;

/// How a push is signed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Signing {
    /// With the portal's key.
    #[default]
    Valid,
    /// With another key.
    WrongKey,
    /// No signature headers at all.
    Unsigned,
}

/// One push.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PushRequest {
    /// The webhook's URL.
    pub url: String,
    /// The generated order to push; `None`: the newest one.
    #[serde(default)]
    pub order_id: Option<String>,
    /// A body of the caller's own instead of the order (to send malformed orders), signed all the same.
    #[serde(default)]
    pub body: Option<String>,
    #[serde(default)]
    pub signing: Signing,
    /// Added to the current time in the timestamp header (negative: an old request, as a replay is).
    #[serde(default)]
    pub timestamp_offset_seconds: i64,
}

/// Sends `request`; the webhook's status and answer are returned and kept in the state.
pub async fn push(shared: &Shared, request: PushRequest) -> Push {
    let order = {
        let state = shared.lock();
        match &request.order_id {
            Some(id) => state
                .orders
                .iter()
                .find(|o| o.get("orderId").and_then(Value::as_str) == Some(id.as_str()))
                .cloned(),
            None => state.orders.last().cloned(),
        }
    };
    let order_id = order
        .as_ref()
        .and_then(|o| o.get("orderId"))
        .and_then(Value::as_str)
        .map(str::to_string);
    let body = match (&request.body, &order) {
        (Some(body), _) => body.clone(),
        (None, Some(order)) => order.to_string(),
        (None, None) => String::new(),
    };
    let timestamp = Utc::now().timestamp() + request.timestamp_offset_seconds;
    let key = shared.portal.webhook_key.clone().unwrap_or_default();
    let mut call = shared
        .http
        .post(&request.url)
        .header("content-type", "application/json");
    match request.signing {
        Signing::Valid => {
            call = call.header(TIMESTAMP_HEADER, timestamp.to_string()).header(
                SIGNATURE_HEADER,
                sign(key.as_bytes(), timestamp, body.as_bytes()),
            );
        }
        Signing::WrongKey => {
            call = call.header(TIMESTAMP_HEADER, timestamp.to_string()).header(
                SIGNATURE_HEADER,
                sign(b"not-the-shared-key", timestamp, body.as_bytes()),
            );
        }
        Signing::Unsigned => {}
    }
    let (status, answer) = match call.body(body).send().await {
        Ok(response) => {
            let status = response.status().as_u16();
            (status, response.text().await.unwrap_or_default())
        }
        // No answer: recorded as status 0 with the transport's error.
        Err(e) => (0, e.to_string()),
    };
    let push = Push {
        order_id,
        status,
        answer,
        at: Utc::now(),
    };
    shared.lock().pushes.push(push.clone());
    push
}
