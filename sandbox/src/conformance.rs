//! What a sandbox found wrong: requests that deviate from the channel's specification (a connector bug) and
//! answers of its own that do not match it (a sandbox bug). Tests hold a [`Strict`] guard over every sandbox
//! they start, so any deviation recorded during a test fails it: every end-to-end test is a conformance test.
//!
//! A connector deviation that is known, filed and not fixed yet is listed as a [`KnownDeviation`] by the
//! sandbox that detects it: still recorded and shown, it does not fail tests until the issue is closed and
//! the entry removed.

use std::fmt;
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Utc};
use serde::Serialize;

/// Who is at fault when a deviation is recorded.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum Side {
    /// The request deviates from the specification: the client (a connector) is wrong.
    Request,
    /// The sandbox's answer deviates from the specification: the sandbox is wrong.
    Response,
}

/// One broken rule: which rule, where in the message, and what was found.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Violation {
    /// `spec` for what the specification's schemas say; otherwise the id of a rule a sandbox lists
    /// (a limit stated in prose, a semantic rule), such as `walmart.feeds.limit-at-most-50`.
    pub rule: String,
    /// Where: `query.limit`, `header.WM_QOS.CORRELATION_ID`, `body/items/0/sku`, `media-type`, `operation`.
    pub location: String,
    pub message: String,
}

impl Violation {
    /// A violation of the specification's own schemas.
    pub fn spec(location: impl Into<String>, message: impl Into<String>) -> Self {
        Self::of("spec", location, message)
    }

    pub fn of(
        rule: impl Into<String>,
        location: impl Into<String>,
        message: impl Into<String>,
    ) -> Self {
        Self {
            rule: rule.into(),
            location: location.into(),
            message: message.into(),
        }
    }
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {} [{}]", self.location, self.message, self.rule)
    }
}

/// A request or answer that broke at least one rule.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Deviation {
    pub side: Side,
    /// The specification's operation id, when the request matched one.
    pub operation: Option<String>,
    pub method: String,
    pub path: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub query: Option<String>,
    /// The answer's status (for a refused request, the refusal's).
    pub status: u16,
    pub violations: Vec<Violation>,
    /// The known deviation (its id and issue) this one is, when every violation is known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub known: Option<KnownDeviation>,
    pub at: DateTime<Utc>,
}

impl fmt::Display for Deviation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let who = match self.side {
            Side::Request => "request deviates from the specification (client bug)",
            Side::Response => "sandbox answer deviates from the specification (sandbox bug)",
        };
        write!(f, "{} {}", self.method, self.path)?;
        if let Some(query) = &self.query {
            write!(f, "?{query}")?;
        }
        if let Some(operation) = &self.operation {
            write!(f, " ({operation})")?;
        }
        write!(f, " -> {}: {who}", self.status)?;
        if let Some(known) = &self.known {
            write!(f, " [known: {} (issue {})]", known.id, known.issue)?;
        }
        for violation in &self.violations {
            write!(f, "\n    - {violation}")?;
        }
        Ok(())
    }
}

/// The call a semantic check is about.
#[derive(Clone, Copy, Debug)]
pub struct CallRef<'a> {
    pub operation: &'a str,
    pub method: &'a str,
    pub path: &'a str,
    pub query: Option<&'a str>,
}

/// A connector deviation that is filed and not fixed yet. A sandbox lists these next to its rules; each
/// names the rule it excuses and the issue that will fix the connector, and is removed with the fix.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct KnownDeviation {
    /// An id of its own, for messages.
    pub id: &'static str,
    /// The rule (a [`Violation::rule`]) it excuses.
    pub rule: &'static str,
    /// The project issue that fixes the connector.
    pub issue: u32,
    /// What the connector does wrong, and what the sandbox does meanwhile.
    pub what: &'static str,
}

/// A rule a specification states in prose that no schema can express (an order of calls, a uniqueness, a
/// reset of what is not sent, a daily budget): each sandbox lists the ones it enforces, with the file (under
/// `specs/`) and the sentence they come from; its own code checks each one, under the rule's `id`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SemanticRule {
    pub id: &'static str,
    pub file: &'static str,
    pub quote: &'static str,
    /// What the sandbox does about it: refuses as the real API would (a business error the connector must
    /// handle), or records a deviation (the request breaks the specification).
    pub check: &'static str,
}

/// The deviations one sandbox recorded, oldest first (bounded), and the known ones it excuses.
#[derive(Debug)]
pub struct Conformance {
    deviations: Mutex<Vec<Deviation>>,
    known: Mutex<Vec<KnownDeviation>>,
    capacity: usize,
}

impl Default for Conformance {
    fn default() -> Self {
        Self {
            deviations: Mutex::new(Vec::new()),
            known: Mutex::new(Vec::new()),
            capacity: 10_000,
        }
    }
}

impl Conformance {
    /// Excuses these known deviations (replacing the list).
    pub fn set_known(&self, known: &[KnownDeviation]) {
        *self.known.lock().unwrap_or_else(|p| p.into_inner()) = known.to_vec();
    }

    /// The known deviation excusing `rule`, if one is listed.
    pub fn known(&self, rule: &str) -> Option<KnownDeviation> {
        self.known
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
            .find(|k| k.rule == rule)
            .copied()
    }

    /// Whether `rule` is excused by a known deviation (a sandbox then behaves as if the client were right,
    /// so tests of other things keep their meaning).
    pub fn is_known(&self, rule: &str) -> bool {
        self.known(rule).is_some()
    }

