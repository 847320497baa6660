//! Feed or patches: which way drains a backlog of SKU updates sooner under Amazon's published limits. Pure.
//!
//! Patches cost one `patchListingsItem` call per SKU; a JSON_LISTINGS_FEED carries up to 25,000 messages but
//! needs its submission slots (`createFeed` and the per-region JSON_LISTINGS_FEED limit) and then Amazon's
//! processing time before its report says what was applied. Both are computed from full buckets (the
//! burst available now), in exact integer milliseconds: a feed is chosen only when it is strictly sooner.

use crds::channel::PublishedLimit;

/// How a backlog is sent.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Route {
    Patches,
    Feed,
}

/// The choice with the figures it was made from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Plan {
    pub route: Route,
    /// When the last patch could be sent, from now.
    pub patches_millis: u128,
    /// When the last feed's report could be read, from now (last submission plus the turnaround).
    pub feed_millis: u128,
}

/// The earliest time, from now, at which the last of `calls` calls may go out of a full bucket of `limit`.
pub fn drain_millis(limit: &PublishedLimit, calls: u64) -> u128 {
    let waiting = calls.saturating_sub(limit.burst);
    if waiting == 0 || limit.requests == 0 {
        return 0;
    }
    // `waiting` tokens refill at `requests` per `per_millis`: ceil(waiting * per / requests).
    (u128::from(waiting) * u128::from(limit.per_millis)).div_ceil(u128::from(limit.requests))
}

/// Chooses patches or feeds for `backlog` SKU updates: `patch` is `patchListingsItem`'s limit, `feed_limits`
/// every limit one feed submission takes a token of, `messages_per_feed` a feed's capacity, and
/// `feed_turnaround_millis` how long Amazon takes to process a feed (measured or configured).
pub fn choose(
    backlog: u64,
    patch: &PublishedLimit,
    feed_limits: &[PublishedLimit],
    messages_per_feed: u64,
    feed_turnaround_millis: u64,
) -> Plan {
    let patches_millis = drain_millis(patch, backlog);
    let feeds = backlog.div_ceil(messages_per_feed.max(1));
    let submissions = feed_limits
        .iter()
        .map(|limit| drain_millis(limit, feeds))
        .max()
        .unwrap_or(0);
    let feed_millis = submissions + u128::from(feed_turnaround_millis);
    let route = if backlog > 0 && feed_millis < patches_millis {
        Route::Feed
    } else {
        Route::Patches
    };
    Plan {
        route,
        patches_millis,
        feed_millis,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crds::channel::ChannelKind;

    fn limit(operation: &str) -> PublishedLimit {
        ChannelKind::Amazon
            .operation(operation)
            .and_then(|op| op.published)
            .unwrap_or_else(|| panic!("{operation} has a published limit"))
    }

    fn plan(backlog: u64, turnaround: u64) -> Plan {
        choose(
            backlog,
            &limit("patchListingsItem"),
            &[limit("createFeed"), limit("jsonListingsFeed")],
            25_000,
            turnaround,
        )
    }

    #[test]
    fn a_full_bucket_sends_its_burst_at_once_then_refills_at_the_rate() {
        let patch = limit("patchListingsItem");
        assert_eq!(drain_millis(&patch, 5), 0);
        assert_eq!(drain_millis(&patch, 6), 200);
        assert_eq!(drain_millis(&patch, 105), 20_000);
    }

    #[test]
    fn a_small_backlog_goes_as_patches() {
        let p = plan(20, 120_000);
        assert_eq!(p.route, Route::Patches);
        assert_eq!(p.patches_millis, 3_000);
        assert_eq!(p.feed_millis, 120_000);
    }

    #[test]
    fn the_crossover_is_where_patches_take_as_long_as_a_feed() {
        // 5 at once, then 5/s: 605 patches end at 120 s, the same as one feed's turnaround; a tie stays patches.
        assert_eq!(plan(605, 120_000).route, Route::Patches);
        assert_eq!(plan(606, 120_000).route, Route::Feed);
    }

    #[test]
    fn a_backlog_beyond_five_feeds_waits_for_the_regional_feed_limit() {
        // Six feeds: five within the bursts, the sixth one JSON_LISTINGS_FEED token (60 s) later.
        let p = plan(125_001, 120_000);
        assert_eq!(p.route, Route::Feed);
        assert_eq!(p.feed_millis, 60_000 + 120_000);
    }

    #[test]
    fn an_empty_backlog_sends_nothing_by_feed() {
        assert_eq!(plan(0, 0).route, Route::Patches);
    }
}
