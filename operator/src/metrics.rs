//! The operator's `/metrics`: reconciles per kind and outcome, and reconcile durations per kind.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ReconcileLabels {
    pub kind: String,
    pub outcome: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct KindLabels {
    pub kind: String,
}

fn duration_histogram() -> Histogram {
    // 1 ms to about 16 s.
    Histogram::new(exponential_buckets(0.001, 2.0, 15))
}

pub struct Metrics {
    registry: Registry,
    reconciles: Family<ReconcileLabels, Counter>,
    durations: Family<KindLabels, Histogram, fn() -> Histogram>,
}

impl Default for Metrics {
    fn default() -> Self {
        let mut registry = Registry::with_prefix("tradewind_operator");
        let reconciles = Family::<ReconcileLabels, Counter>::default();
        registry.register(
            "reconciles",
            "Reconciles per kind and outcome",
            reconciles.clone(),
        );
        let durations: Family<KindLabels, Histogram, fn() -> Histogram> =
            Family::new_with_constructor(duration_histogram);
        registry.register(
            "reconcile_duration_seconds",
            "Time one reconcile took, per kind",
            durations.clone(),
        );
        Self {
            registry,
            reconciles,
            durations,
        }
    }
}

impl Metrics {
    pub fn observe(&self, kind: &str, ok: bool) {
        self.reconciles
            .get_or_create(&ReconcileLabels {
                kind: kind.into(),
                outcome: if ok { "ok" } else { "error" }.into(),
            })
            .inc();
    }

    /// Records how long one reconcile of `kind` took.
    pub fn observe_duration(&self, kind: &str, took: std::time::Duration) {
        self.durations
            .get_or_create(&KindLabels { kind: kind.into() })
            .observe(took.as_secs_f64());
    }

    /// OpenMetrics text.
    pub fn encode(&self) -> String {
        let mut out = String::new();
        if prometheus_client::encoding::text::encode(&mut out, &self.registry).is_err() {
            out.clear();
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reconciles_are_counted_per_kind_and_outcome() {
        let m = Metrics::default();
        m.observe("Marketplace", true);
        m.observe("Marketplace", false);
        let text = m.encode();
        assert!(
            text.contains(
                "tradewind_operator_reconciles_total{kind=\"Marketplace\",outcome=\"ok\"} 1"
            ),
            "{text}"
        );
        assert!(text.contains("outcome=\"error\"} 1"), "{text}");
        m.observe_duration("Marketplace", std::time::Duration::from_millis(3));
        let text = m.encode();
        assert!(
            text.contains(
                "tradewind_operator_reconcile_duration_seconds_count{kind=\"Marketplace\"} 1"
            ),
            "{text}"
        );
    }
}
