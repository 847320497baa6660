//! Conditions in the Kubernetes shape, set so that `lastTransitionTime` only moves when the status does:
//! a status recomputed with the same truth is byte-identical, so it is not written again.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};

/// One condition as computed by a reconcile.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Observed {
    pub type_: &'static str,
    pub status: bool,
    pub reason: String,
    pub message: String,
}

impl Observed {
    pub fn new(
        type_: &'static str,
        status: bool,
        reason: &str,
        message: impl Into<String>,
    ) -> Self {
        Self {
            type_,
            status,
            reason: reason.into(),
            message: message.into(),
        }
    }
}

/// `Ready`: true when every one of `observed` is true, otherwise false with the first false one's reason and
/// message. (`Degraded` is never in `observed` here: it is reported beside Ready, not against it.)
pub fn ready_from(observed: &[Observed], ready_message: &str) -> Observed {
    match observed.iter().find(|o| !o.status) {
        None => Observed::new(
            crds::v1alpha1::condition::READY,
            true,
            "Ready",
            ready_message,
        ),
        Some(o) => Observed::new(
            crds::v1alpha1::condition::READY,
            false,
            &o.reason,
            o.message.clone(),
        ),
    }
}

/// The conditions after `observed`, keeping each unchanged condition's transition time. Returns the new list
/// and the types whose status changed (for Events).
pub fn merge(
    previous: &[Condition],
    observed: &[Observed],
    generation: Option<i64>,
    now: &Time,
) -> (Vec<Condition>, Vec<Observed>) {
    let mut out = Vec::new();
    let mut transitions = Vec::new();
    for o in observed {
        let status = if o.status { "True" } else { "False" };
        let before = previous.iter().find(|c| c.type_ == o.type_);
        let last_transition_time = match before {
            Some(c) if c.status == status => c.last_transition_time.clone(),
            _ => {
                transitions.push(o.clone());
                now.clone()
            }
        };
        out.push(Condition {
            type_: o.type_.to_string(),
            status: status.to_string(),
            reason: o.reason.clone(),
            message: o.message.clone(),
            observed_generation: generation,
            last_transition_time,
        });
    }
    (out, transitions)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn time(s: &str) -> Time {
        Time(s.parse().unwrap())
    }

    #[test]
    fn an_unchanged_status_keeps_its_transition_time() {
        let first = [Observed::new("Ready", false, "Pending", "waiting")];
        let (conditions, transitions) = merge(&[], &first, Some(1), &time("2026-01-01T00:00:00Z"));
        assert_eq!(transitions.len(), 1);
        let (again, transitions) =
            merge(&conditions, &first, Some(1), &time("2026-01-01T00:05:00Z"));
        assert!(transitions.is_empty());
        assert_eq!(again, conditions);
        let ready = [Observed::new("Ready", true, "Available", "ok")];
        let (after, transitions) = merge(&again, &ready, Some(1), &time("2026-01-01T00:06:00Z"));
        assert_eq!(transitions.len(), 1);
        assert_eq!(after[0].last_transition_time, time("2026-01-01T00:06:00Z"));
    }
}
