//! The order process: what an order must satisfy before it goes to the ERP, and what it is given for the ERP.

use std::collections::BTreeMap;

use crds::v1alpha1::OrdersFlow;

use crate::canonical::{Currency, FulfilledBy, Order, OrderEnrichment, Sku, Validate};

/// Whether the ERP knows a SKU, and which warehouses have how much of it (for allocation).
pub trait SkuLookup {
    fn is_known(&self, sku: &Sku) -> bool;
    /// Sellable units of `sku` at `warehouse`, when known.
    fn stock_at(&self, sku: &Sku, warehouse: &str) -> Option<i64>;
}

/// Why an order cannot go to the ERP: an operational reason a person can act on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OrderRejection {
    /// The field at fault (`lines[1].sku`, `shipTo.country`, `totals.total`).
    pub field: String,
    pub reason: String,
}

impl std::fmt::Display for OrderRejection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.field, self.reason)
    }
}

/// Checks `order` against the marketplace's order settings and returns it enriched for the ERP, or every reason
/// it cannot go there.
pub fn check_order(
    mut order: Order,
    settings: &OrdersFlow,
    marketplace_currency: Currency,
    skus: &dyn SkuLookup,
) -> Result<Order, Vec<OrderRejection>> {
    let mut rejections: Vec<OrderRejection> = order
        .problems()
        .into_iter()
        .map(|p| OrderRejection {
            field: p.field,
            reason: format!("{} (value: {})", p.message, p.value),
        })
        .collect();
    if order.currency() != marketplace_currency {
        rejections.push(OrderRejection {
            field: "totals.total.currency".into(),
            reason: format!(
                "order is in {}, the marketplace sells in {marketplace_currency}",
                order.currency()
            ),
        });
    }
    let validation = &settings.validation;
    if validation.require_known_sku {
        for (i, line) in order.lines.iter().enumerate() {
            if !skus.is_known(&line.sku) {
                rejections.push(OrderRejection {
                    field: format!("lines[{i}].sku"),
                    reason: format!("SKU {} is unknown to the ERP", line.sku),
                });
            }
        }
    }
    let countries = &validation.ship_to_countries;
    if !countries.is_empty() && !countries.contains(&order.ship_to.country) {
        rejections.push(OrderRejection {
            field: "shipTo.country".into(),
            reason: format!(
                "{} is not served (ships to {})",
                order.ship_to.country,
                countries.join(", ")
            ),
        });
    }
    if validation.check_totals
        && let Some(mismatch) = order.totals_mismatch()
    {
        rejections.push(OrderRejection {
            field: mismatch.field,
            reason: format!("stated {}, but {}", mismatch.value, mismatch.message),
        });
    }
    if !rejections.is_empty() {
        return Err(rejections);
    }
    let enrichment = &settings.enrichment;
    let allocation = if order.fulfilment.by == FulfilledBy::Merchant {
        allocate(&order, &enrichment.warehouse_priority, skus)
    } else {
        BTreeMap::new()
    };
    order.enrichment = Some(OrderEnrichment {
        erp_customer_account: enrichment.erp_customer_account.clone(),
        tax_code: enrichment.tax_code.clone(),
        allocation,
    });
    Ok(order)
}

/// Each line goes to the first warehouse, in priority order, that has stock for the whole line. A line no
/// warehouse can fill is left for the ERP to allocate.
fn allocate(order: &Order, priority: &[String], skus: &dyn SkuLookup) -> BTreeMap<String, String> {
    let mut taken: BTreeMap<(String, String), i64> = BTreeMap::new();
    let mut allocation = BTreeMap::new();
    for line in &order.lines {
        for warehouse in priority {
            let key = (line.sku.to_string(), warehouse.clone());
            let already = taken.get(&key).copied().unwrap_or(0);
            let stock = skus.stock_at(&line.sku, warehouse).unwrap_or(0);
            if stock - already >= line.quantity {
                taken.insert(key, already + line.quantity);
                allocation.insert(line.line_id.clone(), warehouse.clone());
                break;
            }
        }
    }
    allocation
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Erp(BTreeMap<(String, String), i64>);

    impl SkuLookup for Erp {
        fn is_known(&self, sku: &Sku) -> bool {
            self.0.keys().any(|(s, _)| s == sku.as_str())
        }
        fn stock_at(&self, sku: &Sku, warehouse: &str) -> Option<i64> {
            self.0
                .get(&(sku.to_string(), warehouse.to_string()))
                .copied()
        }
    }

    fn erp() -> Erp {
        Erp(BTreeMap::from([
            (("TW-1001".into(), "DAL".into()), 1),
            (("TW-1001".into(), "RNO".into()), 10),
            (("TW-2002".into(), "DAL".into()), 5),
        ]))
    }

    fn order() -> Order {
        serde_json::from_str(include_str!("../../tests/fixtures/order.json")).unwrap()
    }

    fn settings(yaml: &str) -> OrdersFlow {
        serde_yaml_ng::from_str(yaml).unwrap()
    }

    fn usd() -> Currency {
        "USD".parse().unwrap()
    }

    #[test]
    fn a_good_order_is_enriched_and_allocated_by_priority() {
        let s =
            settings("{enrichment: {erpCustomerAccount: C-AMZ, warehousePriority: [DAL, RNO]}}");
        let order = check_order(order(), &s, usd(), &erp()).unwrap();
        let enrichment = order.enrichment.unwrap();
        assert_eq!(enrichment.erp_customer_account.as_deref(), Some("C-AMZ"));
        // Line 10001 wants 2 of TW-1001: DAL has 1, so RNO. Line 10002 wants 1 of TW-2002: DAL.
        assert_eq!(
            enrichment.allocation.get("10001").map(String::as_str),
            Some("RNO")
        );
        assert_eq!(
            enrichment.allocation.get("10002").map(String::as_str),
            Some("DAL")
        );
    }

    #[test]
    fn every_reason_is_given_at_once() {
        let mut o = order();
        o.lines[1].sku = "NOPE".try_into().unwrap();
        o.ship_to.country = "CA".into();
        let s = settings("{validation: {shipToCountries: [US]}}");
        let eur: Currency = "EUR".parse().unwrap();
        let rejections = check_order(o, &s, eur, &erp()).unwrap_err();
        let text: Vec<String> = rejections.iter().map(ToString::to_string).collect();
        assert!(
            text.iter()
                .any(|t| t == "lines[1].sku: SKU NOPE is unknown to the ERP"),
            "{text:?}"
        );
        assert!(
            text.iter()
                .any(|t| t.starts_with("shipTo.country: CA is not served")),
            "{text:?}"
        );
        assert!(
            text.iter()
                .any(|t| t.starts_with("totals.total.currency: order is in USD")),
            "{text:?}"
        );
    }

    #[test]
    fn totals_are_checked_unless_disabled() {
        let mut o = order();
        o.totals.total.amount = "1.00".parse().unwrap();
        assert!(check_order(o.clone(), &settings("{}"), usd(), &erp()).is_err());
        assert!(
            check_order(
                o,
                &settings("{validation: {checkTotals: false}}"),
                usd(),
                &erp()
            )
            .is_ok()
        );
    }
}
