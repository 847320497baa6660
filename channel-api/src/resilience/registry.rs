//! The guards of every operation of one `RateLimitPolicy` in one replica, made on first use.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, PoisonError};

use crds::v1alpha1::RateLimitPolicySpec;

use super::clock::{Clock, TokioClock};
use super::guard::Guard;
use super::limits::OperationLimits;

#[derive(Debug)]
pub struct Resilience<C: Clock = TokioClock> {
    spec: RateLimitPolicySpec,
    replicas: u32,
    clock: C,
    seed: Option<u64>,
    guards: Mutex<BTreeMap<String, Arc<Guard<C>>>>,
}

impl Resilience<TokioClock> {
    /// Limits of `spec` for one of `replicas` adapter replicas (the count from the rendered configuration).
    pub fn new(spec: RateLimitPolicySpec, replicas: u32) -> Self {
        Self::with_clock(spec, replicas, TokioClock)
    }
}

impl<C: Clock> Resilience<C> {
    pub fn with_clock(spec: RateLimitPolicySpec, replicas: u32, clock: C) -> Self {
        Self {
            spec,
            replicas,
            clock,
            seed: None,
            guards: Mutex::new(BTreeMap::new()),
        }
    }

    /// Seeds every guard's backoff jitter, for reproducible runs.
    pub fn with_seed(self, seed: u64) -> Self {
        Self {
            seed: Some(seed),
            ..self
        }
    }

    /// The guard of `operation`, the same one for every caller.
    pub fn guard(&self, operation: &str) -> Arc<Guard<C>> {
        let mut guards = self.guards.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(guard) = guards.get(operation) {
            return Arc::clone(guard);
        }
        let limits = OperationLimits::resolve(&self.spec, operation, self.replicas);
        let guard = Guard::with_clock(&limits, self.clock.clone());
        let guard = Arc::new(match self.seed {
            Some(seed) => guard.with_seed(seed),
            None => guard,
        });
        guards.insert(operation.to_owned(), Arc::clone(&guard));
        guard
    }

    /// The guards made so far, by operation name (for metrics).
    pub fn guards(&self) -> Vec<Arc<Guard<C>>> {
        let guards = self.guards.lock().unwrap_or_else(PoisonError::into_inner);
        guards.values().cloned().collect()
    }
}
