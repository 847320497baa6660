//! The ERP REST target: orders are posted to the ERP's sales-order API, returns and settlements to their own
//! paths, each with an idempotency key equal to the record's message id (`<marketplace>:<order id>:<revision>`,
//! `<marketplace>:return:<id>:<status>`, `<marketplace>:settlement:<id>`). The ERP must answer a repeated key
//! like the first request and never create a second document for it. An order's answer carries the ERP's
//! sales-order number (`{"number": "SO-1001"}`), which goes back to the channel as `order.accepted`.

use std::sync::Arc;

use adapter_runtime::canonical::Record;
use adapter_runtime::connector::ConnectorError;
use adapter_runtime::connectors::http::{classify_status, read_json, send_guarded};
use adapter_runtime::resilience::Resilience;
use serde::Deserialize;

use crate::sink::{Delivered, operation};

pub use crate::sink::POST_ORDER_OPERATION;

pub struct RestTarget {
    pub orders_url: String,
    pub returns_url: String,
    pub settlements_url: String,
    pub token: Option<String>,
    pub idempotency_header: String,
    pub http: reqwest::Client,
    pub resilience: Arc<Resilience>,
}

#[derive(Deserialize)]
struct SalesOrderAnswer {
    number: String,
}

impl RestTarget {
    /// The target of `spec.sink.rest`: `base` joined with each path.
    pub fn urls(base: &str, orders: &str, returns: &str, settlements: &str) -> [String; 3] {
        let base = base.trim_end_matches('/');
        [
            format!("{base}{orders}"),
            format!("{base}{returns}"),
            format!("{base}{settlements}"),
        ]
    }

    pub async fn deliver(&self, key: &str, record: &Record) -> Result<Delivered, ConnectorError> {
        let (url, body) = match record {
            Record::Order(order) => (&self.orders_url, serde_json::to_value(order.as_ref())),
            Record::Return(r) => (&self.returns_url, serde_json::to_value(r)),
            Record::Settlement(s) => (&self.settlements_url, serde_json::to_value(s)),
            other => {
                return Err(ConnectorError::permanent(format!(
                    "the REST sink posts orders, returns and settlements, not a {}",
                    other.event_type()
                )));
            }
        };
        let body =
            body.map_err(|e| ConnectorError::permanent(format!("encoding the record: {e}")))?;
        let response = send_guarded(
            &self.resilience,
            operation(record),
            1,
            || {
                let request = self
                    .http
                    .post(url)
                    .header(self.idempotency_header.as_str(), key)
                    .json(&body);
                match &self.token {
                    Some(token) => request.bearer_auth(token),
                    None => request,
                }
            },
            classify_status,
        )
        .await?;
        match record {
            Record::Order(_) => read_json::<SalesOrderAnswer>(response, "the ERP's answer")
                .await
                .map(|answer| Delivered::SalesOrder(answer.number)),
            // The ERP's number for a return or settlement, when it gives one, is for its own books.
            _ => Ok(Delivered::Stored {
                duplicate: response.status() == reqwest::StatusCode::OK,
            }),
        }
    }
}
