//! The pieces a channel's order mapping builds a canonical [`Order`] from, so that each connector says only
//! where its API keeps a field: text, decimal amounts and times read out of JSON with errors that name the
//! field, the revision of an order from its last update, a postal address, the totals, and the parts every
//! merchant-fulfilled order shares. Pure functions.
//!
//! Fields are JSON pointers (`/pricingSummary/total`); errors name them with dots (`pricingSummary.total`).

use chrono::{DateTime, TimeZone, Utc};
use rust_decimal::Decimal;
use serde_json::Value;

use super::{
    Address, Buyer, CorrelationId, Currency, FulfilledBy, Fulfilment, MarketplaceName, Money,
    Order, OrderId, OrderLine, OrderStatus, OrderTotals,
};

/// A pointer as an error names it: `/lineItems/nodes` -> `lineItems.nodes`.
pub fn field_name(pointer: &str) -> String {
    pointer.trim_start_matches('/').replace('/', ".")
}

/// The text at `pointer`; missing, null or another type is an error naming the field.
pub fn text<'a>(value: &'a Value, pointer: &str) -> Result<&'a str, String> {
    value
        .pointer(pointer)
        .and_then(Value::as_str)
        .ok_or_else(|| format!("field {} is missing or not text", field_name(pointer)))
}

/// The text at `pointer`, if there is some.
pub fn optional(value: &Value, pointer: &str) -> Option<String> {
    value
        .pointer(pointer)
        .and_then(Value::as_str)
        .map(str::to_string)
}

/// The RFC 3339 time at `pointer`, in UTC.
pub fn time(value: &Value, pointer: &str) -> Result<DateTime<Utc>, String> {
    let t = text(value, pointer)?;
    DateTime::parse_from_rfc3339(t)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|e| format!("field {}: {t:?}: {e}", field_name(pointer)))
}

/// The ISO 4217 currency code at `pointer`.
pub fn currency(value: &Value, pointer: &str) -> Result<Currency, String> {
    text(value, pointer)?
        .parse()
        .map_err(|e: String| format!("field {}: {e}", field_name(pointer)))
}

/// The amount at `pointer`, written as a decimal string (`"12.99"`), the way most APIs keep money exact. An
/// absent or null amount is zero: APIs leave out the charges an order does not have.
pub fn decimal(value: &Value, pointer: &str) -> Result<Decimal, String> {
    match value.pointer(pointer) {
        None | Some(Value::Null) => Ok(Decimal::ZERO),
        Some(Value::String(s)) => parse(s, pointer),
        Some(other) => Err(format!(
            "field {} must be a decimal string, got {other}",
            field_name(pointer)
        )),
    }
}

/// As [`decimal`], for APIs that write amounts as JSON numbers (`12.99`) too. serde_json keeps a number's
/// text, and parsing that text never goes through binary floating point.
pub fn decimal_or_number(value: &Value, pointer: &str) -> Result<Decimal, String> {
    match value.pointer(pointer) {
        Some(Value::Number(n)) => {
            let text = n.to_string();
            text.parse::<Decimal>()
                .or_else(|_| Decimal::from_scientific(&text))
                .map_err(|e| format!("field {}: {text}: {e}", field_name(pointer)))
        }
        Some(Value::String(s)) => parse(s, pointer),
        None | Some(Value::Null) => Ok(Decimal::ZERO),
        Some(other) => Err(format!(
            "field {} must be a number, got {other}",
            field_name(pointer)
        )),
    }
}

fn parse(s: &str, pointer: &str) -> Result<Decimal, String> {
    s.parse()
        .map_err(|e| format!("field {}: {s:?}: {e}", field_name(pointer)))
}

/// The sum of the decimal strings at `pointer` in each of `items` (a line's tax lines, say).
pub fn sum(items: Option<&Value>, pointer: &str) -> Result<Decimal, String> {
    sum_with(items, pointer, decimal)
}

/// As [`sum`], with amounts read by `read` ([`decimal_or_number`] for APIs that write numbers).
pub fn sum_with(
    items: Option<&Value>,
    pointer: &str,
    read: fn(&Value, &str) -> Result<Decimal, String>,
) -> Result<Decimal, String> {
    let mut total = Decimal::ZERO;
    for item in items.and_then(Value::as_array).into_iter().flatten() {
        total += read(item, pointer)?;
    }
    Ok(total)
}

/// Seconds since 2020-01-01 of an order's last update: every change the channel makes to the order is a later
/// update, so a later revision, while a re-read unchanged order keeps its revision (and JetStream drops it).
pub fn revision_from_update(updated_at: DateTime<Utc>) -> u32 {
    let epoch = Utc
        .with_ymd_and_hms(2020, 1, 1, 0, 0, 0)
        .single()
        .unwrap_or_default();
    u32::try_from((updated_at - epoch).num_seconds().max(0)).unwrap_or(u32::MAX)
}

