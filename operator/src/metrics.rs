//! The operator's `/metrics`: reconciles per kind and outcome.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::registry::Registry;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ReconcileLabels {
    pub kind: String,
    pub outcome: String,
}

pub struct Metrics {
    registry: Registry,
    reconciles: Family<ReconcileLabels, Counter>,
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
        Self {
            registry,
            reconciles,
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
    }
}
