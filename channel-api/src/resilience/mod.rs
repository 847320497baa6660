//! Resilience per connector operation: a token bucket from the `RateLimitPolicy` that follows the server's
//! hints, a concurrency cap, retries with exponential backoff and jitter, and a circuit breaker. See
//! docs/resilience.md for the scheme, in particular how quotas hold across adapter replicas.
//!
//! - [`limits`]: what one replica may do for one operation (pure).
//! - [`hints`]: parsing what servers say (`Retry-After`, `x-amzn-RateLimit-Limit`, Shopify throttle status).
//! - [`budget`]: a mirror of a server's cost bucket (Shopify).
//! - [`limiter`]: governor's GCRA on an injected clock, slowed by hints.
//! - [`backoff`]: waits between attempts.
//! - [`breaker`]: the circuit breaker state machine (pure).
//! - [`guard`]: the façade a call goes through; [`registry`]: the guards of one policy.
//! - [`clock`]: time, injected, so tests never sleep.

pub mod backoff;
pub mod breaker;
pub mod budget;
pub mod clock;
pub mod guard;
pub mod hints;
pub mod limiter;
pub mod limits;
pub mod registry;

pub use backoff::Backoff;
pub use breaker::{BreakerState, CircuitBreaker, Rejected};
pub use clock::{Clock, ManualClock, TokioClock};
pub use guard::{Failure, Guard, GuardStats, Outcome};
pub use hints::{Rate, ServerHint, hints_from_headers, parse_amzn_rate_limit, parse_retry_after};
pub use limiter::{AcquireError, Limiter};
pub use limits::{Bucket, OperationLimits};
pub use registry::Resilience;