/// The unit price of a line the channel prices as a whole (`cost` for `quantity` units); a line of no units
/// keeps its cost.
pub fn unit_price(cost: Decimal, quantity: i64) -> Decimal {
    if quantity > 0 {
        cost / Decimal::from(quantity)
    } else {
        cost
    }
}

/// Where an API keeps the parts of a postal address, as pointers into the address object. `line1`, `city` and
/// `country` must be there; the rest may be missing (an absent postal code is empty: not every country has
/// them).
#[derive(Clone, Copy, Debug)]
pub struct AddressFields<'a> {
    pub line1: &'a str,
    pub line2: &'a str,
    pub city: &'a str,
    pub region: &'a str,
    pub postal_code: &'a str,
    pub country: &'a str,
}

/// The address in `value` whose parts are at `fields`, for `name`. The country is as the API writes it; a
/// channel whose API writes alpha-3 codes converts it after.
pub fn address(value: &Value, name: String, fields: &AddressFields) -> Result<Address, String> {
    Ok(Address {
        name,
        line1: text(value, fields.line1)?.to_string(),
        line2: optional(value, fields.line2),
        city: text(value, fields.city)?.to_string(),
        region: optional(value, fields.region),
        postal_code: optional(value, fields.postal_code).unwrap_or_default(),
        country: text(value, fields.country)?.to_string(),
    })
}

/// An order's totals as the channel states them, before they take the order's currency. Absent charges are
/// zero (`Totals::default()`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Totals {
    pub subtotal: Decimal,
    pub shipping: Decimal,
    pub tax: Decimal,
    /// A positive amount.
    pub discount: Decimal,
    pub total: Decimal,
}

impl Totals {
    /// Taxes charged on top of a total that does not contain them: counted in both tax and total, so that
    /// total = subtotal + shipping + tax - discount still holds.
    pub fn plus_tax_on_top(self, tax: Decimal) -> Self {
        Self {
            tax: self.tax + tax,
            total: self.total + tax,
            ..self
        }
    }

    pub fn in_currency(self, currency: Currency) -> OrderTotals {
        let money = |amount| Money::new(amount, currency);
        OrderTotals {
            subtotal: money(self.subtotal),
            shipping: money(self.shipping),
            tax: money(self.tax),
            discount: money(self.discount),
            total: money(self.total),
        }
    }
}

/// A line priced at `unit_price` with `tax` on the whole line, no discount, in `currency`.
pub fn line(
    line_id: String,
    sku: super::Sku,
    quantity: i64,
    (unit_price, tax): (Decimal, Decimal),
    currency: Currency,
) -> OrderLine {
    OrderLine {
        line_id,
        sku,
        quantity,
        unit_price: Money::new(unit_price, currency),
        tax: Money::new(tax, currency),
        discount: None,
    }
}

/// What a channel states of an order; [`OrderParts::merchant_order`] adds what every order of a marketplace
/// shares.
#[derive(Clone, Debug)]
pub struct OrderParts {
    pub order_id: OrderId,
    pub revision: u32,
    pub status: OrderStatus,
    pub placed_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub buyer: Buyer,
    pub ship_to: Address,
    pub lines: Vec<OrderLine>,
    pub totals: OrderTotals,
    /// The channel's shipping service, and the time the seller must ship by, where it states them.
    pub service_level: Option<String>,
    pub ship_by: Option<DateTime<Utc>>,
}

