//! The orders latency of a local run: when each buyer order was placed on a sandbox, and when the run first
//! saw it as a sales order in the ERP. The ERP is looked at every few hundred milliseconds, so a figure is
//! the true latency rounded up by at most that.

use std::collections::HashMap;
use std::time::Instant;

use demo_erp::SalesOrder;

/// Placed and arrived times by (marketplace, channel order id).
#[derive(Default)]
pub struct OrderClock {
    placed: HashMap<(String, String), Instant>,
    arrived: HashMap<(String, String), Instant>,
}

impl OrderClock {
    pub fn placed(&mut self, marketplace: &str, order_id: String) {
        self.placed
            .insert((marketplace.to_string(), order_id), Instant::now());
    }

    /// Notes the orders the ERP holds now that were not seen before.
    pub fn seen(&mut self, orders: &[SalesOrder]) {
        let now = Instant::now();
        for order in orders {
            self.arrived
                .entry((order.marketplace.clone(), order.channel_order_id.clone()))
                .or_insert(now);
        }
    }

    /// Milliseconds from placement to arrival in the ERP, for `marketplace`'s orders that arrived.
    pub fn latencies(&self, marketplace: &str) -> Vec<u64> {
        self.placed
            .iter()
            .filter(|((m, _), _)| m == marketplace)
            .filter_map(|(key, placed)| {
                let arrived = self.arrived.get(key)?;
                u64::try_from(arrived.saturating_duration_since(*placed).as_millis()).ok()
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sales_order(marketplace: &str, id: &str) -> SalesOrder {
        SalesOrder {
            number: format!("SO-{id}"),
            marketplace: marketplace.into(),
            channel_order_id: id.into(),
            status: "open".into(),
            posts: 1,
        }
    }

    #[test]
    fn only_orders_placed_and_arrived_count_and_the_first_sighting_wins() {
        let mut clock = OrderClock::default();
        clock.placed("amazon-us", "A-1".into());
        clock.placed("amazon-us", "A-2".into());
        clock.placed("walmart-us", "W-1".into());
        clock.seen(&[sales_order("amazon-us", "A-1")]);
        let first = clock.latencies("amazon-us");
        clock.seen(&[sales_order("amazon-us", "A-1"), sales_order("other", "A-2")]);
        assert_eq!(
            clock.latencies("amazon-us"),
            first,
            "A-1 keeps its first sighting"
        );
        assert_eq!(first.len(), 1, "A-2 has not arrived for amazon-us");
        assert!(clock.latencies("walmart-us").is_empty());
    }
}
