//! getOrders answers to canonical orders, and the polling cursor (lastmodifieddate window + offset). Pure.

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use channel_api::canonical::builders::{
    AddressFields, OrderParts, Totals, address, currency, decimal, line, optional,
    revision_from_update, text, time, unit_price,
};
use channel_api::canonical::{Buyer, MarketplaceName, Order, OrderId, OrderStatus, Sku};

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

const SHIP_TO: AddressFields<'static> = AddressFields {
    line1: "/contactAddress/addressLine1",
    line2: "/contactAddress/addressLine2",
    city: "/contactAddress/city",
    region: "/contactAddress/stateOrProvince",
    postal_code: "/contactAddress/postalCode",
    country: "/contactAddress/countryCode",
};

/// An eBay `Amount` (`{"value": "12.34", "currency": "USD"}`) at `pointer`: its decimal-string value, zero when
/// eBay leaves the charge out.
fn amount(v: &Value, pointer: &str) -> Result<Decimal, String> {
    decimal(v, &format!("{pointer}/value"))
}

pub fn to_canonical(marketplace: &MarketplaceName, order: &Value) -> Result<Order, String> {
    let order_id = text(order, "/orderId")?;
    let id = OrderId::try_from(order_id).map_err(|e| format!("orderId: {e}"))?;
    let within = |e: String| format!("order {order_id}: {e}");
    let currency = currency(order, "/pricingSummary/total/currency").map_err(within)?;
    let mut lines = Vec::new();
    for item in order
        .get("lineItems")
        .and_then(Value::as_array)
        .ok_or_else(|| within("field lineItems is missing".into()))?
    {
        let line_id = text(item, "/lineItemId").map_err(within)?;
        let quantity = item
            .get("quantity")
            .and_then(Value::as_i64)
            .ok_or_else(|| within(format!("line {line_id}: quantity is missing")))?;
        // eBay prices the whole line; the canonical line carries the unit price.
        let cost = amount(item, "/lineItemCost").map_err(within)?;
        let sku = Sku::try_from(text(item, "/sku").map_err(within)?)
            .map_err(|e| within(format!("sku: {e}")))?;
        lines.push(line(
            line_id.to_string(),
            sku,
            quantity,
            (unit_price(cost, quantity), Decimal::ZERO),
            currency,
        ));
    }
    let ship_to = order
        .pointer("/fulfillmentStartInstructions/0/shippingStep/shipTo")
        .ok_or_else(|| {
            within("field fulfillmentStartInstructions[0].shippingStep.shipTo is missing".into())
        })?;
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
    let pricing = |field: &str| amount(order, &format!("/pricingSummary/{field}")).map_err(within);
    Ok(OrderParts {
        order_id: id,
        revision: revision_from_update(modified),
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
        ship_to: address(
            ship_to,
            optional(ship_to, "/fullName").unwrap_or_default(),
            &SHIP_TO,
        )
        .map_err(within)?,
        lines,
        totals: Totals {
            subtotal: pricing("priceSubtotal")?,
            shipping: pricing("deliveryCost")?,
            tax: pricing("tax")?,
            // eBay states the discount as a negative adjustment; the canonical one is positive.
            discount: pricing("priceDiscount")?.abs(),
            total: pricing("total")?,
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
