//! The channel inventory policy: how much of the ERP's stock one channel may list.

use crds::v1alpha1::InventoryFlow;

use crate::canonical::InventoryPosition;

/// Units to list on the channel for `position` under `policy`:
/// the stock of the counted locations (all when none are named), minus the safety stock, times the channel's
/// percentage (rounded down), capped at the maximum listed quantity; never negative.
pub fn listed_quantity(position: &InventoryPosition, policy: &InventoryFlow) -> i64 {
    let counted = if policy.locations.is_empty() || position.locations.is_empty() {
        position.available
    } else {
        position
            .locations
            .iter()
            .filter(|l| policy.locations.iter().any(|name| name == &l.location))
            .map(|l| l.available.max(0))
            .sum()
    };
    let after_safety = counted.saturating_sub(policy.safety_stock).max(0);
    let share = after_safety.saturating_mul(i64::from(policy.percent_of_stock)) / 100;
    match policy.max_listed_quantity {
        Some(max) => share.min(max.max(0)),
        None => share,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::canonical::LocationStock;

    fn position(available: i64, locations: &[(&str, i64)]) -> InventoryPosition {
        InventoryPosition {
            correlation_id: "c".try_into().unwrap(),
            sku: "S".try_into().unwrap(),
            available,
            locations: locations
                .iter()
                .map(|(l, a)| LocationStock {
                    location: (*l).into(),
                    available: *a,
                })
                .collect(),
            as_of: "2026-11-28T00:00:00Z".parse().unwrap(),
        }
    }

    fn policy(yaml: &str) -> InventoryFlow {
        serde_yaml_ng::from_str(yaml).unwrap()
    }

    #[test]
    fn defaults_list_everything() {
        assert_eq!(listed_quantity(&position(17, &[]), &policy("{}")), 17);
    }

    #[test]
    fn safety_stock_percentage_and_cap_apply_in_that_order() {
        let p = policy("{safetyStock: 5, percentOfStock: 80, maxListedQuantity: 50}");
        assert_eq!(listed_quantity(&position(15, &[]), &p), 8); // (15 - 5) * 80% = 8
        assert_eq!(listed_quantity(&position(3, &[]), &p), 0); // never negative
        assert_eq!(listed_quantity(&position(1000, &[]), &p), 50); // capped
        assert_eq!(listed_quantity(&position(11, &[]), &p), 4); // 6 * 0.8 = 4.8, rounded down
    }

    #[test]
    fn only_named_locations_count() {
        let p = policy("{locations: [DAL]}");
        assert_eq!(
            listed_quantity(&position(30, &[("DAL", 10), ("RNO", 20)]), &p),
            10
        );
    }
}
