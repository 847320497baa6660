//! Shopify's cost accounting: the points a query is charged, and the leaky bucket they come from. Pure: time is
//! passed in as milliseconds, points are kept in thousandths so restores of any rate are exact integers.

use crds::channel::PublishedLimit;

/// The store's bucket of query points.
#[derive(Clone, Debug)]
pub struct CostBucket {
    plan: PublishedLimit,
    /// Available points scaled by `plan.per_millis`.
    scaled: u128,
    last_ms: u64,
}

impl CostBucket {
    /// A full bucket at time 0.
    pub fn new(plan: PublishedLimit) -> Self {
        Self {
            plan,
            scaled: u128::from(plan.burst) * u128::from(plan.per_millis),
            last_ms: 0,
        }
    }

    fn restore(&mut self, now_ms: u64) {
        let elapsed = now_ms.saturating_sub(self.last_ms);
        self.last_ms = self.last_ms.max(now_ms);
        let capacity = u128::from(self.plan.burst) * u128::from(self.plan.per_millis);
        self.scaled =
            (self.scaled + u128::from(elapsed) * u128::from(self.plan.requests)).min(capacity);
    }

    /// Takes `cost` points at `now_ms` when they are all there.
    pub fn try_take(&mut self, cost: u64, now_ms: u64) -> bool {
        self.restore(now_ms);
        let needed = u128::from(cost) * u128::from(self.plan.per_millis);
        if self.scaled >= needed {
            self.scaled -= needed;
            true
        } else {
            false
        }
    }

    /// Whole points available at `now_ms`.
    pub fn available(&mut self, now_ms: u64) -> u64 {
        self.restore(now_ms);
        u64::try_from(self.scaled / u128::from(self.plan.per_millis.max(1))).unwrap_or(u64::MAX)
    }
}

/// The requested cost of a root field as Shopify calculates it, simplified: a mutation is 10 points; a
/// connection is 2 points plus one per node requested (`first`), its nested connection multiplying.
pub fn requested(root: &str, first: u64, nested_first: u64) -> u64 {
    match root {
        "inventorySetQuantities"
        | "productVariantsBulkUpdate"
        | "fulfillmentCreate"
        | "orderCancel" => 10,
        _ => 2 + first * (1 + nested_first.div_ceil(10)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crds::channel::LimitUnit;

    fn plan() -> PublishedLimit {
        PublishedLimit {
            requests: 50,
            per_millis: 1_000,
            burst: 1_000,
            unit: LimitUnit::CostPoints,
            source: "test",
        }
    }

    #[test]
    fn the_bucket_drains_then_restores_at_its_rate() {
        let mut bucket = CostBucket::new(plan());
        assert!(bucket.try_take(1_000, 0));
        assert!(!bucket.try_take(10, 0));
        assert!(
            !bucket.try_take(10, 199),
            "50/s restores 10 points in 200 ms"
        );
        assert!(bucket.try_take(10, 200));
        assert_eq!(bucket.available(1_200), 50);
    }

    #[test]
    fn connections_cost_by_the_nodes_requested() {
        assert_eq!(requested("orderCancel", 0, 0), 10);
        assert_eq!(requested("orders", 50, 20), 2 + 50 * 3);
    }
}
