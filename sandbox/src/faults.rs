//! Faults injected on demand: the next N calls of an operation (or of any operation) answer with a given
//! status and body, arrive late, or carry a body that is not JSON. Tests and `twctl up --scenario chaos` post
//! them to `/_sandbox/faults`; every sandbox handler asks [`Faults::take`] before doing its work.

use std::collections::VecDeque;
use std::sync::Mutex;
use std::time::Duration;

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};

/// One kind of misbehaviour.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", tag = "kind")]
pub enum Fault {
    /// Answer with this status and body (a 429 with the channel's throttling body, a 503, a 400...).
    /// `headers` are added as given (`Retry-After`, `x-amzn-RateLimit-Limit`).
    Status {
        status: u16,
        #[serde(default)]
        body: String,
        #[serde(default)]
        headers: Vec<(String, String)>,
    },
    /// Wait this long before answering normally: longer than the client's timeout, it is a timeout.
    Delay { millis: u64 },
    /// Answer 200 with a body cut in the middle.
    Malformed,
}

/// A fault to apply to the next `count` calls of `operation` (all operations when absent).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FaultPlan {
    #[serde(default)]
    pub operation: Option<String>,
    pub fault: Fault,
    #[serde(default = "one")]
    pub count: u32,
}

fn one() -> u32 {
    1
}

/// Marks an answer as a fault injected on purpose (a response extension): the strict layer does not
/// check it against the specification.
#[derive(Clone, Copy, Debug)]
pub struct InjectedFault;

/// The pending faults of one sandbox, in the order they were planned.
#[derive(Debug, Default)]
pub struct Faults {
    plans: Mutex<VecDeque<FaultPlan>>,
}

impl Faults {
    pub fn plan(&self, plan: FaultPlan) {
        if plan.count > 0 {
            self.lock().push_back(plan);
        }
    }

    pub fn clear(&self) {
        self.lock().clear();
    }

    /// Faults still to be applied.
    pub fn pending(&self) -> Vec<FaultPlan> {
        self.lock().iter().cloned().collect()
    }

    /// The fault for this call of `operation`, if one is planned; consumes one of its count.
    pub fn take(&self, operation: &str) -> Option<Fault> {
        let mut plans = self.lock();
        let index = plans
            .iter()
            .position(|p| p.operation.as_deref().is_none_or(|o| o == operation))?;
        let plan = &mut plans[index];
        let fault = plan.fault.clone();
        plan.count -= 1;
        if plan.count == 0 {
            plans.remove(index);
        }
        Some(fault)
    }

    /// Applies the planned fault of `operation`, if any: `Some(response)` to answer with instead of doing the
    /// work, `None` to go on (after a delay, for [`Fault::Delay`]).
    pub async fn apply(&self, operation: &str) -> Option<Response> {
        let mut response = self.answer(operation).await?;
        response.extensions_mut().insert(InjectedFault);
        Some(response)
    }

    async fn answer(&self, operation: &str) -> Option<Response> {
        match self.take(operation)? {
            Fault::Status {
                status,
                body,
                headers,
            } => {
                let status =
                    StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
                let mut response = (status, body).into_response();
                for (name, value) in headers {
                    if let (Ok(name), Ok(value)) = (
                        axum::http::HeaderName::try_from(name),
                        axum::http::HeaderValue::try_from(value),
                    ) {
                        response.headers_mut().insert(name, value);
                    }
                }
                response.headers_mut().insert(
                    axum::http::header::CONTENT_TYPE,
                    axum::http::HeaderValue::from_static("application/json"),
                );
                Some(response)
            }
            Fault::Delay { millis } => {
                tokio::time::sleep(Duration::from_millis(millis)).await;
                None
            }
            Fault::Malformed => Some(
                (
                    StatusCode::OK,
                    [(axum::http::header::CONTENT_TYPE, "application/json")],
                    "{\"payload\": {\"items\": [{\"sku\": ",
                )
                    .into_response(),
            ),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, VecDeque<FaultPlan>> {
        // A panic while holding this lock leaves a queue that is still valid.
        self.plans.lock().unwrap_or_else(|p| p.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_plan_applies_to_its_operation_count_times_in_order() {
        let faults = Faults::default();
        faults.plan(FaultPlan {
            operation: Some("getOrders".into()),
            fault: Fault::Malformed,
            count: 2,
        });
        faults.plan(FaultPlan {
            operation: None,
            fault: Fault::Delay { millis: 1 },
            count: 1,
        });
        assert_eq!(
            faults.take("patchListingsItem"),
            Some(Fault::Delay { millis: 1 })
        );
        assert_eq!(faults.take("patchListingsItem"), None);
        assert_eq!(faults.take("getOrders"), Some(Fault::Malformed));
        assert_eq!(faults.take("getOrders"), Some(Fault::Malformed));
        assert_eq!(faults.take("getOrders"), None);
    }
}
