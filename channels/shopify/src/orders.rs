//! Shopify order nodes to canonical orders, and the polling cursor (updated_at window + GraphQL cursor). Pure.

use chrono::{DateTime, TimeZone, Utc};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use adapter_runtime::canonical::{
    Address, Buyer, CorrelationId, Currency, FulfilledBy, Fulfilment, MarketplaceName, Money,
    Order, OrderId, OrderLine, OrderStatus, OrderTotals, Sku,
};

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
    let epoch = Utc
        .with_ymd_and_hms(2020, 1, 1, 0, 0, 0)
        .single()
        .unwrap_or_default();
    u32::try_from((updated_at - epoch).num_seconds().max(0)).unwrap_or(u32::MAX)
}

fn text<'a>(value: &'a Value, pointer: &str) -> Result<&'a str, String> {
    value
        .pointer(pointer)
        .and_then(Value::as_str)
        .ok_or_else(|| {
            format!(
                "field {} is missing or not text",
                pointer.trim_start_matches('/').replace('/', ".")
            )
        })
}

fn optional(value: &Value, pointer: &str) -> Option<String> {
    value
        .pointer(pointer)
        .and_then(Value::as_str)
        .map(str::to_string)
}

fn amount(value: &Value, pointer: &str) -> Result<Decimal, String> {
    match value.pointer(pointer) {
        None | Some(Value::Null) => Ok(Decimal::ZERO),
        Some(Value::String(s)) => s
            .parse()
            .map_err(|e| format!("field {pointer}: {s:?}: {e}")),
        Some(other) => Err(format!(
            "field {pointer} must be a decimal string, got {other}"
        )),
    }
}

fn time(value: &Value, pointer: &str) -> Result<DateTime<Utc>, String> {
    let t = text(value, pointer)?;
    DateTime::parse_from_rfc3339(t)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|e| format!("field {pointer}: {t:?}: {e}"))
}

/// One `orders` node as a canonical order of `marketplace`.
pub fn to_canonical(marketplace: &MarketplaceName, node: &Value) -> Result<Order, String> {
    let gid = text(node, "/id")?;
    let id = OrderId::try_from(numeric_id(gid)).map_err(|e| format!("order id {gid}: {e}"))?;
    let within = |e: String| format!("order {gid}: {e}");
    let currency: Currency = text(node, "/currencyCode")
        .map_err(within)?
        .parse()
        .map_err(|e: String| within(format!("currencyCode: {e}")))?;
    let money = |amount: Decimal| Money::new(amount, currency);
    let mut lines = Vec::new();
    for line in node
        .pointer("/lineItems/nodes")
        .and_then(Value::as_array)
        .ok_or_else(|| within("field lineItems.nodes is missing".into()))?
    {
        let line_id = text(line, "/id").map_err(within)?;
        let sku = text(line, "/sku").map_err(|e| within(format!("line {line_id}: {e}")))?;
        let quantity = line
            .get("quantity")
            .and_then(Value::as_i64)
            .ok_or_else(|| within(format!("line {line_id}: field quantity is missing")))?;
        let mut tax = Decimal::ZERO;
        for t in line
            .get("taxLines")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            tax += amount(t, "/priceSet/shopMoney/amount").map_err(within)?;
        }
        lines.push(OrderLine {
            line_id: numeric_id(line_id).to_string(),
            sku: Sku::try_from(sku).map_err(|e| within(format!("line {line_id}: sku: {e}")))?,
            quantity,
            unit_price: money(
                amount(line, "/originalUnitPriceSet/shopMoney/amount").map_err(within)?,
            ),
            tax: money(tax),
            discount: None,
        });
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
    let address = node
        .get("shippingAddress")
        .filter(|a| !a.is_null())
        .ok_or_else(|| within("field shippingAddress is missing".into()))?;
    let buyer_name = optional(node, "/customer/displayName")
        .or_else(|| optional(address, "/name"))
        .unwrap_or_default();
    let total = |field: &str| amount(node, &format!("/{field}/shopMoney/amount")).map_err(within);
    Ok(Order {
        correlation_id: CorrelationId::for_order(marketplace, &id),
        marketplace: marketplace.clone(),
        order_id: id,
        revision: revision(updated_at),
        status,
        placed_at: time(node, "/createdAt").map_err(within)?,
        updated_at,
        buyer: Buyer {
            name: buyer_name,
            email: optional(node, "/email"),
            phone: optional(address, "/phone"),
        },
        ship_to: Address {
            name: optional(address, "/name").unwrap_or_default(),
            line1: text(address, "/address1").map_err(within)?.to_string(),
            line2: optional(address, "/address2"),
            city: text(address, "/city").map_err(within)?.to_string(),
            region: optional(address, "/provinceCode"),
            postal_code: optional(address, "/zip").unwrap_or_default(),
            country: text(address, "/countryCodeV2").map_err(within)?.to_string(),
        },
        lines,
        totals: OrderTotals {
            subtotal: money(total("subtotalPriceSet")?),
            shipping: money(total("totalShippingPriceSet")?),
            tax: money(total("totalTaxSet")?),
            discount: money(total("totalDiscountsSet")?),
            total: money(total("totalPriceSet")?),
        },
        fulfilment: Fulfilment {
            by: FulfilledBy::Merchant,
            service_level: None,
            ship_by: None,
        },
        enrichment: None,
    })
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
