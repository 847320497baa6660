//! API operations and the limits vendors publish for them, as exact integer ratios. Each channel's crate states
//! its own operations (its `DESCRIPTOR`); the constructors here keep those tables short.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// What a rate limit counts.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub enum LimitUnit {
    /// Each request takes one token.
    #[default]
    Requests,
    /// Each request takes as many tokens as its calculated query cost (Shopify GraphQL).
    CostPoints,
}

/// A token bucket as published by a vendor: `requests` tokens every `per_millis`, holding at most `burst`.
///
/// Rates such as Amazon's 0.0056 requests per second are kept exact as a ratio of integers (56 per 10,000 s):
/// comparisons between limits never go through floating point.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PublishedLimit {
    pub requests: u64,
    pub per_millis: u64,
    pub burst: u64,
    pub unit: LimitUnit,
    /// Where the figure comes from, shown in validation errors and docs.
    pub source: &'static str,
}

impl PublishedLimit {
    /// True when `requests` per `per_millis` is a higher rate than this published limit.
    pub fn is_exceeded_by(&self, requests: u64, per_millis: u64) -> bool {
        u128::from(requests) * u128::from(self.per_millis)
            > u128::from(self.requests) * u128::from(per_millis)
    }

    /// The published limit as a whole `requests` per `per_millis` with `requests <= burst` (what a
    /// `RateLimitPolicy` token bucket can state): as published when it fits, else the same ratio in lowest terms
    /// when that fits, otherwise one request per the shortest whole number of milliseconds that stays within the
    /// limit (Amazon's 0.0056/s is exactly 7 per 1,250 s; its 0.0083/s, with a burst of 15, becomes one per
    /// 120,482 ms). The shipped default policies use exactly these values.
    pub fn as_bucket(&self) -> (u64, u64) {
        if self.requests <= self.burst {
            return (self.requests, self.per_millis);
        }
        let divisor = gcd(self.requests, self.per_millis).max(1);
        let (requests, per_millis) = (self.requests / divisor, self.per_millis / divisor);
        if requests <= self.burst {
            (requests, per_millis)
        } else {
            (1, per_millis.div_ceil(requests))
        }
    }

    /// The rate as requests per second, rendered exactly enough for messages (for example `0.0056/s`).
    pub fn describe_rate(&self) -> String {
        describe_rate(self.requests, self.per_millis)
    }
}

fn gcd(a: u64, b: u64) -> u64 {
    if b == 0 { a } else { gcd(b, a % b) }
}

/// Renders a rate of `requests` per `per_millis` as requests per second with up to four decimals, or as a
/// count per minute or hour when that reads better.
pub fn describe_rate(requests: u64, per_millis: u64) -> String {
    if per_millis == 3_600_000 {
        return format!("{requests}/h");
    }
    if per_millis == 60_000 {
        return format!("{requests}/min");
    }
    // Four decimals, rounded half up, computed on integers.
    let scaled = (u128::from(requests) * 1_000 * 10_000 + u128::from(per_millis) / 2)
        / u128::from(per_millis.max(1));
    let whole = scaled / 10_000;
    let frac = scaled % 10_000;
    if frac == 0 {
        format!("{whole}/s")
    } else {
        let digits = format!("{frac:04}");
        format!("{whole}.{}/s", digits.trim_end_matches('0'))
    }
}

/// One API operation a connector calls.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Operation {
    /// The vendor's operation name, used as the key in `RateLimitPolicy.spec.operations[].name`.
    pub name: &'static str,
    /// What the connector uses it for.
    pub purpose: &'static str,
    /// The vendor's published limit, when it publishes one.
    pub published: Option<PublishedLimit>,
    /// The most records one call may carry, when the operation is a batch (or a page of results).
    pub max_batch: Option<u32>,
}

impl Operation {
    /// The most records one call carries: [`Operation::max_batch`], or one when the operation is not a batch.
    pub const fn records_per_call(&self) -> usize {
        match self.max_batch {
            Some(n) => n as usize,
            None => 1,
        }
    }
}

/// `requests` per second with `burst`.
pub const fn per_second(requests: u64, burst: u64, source: &'static str) -> Option<PublishedLimit> {
    per_period(requests, 1_000, burst, source)
}

/// A rate published as a decimal with four places (Amazon's usage plans): `ten_thousandths` per 10,000 s.
pub const fn decimal_per_second(
    ten_thousandths: u64,
    burst: u64,
    source: &'static str,
) -> Option<PublishedLimit> {
    per_period(ten_thousandths, 10_000_000, burst, source)
}

/// `requests` every `per_millis` with `burst`.
pub const fn per_period(
    requests: u64,
    per_millis: u64,
    burst: u64,
    source: &'static str,
) -> Option<PublishedLimit> {
    Some(PublishedLimit {
        requests,
        per_millis,
        burst,
        unit: LimitUnit::Requests,
        source,
    })
}

/// An operation (see [`Operation`]'s fields).
pub const fn op(
    name: &'static str,
    purpose: &'static str,
    published: Option<PublishedLimit>,
    max_batch: Option<u32>,
) -> Operation {
    Operation {
        name,
        purpose,
        published,
        max_batch,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimal_rates_compare_exactly() {
        // Amazon's searchOrders: 0.0056/s, burst 20.
        let Some(search) = decimal_per_second(56, 20, "test") else {
            panic!("a limit")
        };
        // One request every 180 s is 0.00556/s: within 0.0056/s.
        assert!(!search.is_exceeded_by(1, 180_000));
        // One every 170 s is 0.00588/s: above it.
        assert!(search.is_exceeded_by(1, 170_000));
        assert_eq!(search.describe_rate(), "0.0056/s");
    }

    #[test]
    fn buckets_fit_the_burst_and_stay_within_the_rate() {
        let bucket = |limit: Option<PublishedLimit>| limit.map(|l| l.as_bucket());
        // 0.0056/s, burst 20: exactly 7 per 1,250 s.
        assert_eq!(
            bucket(decimal_per_second(56, 20, "t")),
            Some((7, 1_250_000))
        );
        // 0.0083/s, burst 15: 83 per 10,000 s does not fit the burst, so one per 120.482 s.
        assert_eq!(bucket(decimal_per_second(83, 15, "t")), Some((1, 120_482)));
        assert_eq!(bucket(per_second(5, 10, "t")), Some((5, 1_000)));
    }

    #[test]
    fn rates_render_readably() {
        assert_eq!(describe_rate(5, 1_000), "5/s");
        assert_eq!(describe_rate(10, 3_600_000), "10/h");
        assert_eq!(describe_rate(1, 60_000), "1/min");
        assert_eq!(describe_rate(1, 2_000), "0.5/s");
    }

    #[test]
    fn an_operation_without_a_batch_carries_one_record() {
        assert_eq!(op("a", "", None, None).records_per_call(), 1);
        assert_eq!(op("a", "", None, Some(25)).records_per_call(), 25);
    }
}
