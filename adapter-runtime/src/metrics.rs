//! The adapter's Prometheus metrics (OpenMetrics text at `/metrics`).
//!
//! Label sets are small and bounded: marketplace, flow, and a closed set of outcomes, classes and operations.
//! SKUs and order ids never become labels.

use std::sync::atomic::AtomicU64;

use prometheus_client::encoding::{EncodeLabelSet, EncodeLabelValue};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

/// What happened to a record.
#[derive(Clone, Copy, Debug, Hash, PartialEq, Eq, EncodeLabelValue)]
pub enum Outcome {
    /// Taken in by the flow (from JetStream or from a channel poll).
    In,
    /// Delivered (to the channel, or for inbound flows published for the ERP).
    Out,
    /// Sent to the dead-letter stream.
    Failed,
    /// Dropped as a duplicate or superseded by a newer value for the same key.
    Coalesced,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct FlowLabels {
    pub marketplace: String,
    pub flow: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct EventLabels {
    pub marketplace: String,
    pub flow: String,
    pub outcome: Outcome,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct OperationLabels {
    pub marketplace: String,
    pub operation: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct DeadLetterLabels {
    pub marketplace: String,
    pub flow: String,
    pub class: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct CurrencyLabels {
    pub marketplace: String,
    pub currency: String,
}

fn latency_histogram() -> Histogram {
    // 5 ms to about 45 min.
    Histogram::new(exponential_buckets(0.005, 2.0, 20))
}

/// Every metric the adapter exports.
pub struct Metrics {
    pub events: Family<EventLabels, Counter>,
    /// Seconds from the event's time (ERP change or channel update) to its delivery.
    pub end_to_end_latency: Family<FlowLabels, Histogram, fn() -> Histogram>,
    /// Seconds spent waiting for rate-limit tokens, in all.
    pub rate_limit_wait: Family<OperationLabels, Counter<f64, AtomicU64>>,
    pub throttled_responses: Family<OperationLabels, Counter>,
    /// 0 closed, 1 half-open, 2 open.
    pub breaker_state: Family<OperationLabels, Gauge>,
    pub dead_letters: Family<DeadLetterLabels, Counter>,
    /// Messages waiting in the flow's consumer.
    pub consumer_pending: Family<FlowLabels, Gauge>,
    /// Value of the orders waiting in the dead-letter stream, per currency: revenue at risk. A float only
    /// because Prometheus samples are floats; the amounts themselves are summed as decimals.
    pub revenue_at_risk: Family<CurrencyLabels, Gauge<f64, AtomicU64>>,
    registry: Registry,
}

impl Metrics {
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("tradewind_adapter");
        let metrics = Self {
            events: Family::default(),
            end_to_end_latency: Family::new_with_constructor(latency_histogram),
            rate_limit_wait: Family::default(),
            throttled_responses: Family::default(),
            breaker_state: Family::default(),
            dead_letters: Family::default(),
            consumer_pending: Family::default(),
            revenue_at_risk: Family::default(),
            registry: Registry::default(),
        };
        registry.register(
            "events",
            "Records per marketplace, flow and outcome",
            metrics.events.clone(),
        );
        registry.register(
            "end_to_end_latency_seconds",
            "Seconds from an event's origin to its delivery",
            metrics.end_to_end_latency.clone(),
        );
        registry.register(
            "rate_limit_wait_seconds",
            "Seconds waited for rate-limit tokens per operation, in all",
            metrics.rate_limit_wait.clone(),
        );
        registry.register(
            "throttled_responses",
            "Responses in which the channel said to slow down (429, QuotaExceeded, THROTTLED)",
            metrics.throttled_responses.clone(),
        );
        registry.register(
            "circuit_breaker_state",
            "Circuit breaker per operation: 0 closed, 1 half-open, 2 open",
            metrics.breaker_state.clone(),
        );
        registry.register(
            "dead_letters",
            "Records sent to the dead-letter stream",
            metrics.dead_letters.clone(),
        );
        registry.register(
            "consumer_pending_messages",
            "Messages waiting in the flow's JetStream consumer",
            metrics.consumer_pending.clone(),
        );
        registry.register(
            "revenue_at_risk",
            "Total value of orders waiting in the dead-letter stream, per currency",
            metrics.revenue_at_risk.clone(),
        );
        Self {
            registry,
            ..metrics
        }
    }

    /// Counts one record of `flow` with `outcome`.
    pub fn count(&self, marketplace: &str, flow: &str, outcome: Outcome, n: u64) {
        self.events
            .get_or_create(&EventLabels {
                marketplace: marketplace.into(),
                flow: flow.into(),
                outcome,
            })
            .inc_by(n);
    }

    /// The OpenMetrics text exposition.
    pub fn encode(&self) -> String {
        let mut out = String::new();
        // Writing into a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut out, &self.registry);
        out
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_appear_in_the_exposition() {
        let metrics = Metrics::new();
        metrics.count("amazon-us", "inventory", Outcome::Out, 3);
        let text = metrics.encode();
        assert!(
            text.contains(r#"tradewind_adapter_events_total{marketplace="amazon-us",flow="inventory",outcome="Out"} 3"#),
            "{text}"
        );
        assert!(text.ends_with("# EOF\n"));
    }
}
