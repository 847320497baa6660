//! Shopify order nodes to canonical orders, and the polling cursor (updated_at window + GraphQL cursor). Pure.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use channel_api::canonical::builders::{
    AddressFields, OrderParts, Totals, address, currency, decimal, line, optional,
    revision_from_update, sum, text, time,
};
use channel_api::canonical::{Buyer, MarketplaceName, Order, OrderId, OrderStatus, Sku};

/// Where polling stands: orders updated at or after `since`, read up to GraphQL cursor `after`; `newest` is
/// the latest update seen in this window, the next window's start once the last page is read. The window is
/// inclusive (`>=`) so an order updated in the same second as the last one read is not missed; the re-read
/// order has the same revision and JetStream drops it.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Cursor {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub since: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub after: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub newest: Option<DateTime<Utc>>,
}

impl Cursor {
    pub fn parse(text: Option<&str>) -> Result<Self, String> {
        match text {
            None => Ok(Self::default()),
            Some(t) => serde_json::from_str(t).map_err(|e| format!("orders cursor {t:?}: {e}")),
        }
    }

    pub fn render(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }

    /// The `query` argument: `updated_at:>='<since>'`.
    pub fn search(&self) -> Option<String> {
        self.since.map(|t| {
            format!(
                "updated_at:>='{}'",
                t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
            )
        })
    }

    /// The cursor after a page: the next page while Shopify has one, else a new window.
    pub fn after_page(
        &self,
        has_next: bool,
        end_cursor: Option<String>,
        newest: Option<DateTime<Utc>>,
    ) -> (Self, bool) {
        let newest = self.newest.max(newest);
        match (has_next, end_cursor) {
            (true, Some(after)) => (
                Self {
                    since: self.since,
                    after: Some(after),
                    newest,
                },
                true,
            ),
            _ => (
                Self {
                    since: newest.or(self.since),
                    after: None,
                    newest: None,
                },
                false,
            ),
        }
    }
}

/// The numeric id of a global id (`gid://shopify/Order/123` -> `123`).
pub fn numeric_id(gid: &str) -> &str {
    gid.rsplit('/').next().unwrap_or(gid)
}

pub fn order_gid(order_id: &str) -> String {
    if order_id.starts_with("gid://") {
        order_id.to_string()
    } else {
        format!("gid://shopify/Order/{order_id}")
    }
}

/// Seconds since 2020-01-01 of the last update: grows with every change Shopify makes to the order.
pub fn revision(updated_at: DateTime<Utc>) -> u32 {
    revision_from_update(updated_at)
}

const SHIPPING_ADDRESS: AddressFields<'static> = AddressFields {
    line1: "/address1",
    line2: "/address2",
    city: "/city",
    region: "/provinceCode",
    postal_code: "/zip",
    country: "/countryCodeV2",
};

/// One `orders` node as a canonical order of `marketplace`.
pub fn to_canonical(marketplace: &MarketplaceName, node: &Value) -> Result<Order, String> {
    let gid = text(node, "/id")?;
    let id = OrderId::try_from(numeric_id(gid)).map_err(|e| format!("order id {gid}: {e}"))?;
    let within = |e: String| format!("order {gid}: {e}");
    let currency = currency(node, "/currencyCode").map_err(within)?;
    let mut lines = Vec::new();
    for item in node
        .pointer("/lineItems/nodes")
        .and_then(Value::as_array)
        .ok_or_else(|| within("field lineItems.nodes is missing".into()))?
    {
        let line_id = text(item, "/id").map_err(within)?;
        let sku = text(item, "/sku").map_err(|e| within(format!("line {line_id}: {e}")))?;
        let quantity = item
            .get("quantity")
            .and_then(Value::as_i64)
            .ok_or_else(|| within(format!("line {line_id}: field quantity is missing")))?;
        let tax = sum(item.get("taxLines"), "/priceSet/shopMoney/amount").map_err(within)?;
        lines.push(line(
            numeric_id(line_id).to_string(),
            Sku::try_from(sku).map_err(|e| within(format!("line {line_id}: sku: {e}")))?,
            quantity,
            (
                decimal(item, "/originalUnitPriceSet/shopMoney/amount").map_err(within)?,
                tax,
            ),
            currency,
        ));
    }
    let updated_at = time(node, "/updatedAt").map_err(within)?;
    let status = if node.get("cancelledAt").is_some_and(|c| !c.is_null()) {
        OrderStatus::Cancelled
    } else {
        match node.get("displayFulfillmentStatus").and_then(Value::as_str) {
            Some("FULFILLED") => OrderStatus::Shipped,
            Some("PARTIALLY_FULFILLED") => OrderStatus::PartiallyShipped,
            _ => OrderStatus::Unshipped,
        }
    };
    let shipping_address = node
        .get("shippingAddress")
        .filter(|a| !a.is_null())
        .ok_or_else(|| within("field shippingAddress is missing".into()))?;
    let buyer_name = optional(node, "/customer/displayName")
        .or_else(|| optional(shipping_address, "/name"))
        .unwrap_or_default();
    let total = |field: &str| decimal(node, &format!("/{field}/shopMoney/amount")).map_err(within);
    Ok(OrderParts {
        order_id: id,
        revision: revision(updated_at),
        status,
        placed_at: time(node, "/createdAt").map_err(within)?,
        updated_at,
        buyer: Buyer {
            name: buyer_name,
            email: optional(node, "/email"),
            phone: optional(shipping_address, "/phone"),
        },
        ship_to: address(
            shipping_address,
            optional(shipping_address, "/name").unwrap_or_default(),
            &SHIPPING_ADDRESS,
        )
        .map_err(within)?,
        lines,
        totals: Totals {
            subtotal: total("subtotalPriceSet")?,
            shipping: total("totalShippingPriceSet")?,
            tax: total("totalTaxSet")?,
            discount: total("totalDiscountsSet")?,
            total: total("totalPriceSet")?,
        }
        .in_currency(currency),
        service_level: None,
        ship_by: None,
    }
    .merchant_order(marketplace))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_window_moves_to_the_newest_update_after_the_last_page() {
        let t = |s: &str| DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc);
        let (next, more) =
            Cursor::default().after_page(true, Some("c1".into()), Some(t("2026-01-01T00:00:00Z")));
        assert!(more);
        assert_eq!(next.after.as_deref(), Some("c1"));
        let (last, more) = next.after_page(false, None, Some(t("2025-12-31T00:00:00Z")));
        assert!(!more);
        assert_eq!(last.since, Some(t("2026-01-01T00:00:00Z")));
        assert_eq!(
            last.search().unwrap(),
            "updated_at:>='2026-01-01T00:00:00Z'"
        );
        assert_eq!(Cursor::parse(Some(&last.render())).unwrap(), last);
    }

    #[test]
    fn later_updates_are_later_revisions() {
        let t = |s: &str| DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc);
        assert!(revision(t("2026-01-01T00:00:01Z")) > revision(t("2026-01-01T00:00:00Z")));
        assert_eq!(numeric_id("gid://shopify/Order/42"), "42");
        assert_eq!(order_gid("42"), "gid://shopify/Order/42");
    }
}
