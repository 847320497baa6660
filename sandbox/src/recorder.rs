//! What a sandbox received: every call with its operation, method, path, query and body, so that tests can
//! assert what a connector sent (and validate each body against the channel's schema). Authorization headers
//! are never recorded.

use std::sync::Mutex;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// One call as received.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RecordedCall {
    pub operation: String,
    pub method: String,
    pub path: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub query: Option<String>,
    /// The JSON body, or the text body as a JSON string, or null.
    pub body: Value,
    /// The status the sandbox answered.
    pub status: u16,
    pub at: DateTime<Utc>,
}

/// The calls a sandbox received, oldest first, up to a bound (older ones are dropped).
#[derive(Debug)]
pub struct Recorder {
    calls: Mutex<Vec<RecordedCall>>,
    capacity: usize,
}

impl Default for Recorder {
    fn default() -> Self {
        Self::with_capacity(100_000)
    }
}

impl Recorder {
    pub fn with_capacity(capacity: usize) -> Self {
        Self {
            calls: Mutex::new(Vec::new()),
            capacity: capacity.max(1),
        }
    }

    pub fn record(&self, call: RecordedCall) {
        let mut calls = self.lock();
        if calls.len() >= self.capacity {
            let excess = calls.len() + 1 - self.capacity;
            calls.drain(..excess);
        }
        calls.push(call);
    }

    /// Calls of `operation` (all when `None`), oldest first.
    pub fn calls(&self, operation: Option<&str>) -> Vec<RecordedCall> {
        self.lock()
            .iter()
            .filter(|c| operation.is_none_or(|o| c.operation == o))
            .cloned()
            .collect()
    }

    /// How many calls of `operation` were answered with `status`.
    pub fn count(&self, operation: &str, status: u16) -> usize {
        self.lock()
            .iter()
            .filter(|c| c.operation == operation && c.status == status)
            .count()
    }

    pub fn clear(&self) {
        self.lock().clear();
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<RecordedCall>> {
        self.calls.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// A request body as recorded: JSON when it parses, otherwise the text.
pub fn body_value(bytes: &[u8]) -> Value {
    if bytes.is_empty() {
        return Value::Null;
    }
    serde_json::from_slice(bytes)
        .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(bytes).into_owned()))
}
