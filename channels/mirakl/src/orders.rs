//! OR11 answers to canonical orders, and the polling cursor (update-date window + offset). Pure functions.

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use adapter_runtime::canonical::{
    Address, Buyer, CorrelationId, Currency, FulfilledBy, Fulfilment, MarketplaceName, Money,
    Order, OrderId, OrderLine, OrderStatus, OrderTotals, Sku,
};

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

fn text<'a>(value: &'a Value, field: &str) -> Result<&'a str, String> {
    value
        .get(field)
        .and_then(Value::as_str)
        .ok_or_else(|| format!("field {field} is missing or not text"))
}

fn amount(value: &Value, field: &str) -> Result<Decimal, String> {
    match value.get(field) {
        None | Some(Value::Null) => Ok(Decimal::ZERO),
        // serde_json keeps the number's text; parsing that text never goes through binary floating point.
        Some(Value::Number(n)) => n
            .to_string()
            .parse::<Decimal>()
            .or_else(|_| Decimal::from_scientific(&n.to_string()))
            .map_err(|e| format!("field {field}: {n}: {e}")),
        Some(Value::String(s)) => s.parse().map_err(|e| format!("field {field}: {s:?}: {e}")),
        Some(other) => Err(format!("field {field} must be a number, got {other}")),
    }
}

fn time(value: &Value, field: &str) -> Result<DateTime<Utc>, String> {
    let t = text(value, field)?;
    DateTime::parse_from_rfc3339(t)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|e| format!("field {field}: {t:?}: {e}"))
}

/// One OR11 order as a canonical order of `marketplace`.
pub fn to_canonical(marketplace: &MarketplaceName, order: &Value) -> Result<Converted, String> {
    let order_id = text(order, "order_id")?;
    let id = OrderId::try_from(order_id).map_err(|e| format!("order_id: {e}"))?;
    let within = |e: String| format!("order {order_id}: {e}");
    let currency: Currency = text(order, "currency_iso_code")
        .map_err(within)?
        .parse()
        .map_err(|e: String| within(format!("currency_iso_code: {e}")))?;
    let money = |amount: Decimal| Money::new(amount, currency);
    let state = text(order, "order_state").map_err(within)?;
    let mut lines = Vec::new();
    let mut line_ids = Vec::new();
    let mut tax_total = Decimal::ZERO;
    for line in order
        .get("order_lines")
        .and_then(Value::as_array)
        .ok_or_else(|| within("field order_lines is missing".into()))?
    {
        let line_id = text(line, "order_line_id").map_err(within)?;
        let sku = text(line, "offer_sku").map_err(within)?;
        let quantity = line
            .get("quantity")
            .and_then(Value::as_i64)
            .ok_or_else(|| within(format!("line {line_id}: field quantity is missing")))?;
        let mut tax = Decimal::ZERO;
        for t in line
            .get("taxes")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            tax += amount(t, "amount").map_err(within)?;
        }
        tax_total += tax;
        for t in line
            .get("shipping_taxes")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            tax_total += amount(t, "amount").map_err(within)?;
        }
        line_ids.push(line_id.to_string());
        lines.push(OrderLine {
            line_id: line_id.to_string(),
            sku: Sku::try_from(sku).map_err(|e| within(format!("offer_sku: {e}")))?,
            quantity,
            unit_price: money(amount(line, "price_unit").map_err(within)?),
            tax: money(tax),
            discount: None,
        });
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
    let address = customer
        .get("shipping_address")
        .ok_or_else(|| within("field customer.shipping_address is missing".into()))?;
    let optional = |v: &Value, f: &str| v.get(f).and_then(Value::as_str).map(str::to_string);
    let subtotal = amount(order, "price").map_err(within)?;
    let shipping = amount(order, "shipping_price").map_err(within)?;
    let total = amount(order, "total_price").map_err(within)?;
    // Canonical totals add up as subtotal + shipping + tax - discount. With TAX_INCLUDED (Mirakl's default)
    // prices and total already contain the tax, so no tax is added on top (each line still states its tax);
    // with TAX_EXCLUDED the taxes come on top of Mirakl's total.
    let tax_included = order.get("order_tax_mode").and_then(Value::as_str) != Some("TAX_EXCLUDED");
    let (tax_on_top, total) = if tax_included {
        (Decimal::ZERO, total)
    } else {
        (tax_total, total + tax_total)
    };
    let order = Order {
        correlation_id: CorrelationId::for_order(marketplace, &id),
        marketplace: marketplace.clone(),
        order_id: id,
        revision: revision(state),
        status: status(state),
        placed_at: time(order, "created_date").map_err(within)?,
        updated_at: time(order, "last_updated_date").map_err(within)?,
        buyer: Buyer {
            name: name(customer),
            email: optional(order, "customer_notification_email"),
            phone: optional(address, "phone"),
        },
        ship_to: Address {
            name: name(address),
            line1: text(address, "street_1").map_err(within)?.to_string(),
            line2: optional(address, "street_2"),
            city: text(address, "city").map_err(within)?.to_string(),
            region: optional(address, "state"),
            postal_code: optional(address, "zip_code").unwrap_or_default(),
            country: {
                let code = text(address, "country_iso_code").map_err(within)?;
                crate::country::alpha2(code)
                    .ok_or_else(|| {
                        within(format!(
                            "country_iso_code {code:?} is not an ISO 3166-1 code"
                        ))
                    })?
                    .to_string()
            },
        },
        lines,
        totals: OrderTotals {
            subtotal: money(subtotal),
            shipping: money(shipping),
            tax: money(tax_on_top),
            discount: money(Decimal::ZERO),
            total: money(total),
        },
        fulfilment: Fulfilment {
            by: FulfilledBy::Merchant,
            service_level: optional(order, "shipping_type_code"),
            ship_by: time(order, "shipping_deadline").ok(),
        },
        enrichment: None,
    };
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
