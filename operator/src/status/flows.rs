//! Per-flow state read from JetStream, summed for the Marketplace, and `Degraded` when a flow dead-letters.

use crds::channel::Flow;
use crds::v1alpha1::{FlowStatus, condition};

use super::conditions::Observed;

/// What JetStream says about one flow.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FlowCounts {
    pub pending: u64,
    pub ack_pending: u64,
    pub dead_letters: u64,
}

/// The flows' status, the totals (pending, dead letters) and the `Degraded` condition naming the flows that
/// dead-letter.
pub fn summarize(counts: &[(Flow, FlowCounts)]) -> (Vec<FlowStatus>, u64, u64, Observed) {
    let flows: Vec<FlowStatus> = counts
        .iter()
        .map(|(flow, c)| FlowStatus {
            flow: *flow,
            pending: c.pending,
            ack_pending: c.ack_pending,
            dead_letters: c.dead_letters,
            last_success_time: None,
        })
        .collect();
    let pending = flows.iter().map(|f| f.pending).sum();
    let dead_letters = flows.iter().map(|f| f.dead_letters).sum();
    let dead: Vec<String> = flows
        .iter()
        .filter(|f| f.dead_letters > 0)
        .map(|f| format!("{} ({})", f.flow, f.dead_letters))
        .collect();
    let degraded = if dead.is_empty() {
        Observed::new(
            condition::DEGRADED,
            false,
            "Healthy",
            "no flow has dead letters",
        )
    } else {
        Observed::new(
            condition::DEGRADED,
            true,
            "DeadLetters",
            format!("dead letters in: {}", dead.join(", ")),
        )
    };
    (flows, pending, dead_letters, degraded)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dead_letters_degrade_and_name_the_flow() {
        let counts = [
            (
                Flow::Inventory,
                FlowCounts {
                    pending: 3,
                    ack_pending: 1,
                    dead_letters: 0,
                },
            ),
            (
                Flow::Orders,
                FlowCounts {
                    pending: 2,
                    ack_pending: 0,
                    dead_letters: 4,
                },
            ),
        ];
        let (flows, pending, dead, degraded) = summarize(&counts);
        assert_eq!((flows.len(), pending, dead), (2, 5, 4));
        assert!(degraded.status);
        assert!(
            degraded.message.contains("orders (4)"),
            "{}",
            degraded.message
        );
        let (_, _, _, healthy) = summarize(&counts[..1]);
        assert!(!healthy.status);
    }
}