    /// Records a deviation. It is marked known when every violation's rule is excused; it is logged either
    /// way, so a local run shows it.
    pub fn record(&self, mut deviation: Deviation) {
        if deviation.known.is_none() && deviation.side == Side::Request {
            let known: Vec<_> = deviation
                .violations
                .iter()
                .map(|v| self.known(&v.rule))
                .collect();
            if !known.is_empty() && known.iter().all(Option::is_some) {
                deviation.known = known.into_iter().flatten().next();
            }
        }
        tracing::warn!(target: "sandbox::conformance", "{deviation}");
        let mut deviations = self.lock();
        if deviations.len() >= self.capacity {
            deviations.remove(0);
        }
        deviations.push(deviation);
    }

    /// Records a request that broke `violation` (a semantic rule a sandbox checks itself).
    pub fn request_violation(&self, call: CallRef<'_>, status: u16, violation: Violation) {
        self.request_violations(call, status, vec![violation]);
    }

    /// Records a request that broke these rules (none: nothing is recorded).
    pub fn request_violations(&self, call: CallRef<'_>, status: u16, violations: Vec<Violation>) {
        if violations.is_empty() {
            return;
        }
        self.record(Deviation {
            side: Side::Request,
            operation: Some(call.operation.to_string()),
            method: call.method.to_string(),
            path: call.path.to_string(),
            query: call.query.map(str::to_string),
            status,
            violations,
            known: None,
            at: Utc::now(),
        });
    }

    /// Every deviation recorded (known ones included), oldest first.
    pub fn deviations(&self) -> Vec<Deviation> {
        self.lock().clone()
    }

    /// The deviations that are not known: what fails a test.
    pub fn unexpected(&self) -> Vec<Deviation> {
        self.lock()
            .iter()
            .filter(|d| d.known.is_none())
            .cloned()
            .collect()
    }

    pub fn clear(&self) {
        self.lock().clear();
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<Deviation>> {
        self.deviations.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// A test's guard over the sandboxes it started: when it is dropped at the end of the test, it panics listing
/// every deviation they recorded that is not a known one (during a panic it prints them instead). [`Strict::check`] asks
/// the same question without panicking.
///
/// ```ignore
/// let walmart = sandbox_walmart::start("127.0.0.1:0").await?;
/// let _strict = sandbox::Strict::over([walmart.controls()]);
/// ```
#[must_use = "the guard checks the sandboxes when it is dropped"]
pub struct Strict {
    watched: Vec<Arc<Conformance>>,
}

impl Strict {
    /// Watches the sandboxes whose controls are given.
    pub fn over<'a>(controls: impl IntoIterator<Item = &'a crate::Controls>) -> Self {
        Self {
            watched: controls
                .into_iter()
                .map(|c| c.conformance.clone())
                .collect(),
        }
    }

    /// Watches one more sandbox.
    pub fn watch(&mut self, controls: &crate::Controls) {
        self.watched.push(controls.conformance.clone());
    }

    /// `Err` with a report of every unexpected deviation so far.
    pub fn check(&self) -> Result<(), String> {
        let unexpected: Vec<Deviation> = self.watched.iter().flat_map(|c| c.unexpected()).collect();
        if unexpected.is_empty() {
            return Ok(());
        }
        let mut report = format!(
            "the sandboxes recorded {} deviation(s) from the specifications:",
            unexpected.len()
        );
        for deviation in unexpected.iter().take(20) {
            report.push_str(&format!("\n  {deviation}"));
        }
        if unexpected.len() > 20 {
            report.push_str(&format!("\n  ... and {} more", unexpected.len() - 20));
        }
        Err(report)
    }
}

impl Drop for Strict {
    fn drop(&mut self) {
        let Err(report) = self.check() else {
            return;
        };
        if std::thread::panicking() {
            // The test failed already; the deviations are likely why.
            eprintln!("{report}");
        } else {
            panic!("{report}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn deviation(rule: &str) -> Deviation {
        Deviation {
            side: Side::Request,
            operation: Some("getFeedItemStatus".into()),
            method: "GET".into(),
            path: "/v3/feeds/1".into(),
            query: Some("limit=1000".into()),
            status: 400,
            violations: vec![Violation::of(rule, "query.limit", "1000 is above 50")],
            known: None,
            at: Utc::now(),
        }
    }

    const KNOWN: KnownDeviation = KnownDeviation {
        id: "walmart-feed-limit",
        rule: "walmart.feeds.limit",
        issue: 18,
        what: "test",
    };

    #[test]
    fn the_guard_reports_unexpected_deviations_and_excuses_known_ones() {
        let controls = crate::Controls::default();
        let strict = Strict::over([&controls]);
        assert!(strict.check().is_ok());
        controls.conformance.set_known(&[KNOWN]);
        controls
            .conformance
            .record(deviation("walmart.feeds.limit"));
        assert!(strict.check().is_ok(), "a known deviation does not fail");
        assert_eq!(
            controls.conformance.deviations()[0].known,
            Some(KNOWN),
            "but it is recorded as known"
        );
        controls.conformance.record(deviation("spec"));
        let report = strict.check().unwrap_err();
        assert!(
            report.contains("query.limit: 1000 is above 50 [spec]"),
            "{report}"
        );
        assert!(report.contains("client bug"), "{report}");
        controls.conformance.clear();
    }

    #[test]
    #[should_panic(expected = "deviation(s) from the specifications")]
    fn dropping_the_guard_fails_the_test() {
        let controls = crate::Controls::default();
        let _strict = Strict::over([&controls]);
        controls.conformance.record(deviation("spec"));
    }
}
