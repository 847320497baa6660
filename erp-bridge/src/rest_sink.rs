//! The ERP REST target: the ERP contract's operations as HTTP requests, each with its idempotency key in the
//! `idempotencyHeader` (`Idempotency-Key` by default) and the canonical record as JSON:
//!
//! | operation | request | key |
//! | --- | --- | --- |
//! | create | `POST {ordersPath}` | `<marketplace>:<order id>` |
//! | update | `PATCH {ordersPath}/{marketplace}/{order id}` with `{"revision", "changed", "order"}` | `<marketplace>:<order id>:update:<revision>` |
//! | cancel | `POST {ordersPath}/{marketplace}/{order id}/cancellation` | `<marketplace>:<order id>:cancel[:<lines>]` |
//! | return | `POST {returnsPath}` | `<marketplace>:return:<return id>:<status>` |
//! | settlement | `POST {settlementsPath}` | `<marketplace>:settlement:<settlement id>` |
//!
//! The ERP must answer a repeated key like the first request and never act twice on one key. A creation's (and
//! an update's) answer carries the ERP's sales-order number (`{"number": "SO-1001"}`), which goes back to the
//! channel as `order.accepted`.

use std::sync::Arc;

use adapter_runtime::connector::ConnectorError;
use adapter_runtime::connectors::http::{classify_status, read_json, send_guarded};
use adapter_runtime::resilience::Resilience;
use percent_encoding::{NON_ALPHANUMERIC, utf8_percent_encode};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::contract::Operation;
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
struct Answer {
    number: Option<String>,
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

    /// The sales order of a channel order: `{ordersPath}/{marketplace}/{order id}`, each segment encoded.
    pub fn sales_order_url(&self, marketplace: &str, order_id: &str) -> String {
        let segment = |s: &str| utf8_percent_encode(s, NON_ALPHANUMERIC).to_string();
        format!(
            "{}/{}/{}",
            self.orders_url.trim_end_matches('/'),
            segment(marketplace),
            segment(order_id)
        )
    }

    pub async fn deliver(&self, op: &Operation) -> Result<Delivered, ConnectorError> {
        let encode = |v: Result<Value, serde_json::Error>| {
            v.map_err(|e| ConnectorError::permanent(format!("encoding the record: {e}")))
        };
        let (method, url, body) = match op {
            Operation::Create(order) => (
                reqwest::Method::POST,
                self.orders_url.clone(),
                encode(serde_json::to_value(order.as_ref()))?,
            ),
            Operation::Update { order, changed } => (
                reqwest::Method::PATCH,
                self.sales_order_url(order.marketplace.as_str(), order.order_id.as_str()),
                json!({
                    "revision": order.revision,
                    "changed": changed.iter().map(|p| p.as_str()).collect::<Vec<_>>(),
                    "order": encode(serde_json::to_value(order.as_ref()))?,
                }),
            ),
            Operation::Cancel(c) => (
                reqwest::Method::POST,
                format!(
                    "{}/cancellation",
                    self.sales_order_url(c.marketplace.as_str(), c.order_id.as_str())
                ),
                encode(serde_json::to_value(c))?,
            ),
            Operation::Return(r) => (
                reqwest::Method::POST,
                self.returns_url.clone(),
                encode(serde_json::to_value(r))?,
            ),
            Operation::Settlement(s) => (
                reqwest::Method::POST,
                self.settlements_url.clone(),
                encode(serde_json::to_value(s))?,
            ),
        };
        let key = op.key();
        let response = send_guarded(
            &self.resilience,
            operation(op),
            1,
            || {
                let request = self
                    .http
                    .request(method.clone(), &url)
                    .header(self.idempotency_header.as_str(), key.as_str())
                    .json(&body);
                match &self.token {
                    Some(token) => request.bearer_auth(token),
                    None => request,
                }
            },
            classify_status,
        )
        .await?;
        let repeated = response.status() == reqwest::StatusCode::OK;
        match op {
            Operation::Create(_) => {
                let answer: Answer = read_json(response, "the ERP's answer").await?;
                answer.number.map(Delivered::SalesOrder).ok_or_else(|| {
                    ConnectorError::permanent("the ERP's answer has no sales-order number")
                })
            }
            Operation::Update { .. } | Operation::Cancel(_) => {
                let answer: Answer = read_json(response, "the ERP's answer").await?;
                Ok(answer.number.map_or(
                    Delivered::Stored {
                        duplicate: repeated,
                    },
                    Delivered::SalesOrder,
                ))
            }
            // The ERP's number for a return or settlement, when it gives one, is for its own books.
            _ => Ok(Delivered::Stored {
                duplicate: repeated,
            }),
        }
    }
}
