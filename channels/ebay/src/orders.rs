//! getOrders answers to canonical orders, and the polling cursor (lastmodifieddate window + offset). Pure.

use chrono::{DateTime, TimeZone, Utc};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use adapter_runtime::canonical::{
    Address, Buyer, CorrelationId, Currency, FulfilledBy, Fulfilment, MarketplaceName, Money,
    Order, OrderId, OrderLine, OrderStatus, OrderTotals, Sku,
};

/// Orders modified at or after `since`, `offset` of them read; `newest` starts the next window.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Cursor {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub since: Option<DateTime<Utc>>,
    #[serde(default)]
    pub offset: usize,
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

    /// `lastmodifieddate:[<since>..]`, eBay's filter syntax (UTC, milliseconds).
    pub fn filter(&self) -> Option<String> {
        self.since.map(|t| {
            format!(
                "lastmodifieddate:[{}..]",
                t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
            )
        })
    }

    pub fn after_page(
        &self,
        read: usize,
        total: usize,
        newest: Option<DateTime<Utc>>,
    ) -> (Self, bool) {
        let newest = self.newest.max(newest);
        let offset = self.offset + read;
        if read > 0 && offset < total {
            (
                Self {
                    since: self.since,
                    offset,
                    newest,
                },
                true,
            )
        } else {
            (
                Self {
                    since: newest.or(self.since),
                    offset: 0,
                    newest: None,
                },
                false,
            )
        }
    }
}

fn text<'a>(v: &'a Value, pointer: &str) -> Result<&'a str, String> {
    v.pointer(pointer)
        .and_then(Value::as_str)
        .ok_or_else(|| format!("field {pointer} is missing or not text"))
}

fn amount(v: &Value, pointer: &str) -> Result<Decimal, String> {
    match v.pointer(pointer).and_then(|a| a.get("value")) {
        None | Some(Value::Null) => Ok(Decimal::ZERO),
        Some(Value::String(s)) => s
            .parse()
            .map_err(|e| format!("field {pointer}.value {s:?}: {e}")),
        Some(other) => Err(format!(
            "field {pointer}.value must be a decimal string, got {other}"
        )),
    }
}

fn time(v: &Value, pointer: &str) -> Result<DateTime<Utc>, String> {
    let t = text(v, pointer)?;
    DateTime::parse_from_rfc3339(t)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|e| format!("field {pointer}: {t:?}: {e}"))
}

/// Seconds since 2020 of the last modification: every change eBay makes is a later revision.
pub fn revision(modified: DateTime<Utc>) -> u32 {
    let epoch = Utc
        .with_ymd_and_hms(2020, 1, 1, 0, 0, 0)
        .single()
        .unwrap_or_default();
    u32::try_from((modified - epoch).num_seconds().max(0)).unwrap_or(u32::MAX)
}

pub fn to_canonical(marketplace: &MarketplaceName, order: &Value) -> Result<Order, String> {
    let order_id = text(order, "/orderId")?;
    let id = OrderId::try_from(order_id).map_err(|e| format!("orderId: {e}"))?;
    let within = |e: String| format!("order {order_id}: {e}");
    let currency: Currency = text(order, "/pricingSummary/total/currency")
        .map_err(within)?
        .parse()
        .map_err(|e: String| within(format!("currency: {e}")))?;
    let money = |a: Decimal| Money::new(a, currency);
    let mut lines = Vec::new();
    for line in order
        .get("lineItems")
        .and_then(Value::as_array)
        .ok_or_else(|| within("field lineItems is missing".into()))?
    {
        let line_id = text(line, "/lineItemId").map_err(within)?;
        let quantity = line
            .get("quantity")
            .and_then(Value::as_i64)
            .ok_or_else(|| within(format!("line {line_id}: quantity is missing")))?;
        let cost = amount(line, "/lineItemCost").map_err(within)?;
        lines.push(OrderLine {
            line_id: line_id.to_string(),
            sku: Sku::try_from(text(line, "/sku").map_err(within)?)
                .map_err(|e| within(format!("sku: {e}")))?,
            quantity,
            unit_price: money(if quantity > 0 {
                cost / Decimal::from(quantity)
            } else {
                cost
            }),
            tax: money(Decimal::ZERO),
            discount: None,
        });
    }
    let ship_to = order
        .pointer("/fulfillmentStartInstructions/0/shippingStep/shipTo")
        .ok_or_else(|| {
            within("field fulfillmentStartInstructions[0].shippingStep.shipTo is missing".into())
        })?;
    let optional = |v: &Value, p: &str| v.pointer(p).and_then(Value::as_str).map(str::to_string);
    let modified = time(order, "/lastModifiedDate").map_err(within)?;
    let status = match order.get("orderFulfillmentStatus").and_then(Value::as_str) {
        Some("FULFILLED") => OrderStatus::Shipped,
        Some("IN_PROGRESS") => OrderStatus::PartiallyShipped,
        _ => OrderStatus::Unshipped,
    };
    let status = if order
        .pointer("/cancelStatus/cancelState")
        .and_then(Value::as_str)
        == Some("CANCELED")
    {
        OrderStatus::Cancelled
    } else {
        status
    };
    Ok(Order {
        correlation_id: CorrelationId::for_order(marketplace, &id),
        marketplace: marketplace.clone(),
        order_id: id,
        revision: revision(modified),
        status,
        placed_at: time(order, "/creationDate").map_err(within)?,
        updated_at: modified,
        buyer: Buyer {
            name: optional(order, "/buyer/buyerRegistrationAddress/fullName")
                .or_else(|| optional(order, "/buyer/username"))
                .unwrap_or_default(),
            email: optional(order, "/buyer/buyerRegistrationAddress/email"),
            phone: None,
        },
        ship_to: Address {
            name: optional(ship_to, "/fullName").unwrap_or_default(),
            line1: text(ship_to, "/contactAddress/addressLine1")
                .map_err(within)?
                .to_string(),
            line2: optional(ship_to, "/contactAddress/addressLine2"),
            city: text(ship_to, "/contactAddress/city")
                .map_err(within)?
                .to_string(),
            region: optional(ship_to, "/contactAddress/stateOrProvince"),
            postal_code: optional(ship_to, "/contactAddress/postalCode").unwrap_or_default(),
            country: text(ship_to, "/contactAddress/countryCode")
                .map_err(within)?
                .to_string(),
        },
        lines,
        totals: OrderTotals {
            subtotal: money(amount(order, "/pricingSummary/priceSubtotal").map_err(within)?),
            shipping: money(amount(order, "/pricingSummary/deliveryCost").map_err(within)?),
            tax: money(amount(order, "/pricingSummary/tax").map_err(within)?),
            discount: money(
                amount(order, "/pricingSummary/priceDiscount")
                    .map_err(within)?
                    .abs(),
            ),
            total: money(amount(order, "/pricingSummary/total").map_err(within)?),
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
    fn the_filter_and_window_follow_the_newest_modification() {
        let t = |s: &str| DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc);
        let (next, more) = Cursor::default().after_page(100, 150, Some(t("2026-01-01T00:00:00Z")));
        assert!(more && next.offset == 100);
        let (last, more) = next.after_page(50, 150, None);
        assert!(!more);
        assert_eq!(
            last.filter().unwrap(),
            "lastmodifieddate:[2026-01-01T00:00:00.000Z..]"
        );
    }
}