impl OrderParts {
    /// The canonical order of `marketplace`, shipped by the seller: its correlation id follows from the
    /// marketplace and order id, and the order process enriches it later.
    pub fn merchant_order(self, marketplace: &MarketplaceName) -> Order {
        Order {
            correlation_id: CorrelationId::for_order(marketplace, &self.order_id),
            marketplace: marketplace.clone(),
            order_id: self.order_id,
            revision: self.revision,
            status: self.status,
            placed_at: self.placed_at,
            updated_at: self.updated_at,
            buyer: self.buyer,
            ship_to: self.ship_to,
            lines: self.lines,
            totals: self.totals,
            fulfilment: Fulfilment {
                by: FulfilledBy::Merchant,
                service_level: self.service_level,
                ship_by: self.ship_by,
            },
            enrichment: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::canonical::Sku;
    use serde_json::json;

    fn eur() -> Currency {
        "EUR".parse().unwrap()
    }

    #[test]
    fn fields_are_read_and_missing_ones_named_with_dots() {
        let v = json!({"a": {"b": "x", "n": 3}, "at": "2026-01-01T01:00:00+01:00"});
        assert_eq!(text(&v, "/a/b").unwrap(), "x");
        assert_eq!(
            text(&v, "/a/n").unwrap_err(),
            "field a.n is missing or not text"
        );
        assert_eq!(optional(&v, "/a/c"), None);
        assert_eq!(
            time(&v, "/at").unwrap(),
            Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap()
        );
        assert!(
            time(&v, "/a/b")
                .unwrap_err()
                .starts_with("field a.b: \"x\"")
        );
        assert!(
            currency(&json!({"c": "eur"}), "/c")
                .unwrap_err()
                .contains("field c: ")
        );
    }

    #[test]
    fn amounts_are_exact_decimals_and_absent_ones_zero() {
        let v = json!({"s": "12.10", "n": 0.1, "e": 1e2, "null": null, "bad": "1,5", "b": true});
        assert_eq!(decimal(&v, "/s").unwrap(), Decimal::new(1210, 2));
        assert_eq!(decimal(&v, "/missing").unwrap(), Decimal::ZERO);
        assert_eq!(decimal(&v, "/null").unwrap(), Decimal::ZERO);
        assert!(
            decimal(&v, "/bad")
                .unwrap_err()
                .starts_with("field bad: \"1,5\"")
        );
        assert_eq!(
            decimal(&v, "/n").unwrap_err(),
            "field n must be a decimal string, got 0.1"
        );
        assert_eq!(decimal_or_number(&v, "/n").unwrap(), Decimal::new(1, 1));
        assert_eq!(decimal_or_number(&v, "/e").unwrap(), Decimal::from(100));
        assert_eq!(decimal_or_number(&v, "/s").unwrap(), Decimal::new(1210, 2));
        assert_eq!(
            decimal_or_number(&v, "/b").unwrap_err(),
            "field b must be a number, got true"
        );
        let taxes = json!([{"a": "0.10"}, {"a": "0.25"}, {}]);
        assert_eq!(sum(Some(&taxes), "/a").unwrap(), Decimal::new(35, 2));
        assert_eq!(sum(None, "/a").unwrap(), Decimal::ZERO);
        let numbers = json!([{"a": 0.1}, {"a": 0.2}]);
        assert_eq!(
            sum_with(Some(&numbers), "/a", decimal_or_number).unwrap(),
            Decimal::new(3, 1)
        );
    }

    #[test]
    fn later_updates_are_later_revisions() {
        let t = |s: &str| DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc);
        assert!(
            revision_from_update(t("2026-01-01T00:00:01Z"))
                > revision_from_update(t("2026-01-01T00:00:00Z"))
        );
        assert_eq!(revision_from_update(t("2019-01-01T00:00:00Z")), 0);
        assert_eq!(revision_from_update(t("2020-01-01T00:01:00Z")), 60);
    }

    #[test]
    fn totals_arithmetic() {
        assert_eq!(unit_price(Decimal::new(3000, 2), 3), Decimal::new(1000, 2));
        assert_eq!(unit_price(Decimal::new(5, 0), 0), Decimal::new(5, 0));
        let stated = Totals {
            subtotal: Decimal::from(100),
            shipping: Decimal::from(5),
            total: Decimal::from(105),
            ..Totals::default()
        };
        let taxed = stated.plus_tax_on_top(Decimal::from(21));
        assert_eq!(
            (taxed.tax, taxed.total),
            (Decimal::from(21), Decimal::from(126))
        );
        let totals = taxed.in_currency(eur());
        assert_eq!(totals.total, Money::new(Decimal::from(126), eur()));
        assert_eq!(totals.discount, Money::zero(eur()));
    }

    #[test]
    fn an_address_and_a_merchant_order() {
        let fields = AddressFields {
            line1: "/street",
            line2: "/street2",
            city: "/city",
            region: "/state",
            postal_code: "/zip",
            country: "/country",
        };
        let a = json!({"street": "1 Main St", "city": "Lyon", "country": "FR"});
        let ship_to = address(&a, "Ann".into(), &fields).unwrap();
        assert_eq!(ship_to.postal_code, "");
        assert_eq!(ship_to.line2, None);
        assert_eq!(
            address(&json!({"city": "Lyon"}), String::new(), &fields).unwrap_err(),
            "field street is missing or not text"
        );
        let marketplace = MarketplaceName::try_from("shop").unwrap();
        let at = Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap();
        let order = OrderParts {
            order_id: OrderId::try_from("42").unwrap(),
            revision: revision_from_update(at),
            status: OrderStatus::Unshipped,
            placed_at: at,
            updated_at: at,
            buyer: Buyer {
                name: "Ann".into(),
                email: None,
                phone: None,
            },
            ship_to,
            lines: vec![line(
                "1".into(),
                Sku::try_from("SKU-1").unwrap(),
                2,
                (Decimal::from(5), Decimal::ZERO),
                eur(),
            )],
            totals: Totals::default().in_currency(eur()),
            service_level: None,
            ship_by: None,
        }
        .merchant_order(&marketplace);
        assert_eq!(
            order.correlation_id,
            CorrelationId::for_order(&marketplace, &order.order_id)
        );
        assert_eq!(order.fulfilment.by, FulfilledBy::Merchant);
        assert_eq!(order.lines[0].tax, Money::zero(eur()));
        assert!(order.enrichment.is_none());
    }
}
