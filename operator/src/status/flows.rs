//! Per-flow state read from JetStream, summed for the Marketplace, and `Degraded` when a flow dead-letters or
//! lags beyond the SLO of a `SyncSchedule` of that flow.

use chrono::{DateTime, Utc};
use crds::channel::Flow;
use crds::v1alpha1::{FlowStatus, condition};

use super::conditions::Observed;

/// What JetStream says about one flow.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FlowCounts {
    pub pending: u64,
    pub ack_pending: u64,
    pub dead_letters: u64,
    /// When the oldest record not yet acknowledged by the flow's consumer was stored (its lag starts then).
    pub oldest_unacked_at: Option<DateTime<Utc>>,
    /// When the flow's consumer last acknowledged a record: the adapter acknowledges once the channel took the
    /// record (or once it is dead-lettered, which `dead_letters` and `Degraded` show).
    pub last_ack_at: Option<DateTime<Utc>>,
}

/// A `SyncSchedule`'s SLO on one flow of the marketplace.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FlowSlo {
    pub flow: Flow,
    /// The SyncSchedule that sets it (named in the reason).
    pub schedule: String,
    pub max_pending: Option<u64>,
    pub max_latency: Option<std::time::Duration>,
}

/// How each SLO is broken at `now`, one text per breach naming flow, value, limit and schedule.
pub fn slo_breaches(
    counts: &[(Flow, FlowCounts)],
    slos: &[FlowSlo],
    now: DateTime<Utc>,
) -> Vec<String> {
    let mut out = Vec::new();
    for slo in slos {
        let Some((_, c)) = counts.iter().find(|(f, _)| *f == slo.flow) else {
            continue;
        };
        if let Some(max) = slo.max_pending
            && c.pending > max
        {
            out.push(format!(
                "{}: {} pending, SLO maxPending {max} (SyncSchedule {})",
                slo.flow, c.pending, slo.schedule
            ));
        }
        if let (Some(max), Some(oldest)) = (slo.max_latency, c.oldest_unacked_at) {
            let lag = (now - oldest).to_std().unwrap_or_default();
            if lag > max {
                out.push(format!(
                    "{}: oldest record waiting {}s, SLO maxLatency {}s (SyncSchedule {})",
                    slo.flow,
                    lag.as_secs(),
                    max.as_secs(),
                    slo.schedule
                ));
            }
        }
    }
    out
}

/// The flows' status, the totals (pending, dead letters) and the `Degraded` condition naming the flows that
/// dead-letter and the SLOs broken at `now`.
pub fn summarize(
    counts: &[(Flow, FlowCounts)],
    slos: &[FlowSlo],
    now: DateTime<Utc>,
) -> (Vec<FlowStatus>, u64, u64, Observed) {
    let flows: Vec<FlowStatus> = counts
        .iter()
        .map(|(flow, c)| FlowStatus {
            flow: *flow,
            pending: c.pending,
            ack_pending: c.ack_pending,
            dead_letters: c.dead_letters,
            last_success_time: c
                .last_ack_at
                .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)),
        })
        .collect();
    let pending = flows.iter().map(|f| f.pending).sum();
    let dead_letters = flows.iter().map(|f| f.dead_letters).sum();
    let dead: Vec<String> = flows
        .iter()
        .filter(|f| f.dead_letters > 0)
        .map(|f| format!("{} ({})", f.flow, f.dead_letters))
        .collect();
    let lagging = slo_breaches(counts, slos, now);
    let mut reasons = Vec::new();
    if !dead.is_empty() {
        reasons.push(format!("dead letters in: {}", dead.join(", ")));
    }
    if !lagging.is_empty() {
        reasons.push(format!("lag over SLO: {}", lagging.join("; ")));
    }
    let degraded = match (dead.is_empty(), lagging.is_empty()) {
        (true, true) => Observed::new(
            condition::DEGRADED,
            false,
            "Healthy",
            "no flow has dead letters or lags beyond its SLO",
        ),
        (false, true) => {
            Observed::new(condition::DEGRADED, true, "DeadLetters", reasons.join("; "))
        }
        (true, false) => Observed::new(condition::DEGRADED, true, "LagOverSlo", reasons.join("; ")),
        (false, false) => Observed::new(
            condition::DEGRADED,
            true,
            "DeadLettersAndLagOverSlo",
            reasons.join("; "),
        ),
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
                    oldest_unacked_at: None,
                    last_ack_at: None,
                },
            ),
            (
                Flow::Orders,
                FlowCounts {
                    pending: 2,
                    ack_pending: 0,
                    dead_letters: 4,
                    oldest_unacked_at: None,
                    last_ack_at: None,
                },
            ),
        ];
        let (flows, pending, dead, degraded) = summarize(&counts, &[], Utc::now());
        assert_eq!((flows.len(), pending, dead), (2, 5, 4));
        assert!(degraded.status);
        assert!(
            degraded.message.contains("orders (4)"),
            "{}",
            degraded.message
        );
        let (_, _, _, healthy) = summarize(&counts[..1], &[], Utc::now());
        assert!(!healthy.status);
    }

    #[test]
    fn lag_over_an_slo_degrades_naming_flow_value_limit_and_schedule() {
        let now: DateTime<Utc> = "2026-01-05T10:00:00Z".parse().unwrap();
        let counts = [(
            Flow::Inventory,
            FlowCounts {
                pending: 1500,
                ack_pending: 10,
                dead_letters: 0,
                oldest_unacked_at: Some("2026-01-05T09:40:00Z".parse().unwrap()),
                last_ack_at: None,
            },
        )];
        let slo = |max_pending, secs: Option<u64>| FlowSlo {
            flow: Flow::Inventory,
            schedule: "inventory-hourly".into(),
            max_pending,
            max_latency: secs.map(std::time::Duration::from_secs),
        };
        let (_, _, _, degraded) = summarize(&counts, &[slo(Some(1000), Some(900))], now);
        assert!(degraded.status);
        assert_eq!(degraded.reason, "LagOverSlo");
        assert!(
            degraded.message.contains(
                "inventory: 1500 pending, SLO maxPending 1000 (SyncSchedule inventory-hourly)"
            ),
            "{}",
            degraded.message
        );
        assert!(
            degraded
                .message
                .contains("waiting 1200s, SLO maxLatency 900s"),
            "{}",
            degraded.message
        );
        let (_, _, _, within) = summarize(&counts, &[slo(Some(2000), Some(3600))], now);
        assert!(!within.status, "{}", within.message);
        let orders = FlowSlo {
            flow: Flow::Orders,
            ..slo(Some(1), None)
        };
        let (_, _, _, other) = summarize(&counts, &[orders], now);
        assert!(
            !other.status,
            "an SLO of a flow without counts breaks nothing"
        );
    }
}
