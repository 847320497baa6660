//! Per-SKU calls or a bulk feed: which way drains a backlog sooner. Pure.
//!
//! Per-SKU calls (`updateInventoryForAnItem`, `updatePrice`) have no published Walmart rate; they are paced by
//! the operation's bucket in the `RateLimitPolicy`, which is therefore what the estimate uses (no bucket: no
//! known pacing, and per-SKU calls are chosen). A feed carries thousands of SKUs but takes a token of its feed
//! limit (inventory: 10 per hour, burst 10) and then Walmart's processing time before its status says what was
//! applied. Both are computed from full buckets, in integer milliseconds; a feed is chosen only when strictly
//! sooner. The same rule as Amazon's `bulk::choose`, with Walmart's operations.

use std::time::Duration;

use crds::channel::PublishedLimit;

/// How a backlog is sent.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Route {
    PerSku,
    Feed,
}

/// A token bucket: `requests` per `per_millis`, holding `burst`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Pace {
    pub requests: u64,
    pub per_millis: u64,
    pub burst: u64,
}

impl From<&PublishedLimit> for Pace {
    fn from(limit: &PublishedLimit) -> Self {
        Self {
            requests: limit.requests,
            per_millis: limit.per_millis,
            burst: limit.burst,
        }
    }
}

impl Pace {
    pub fn new(requests: u64, per: Duration, burst: u64) -> Self {
        Self {
            requests,
            per_millis: u64::try_from(per.as_millis()).unwrap_or(u64::MAX),
            burst,
        }
    }
}

/// The choice with the figures it was made from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Plan {
    pub route: Route,
    /// When the last per-SKU call could go out, from now.
    pub per_sku_millis: u128,
    /// When the last feed's status could say it was processed, from now.
    pub feed_millis: u128,
}

/// The earliest time, from now, at which the last of `calls` calls may go out of a full bucket.
pub fn drain_millis(pace: &Pace, calls: u64) -> u128 {
    let waiting = calls.saturating_sub(pace.burst);
    if waiting == 0 || pace.requests == 0 {
        return 0;
    }
    (u128::from(waiting) * u128::from(pace.per_millis)).div_ceil(u128::from(pace.requests))
}

/// Per-SKU calls or feeds for `backlog` updates: `per_sku` is the per-SKU operation's pacing (`None`: unpaced),
/// `feed` the feed type's limit, `per_feed` how many SKUs one feed carries, `turnaround_millis` how long
/// Walmart takes to process a feed (the last one measured, or an estimate before any).
pub fn choose(
    backlog: u64,
    per_sku: Option<&Pace>,
    feed: &Pace,
    per_feed: u64,
    turnaround_millis: u64,
) -> Plan {
    let per_sku_millis = per_sku.map(|p| drain_millis(p, backlog)).unwrap_or(0);
    let feeds = backlog.div_ceil(per_feed.max(1));
    let feed_millis = drain_millis(feed, feeds) + u128::from(turnaround_millis);
    let route = if backlog > 0 && per_sku.is_some() && feed_millis < per_sku_millis {
        Route::Feed
    } else {
        Route::PerSku
    };
    Plan {
        route,
        per_sku_millis,
        feed_millis,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crds::channel::ChannelKind;

    fn feed() -> Pace {
        ChannelKind::Walmart
            .operation("bulkInventoryFeed")
            .and_then(|op| op.published)
            .map(|l| Pace::from(&l))
            .unwrap_or_else(|| panic!("bulkInventoryFeed has a published limit"))
    }

    #[test]
    fn the_published_feed_limit_is_ten_an_hour() {
        assert_eq!(
            feed(),
            Pace {
                requests: 10,
                per_millis: 3_600_000,
                burst: 10
            }
        );
        // The eleventh feed waits for one token: six minutes.
        assert_eq!(drain_millis(&feed(), 11), 360_000);
    }

    #[test]
    fn crossover_at_the_feed_turnaround() {
        // 5 per second, burst 10: 610 SKUs take 120 s, as long as a feed processed in 120 s; a tie stays per SKU.
        let pace = Pace::new(5, Duration::from_secs(1), 10);
        assert_eq!(
            choose(610, Some(&pace), &feed(), 10_000, 120_000).route,
            Route::PerSku
        );
        assert_eq!(
            choose(611, Some(&pace), &feed(), 10_000, 120_000).route,
            Route::Feed
        );
        assert_eq!(
            choose(20, Some(&pace), &feed(), 10_000, 120_000).per_sku_millis,
            2_000
        );
    }

    #[test]
    fn unpaced_or_empty_backlogs_go_per_sku() {
        assert_eq!(
            choose(100_000, None, &feed(), 10_000, 1).route,
            Route::PerSku
        );
        let pace = Pace::new(5, Duration::from_secs(1), 10);
        assert_eq!(
            choose(0, Some(&pace), &feed(), 10_000, 0).route,
            Route::PerSku
        );
    }
}
