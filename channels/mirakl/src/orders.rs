//! OR11 answers to canonical orders, and the polling cursor (update-date window + offset). Pure functions.

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use channel_api::canonical::builders::{
    AddressFields, OrderParts, Totals, address, currency, decimal_or_number, line, optional,
    sum_with, text, time,
};
use channel_api::canonical::{Buyer, MarketplaceName, Order, OrderId, OrderStatus, Sku};

/// Where OR11 polling stands: orders updated since `since`, `offset` of them already read; `newest` is the
/// latest update date seen in this window, the next window's start once every page is read.
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

    /// The cursor after a page of `read` orders out of `total`, whose newest update is `newest`: the next
    /// offset while pages remain, else a new window from the newest update seen.
    pub fn after_page(
        &self,
        read: usize,
        total: usize,
        newest: Option<DateTime<Utc>>,
    ) -> (Self, bool) {
        let newest = match (self.newest, newest) {
            (Some(a), Some(b)) => Some(a.max(b)),
            (a, b) => a.or(b),
        };
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

/// A Mirakl order and the ids of its lines, as the connector needs them for OR21.
#[derive(Debug)]
pub struct Converted {
    pub order: Order,
    pub line_ids: Vec<String>,
}

/// The revision of an order in a state: orders move forward through these, so a re-read order in the
/// same state is a duplicate and one in a later state a new revision.
pub fn revision(state: &str) -> u32 {
    match state {
        "STAGING" => 1,
        "WAITING_ACCEPTANCE" => 2,
        "WAITING_DEBIT" | "WAITING_DEBIT_PAYMENT" => 3,
        "SHIPPING" => 4,
        "TO_COLLECT" => 5,
        "SHIPPED" => 6,
        "RECEIVED" => 7,
        "CLOSED" => 8,
        _ => 9,
    }
}

fn status(state: &str) -> OrderStatus {
    match state {
        "SHIPPING" => OrderStatus::Unshipped,
        "SHIPPED" | "TO_COLLECT" | "RECEIVED" | "CLOSED" => OrderStatus::Shipped,
        "REFUSED" | "CANCELED" => OrderStatus::Cancelled,
        _ => OrderStatus::Pending,
    }
}

const SHIPPING_ADDRESS: AddressFields<'static> = AddressFields {
    line1: "/street_1",
    line2: "/street_2",
    city: "/city",
    region: "/state",
    postal_code: "/zip_code",
    country: "/country_iso_code",
};

/// Mirakl writes amounts as JSON numbers (some operators as strings).
fn amount(value: &Value, field: &str) -> Result<Decimal, String> {
    decimal_or_number(value, &format!("/{field}"))
}

/// The sum of the `amount` of each tax in `taxes`.
fn taxes(taxes: Option<&Value>) -> Result<Decimal, String> {
    sum_with(taxes, "/amount", decimal_or_number)
}

/// One OR11 order as a canonical order of `marketplace`.
pub fn to_canonical(marketplace: &MarketplaceName, order: &Value) -> Result<Converted, String> {
    let order_id = text(order, "/order_id")?;
    let id = OrderId::try_from(order_id).map_err(|e| format!("order_id: {e}"))?;
    let within = |e: String| format!("order {order_id}: {e}");
    let currency = currency(order, "/currency_iso_code").map_err(within)?;
    let state = text(order, "/order_state").map_err(within)?;
    let mut lines = Vec::new();
    let mut line_ids = Vec::new();
    let mut tax_total = Decimal::ZERO;
    for item in order
        .get("order_lines")
        .and_then(Value::as_array)
        .ok_or_else(|| within("field order_lines is missing".into()))?
    {
        let line_id = text(item, "/order_line_id").map_err(within)?;
        let sku = text(item, "/offer_sku").map_err(within)?;
        let quantity = item
            .get("quantity")
            .and_then(Value::as_i64)
            .ok_or_else(|| within(format!("line {line_id}: field quantity is missing")))?;
        let tax = taxes(item.get("taxes")).map_err(within)?;
        tax_total += tax + taxes(item.get("shipping_taxes")).map_err(within)?;
        line_ids.push(line_id.to_string());
        lines.push(line(
            line_id.to_string(),
            Sku::try_from(sku).map_err(|e| within(format!("offer_sku: {e}")))?,
            quantity,
            (amount(item, "price_unit").map_err(within)?, tax),
            currency,
        ));
    }
    let customer = order
        .get("customer")
        .ok_or_else(|| within("field customer is missing".into()))?;
    let name = |v: &Value| {
        [v.get("firstname"), v.get("lastname")]
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .collect::<Vec<_>>()
            .join(" ")
    };
    let shipping_address = customer
        .get("shipping_address")
        .ok_or_else(|| within("field customer.shipping_address is missing".into()))?;
    let mut ship_to =
        address(shipping_address, name(shipping_address), &SHIPPING_ADDRESS).map_err(within)?;
    ship_to.country = crate::country::alpha2(&ship_to.country)
        .ok_or_else(|| {
            within(format!(
                "country_iso_code {:?} is not an ISO 3166-1 code",
                ship_to.country
            ))
        })?
        .to_string();
    let stated = Totals {
        subtotal: amount(order, "price").map_err(within)?,
        shipping: amount(order, "shipping_price").map_err(within)?,
        total: amount(order, "total_price").map_err(within)?,
        ..Totals::default()
    };
    // Canonical totals add up as subtotal + shipping + tax - discount. With TAX_INCLUDED (Mirakl's default)
    // prices and total already contain the tax, so no tax is added on top (each line still states its tax);
    // with TAX_EXCLUDED the taxes come on top of Mirakl's total.
    let tax_included = order.get("order_tax_mode").and_then(Value::as_str) != Some("TAX_EXCLUDED");
    let totals = if tax_included {
        stated
    } else {
        stated.plus_tax_on_top(tax_total)
    };
    let order = OrderParts {
        order_id: id,
        revision: revision(state),
        status: status(state),
        placed_at: time(order, "/created_date").map_err(within)?,
        updated_at: time(order, "/last_updated_date").map_err(within)?,
        buyer: Buyer {
            name: name(customer),
            email: optional(order, "/customer_notification_email"),
            phone: optional(shipping_address, "/phone"),
        },
        ship_to,
        lines,
        totals: totals.in_currency(currency),
        service_level: optional(order, "/shipping_type_code"),
        ship_by: time(order, "/shipping_deadline").ok(),
    }
    .merchant_order(marketplace);
    Ok(Converted { order, line_ids })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_window_moves_to_the_newest_update_after_the_last_page() {
        let t = |s: &str| DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc);
        let start = Cursor::default();
        let (next, more) = start.after_page(100, 150, Some(t("2026-01-01T00:00:00Z")));
        assert!(more);
        assert_eq!(next.offset, 100);
        let (last, more) = next.after_page(50, 150, Some(t("2025-12-31T00:00:00Z")));
        assert!(!more);
        assert_eq!(last.offset, 0);
        assert_eq!(last.since, Some(t("2026-01-01T00:00:00Z")));
        assert_eq!(Cursor::parse(Some(&last.render())).unwrap(), last);
    }
}
