//! Invariants a type cannot state: quantities that must not be negative, amounts that must share a currency.
//! Each failure names the field and the value so that a dead-lettered record says what is wrong with it.

use std::fmt;

use super::money::{Currency, Money};
use super::records::{
    InventoryPosition, Invoice, LineQuantity, Order, OrderCancellation, Price, Product, Record,
    Return, Settlement, Shipment,
};

/// One broken invariant.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FieldError {
    /// Path of the field in the record (`lines[1].quantity`).
    pub field: String,
    /// The offending value.
    pub value: String,
    pub message: String,
}

impl fmt::Display for FieldError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}: {} (value: {})",
            self.field, self.message, self.value
        )
    }
}

/// Records that check their own invariants.
pub trait Validate {
    /// Every broken invariant; empty when the record is sound.
    fn problems(&self) -> Vec<FieldError>;
}

fn error(field: impl Into<String>, value: impl ToString, message: impl Into<String>) -> FieldError {
    FieldError {
        field: field.into(),
        value: value.to_string(),
        message: message.into(),
    }
}

fn non_negative(out: &mut Vec<FieldError>, field: String, quantity: i64) {
    if quantity < 0 {
        out.push(error(field, quantity, "quantity must not be negative"));
    }
}

fn positive(out: &mut Vec<FieldError>, field: String, quantity: i64) {
    if quantity <= 0 {
        out.push(error(field, quantity, "quantity must be positive"));
    }
}

fn same_currency(out: &mut Vec<FieldError>, field: String, money: &Money, expected: Currency) {
    if money.currency != expected {
        out.push(error(
            field,
            money.currency,
            format!("currency differs from the record's {expected}"),
        ));
    }
}

fn lines_positive(out: &mut Vec<FieldError>, lines: &[LineQuantity]) {
    for (i, line) in lines.iter().enumerate() {
        positive(out, format!("lines[{i}].quantity"), line.quantity);
    }
}

impl Validate for InventoryPosition {
    fn problems(&self) -> Vec<FieldError> {
        let mut out = Vec::new();
        non_negative(&mut out, "available".into(), self.available);
        for (i, location) in self.locations.iter().enumerate() {
            non_negative(
                &mut out,
                format!("locations[{i}].available"),
                location.available,
            );
        }
        out
    }
}

impl Validate for Price {
    fn problems(&self) -> Vec<FieldError> {
        let mut out = Vec::new();
        if self.price.amount.is_sign_negative() {
            out.push(error(
                "price.amount",
                self.price.amount,
                "price must not be negative",
            ));
        }
        if let Some(sale) = &self.sale {
            same_currency(
                &mut out,
                "sale.price.currency".into(),
                &sale.price,
                self.price.currency,
            );
            if sale.ends_at <= sale.starts_at {
                out.push(error(
                    "sale.endsAt",
                    sale.ends_at.to_rfc3339(),
                    "sale ends before it starts",
                ));
            }
        }
        out
    }
}

impl Validate for Product {
    fn problems(&self) -> Vec<FieldError> {
        if self.title.trim().is_empty() {
            vec![error("title", "\"\"", "title is empty")]
        } else {
            Vec::new()
        }
    }
}

impl Order {
    /// The order's currency: that of its total.
    pub fn currency(&self) -> Currency {
        self.totals.total.currency
    }

    /// When the stated totals do not add up (to the cent), what differs.
    pub fn totals_mismatch(&self) -> Option<FieldError> {
        let currency = self.currency();
        let subtotal = self
            .lines
            .iter()
            .try_fold(Money::zero(currency), |sum, line| {
                sum.checked_add(line.unit_price.times(line.quantity))
            })
            .ok()?;
        if subtotal.amount != self.totals.subtotal.amount {
            return Some(error(
                "totals.subtotal",
                self.totals.subtotal,
                format!("lines add up to {subtotal}"),
            ));
        }
        let t = &self.totals;
        let expected = t.subtotal.amount + t.shipping.amount + t.tax.amount - t.discount.amount;
        (expected != t.total.amount).then(|| {
            error(
                "totals.total",
                t.total,
                format!("subtotal + shipping + tax - discount is {expected} {currency}"),
            )
        })
    }
}

impl Validate for Order {
    fn problems(&self) -> Vec<FieldError> {
        let mut out = Vec::new();
        let currency = self.currency();
        if self.lines.is_empty() {
            out.push(error("lines", "[]", "an order needs at least one line"));
        }
        for (i, line) in self.lines.iter().enumerate() {
            positive(&mut out, format!("lines[{i}].quantity"), line.quantity);
            same_currency(
                &mut out,
                format!("lines[{i}].unitPrice.currency"),
                &line.unit_price,
                currency,
            );
            same_currency(
                &mut out,
                format!("lines[{i}].tax.currency"),
                &line.tax,
                currency,
            );
            if let Some(discount) = &line.discount {
                same_currency(
                    &mut out,
                    format!("lines[{i}].discount.currency"),
                    discount,
                    currency,
                );
            }
        }
        let t = &self.totals;
        for (field, money) in [
            ("subtotal", &t.subtotal),
            ("shipping", &t.shipping),
            ("tax", &t.tax),
            ("discount", &t.discount),
        ] {
            same_currency(
                &mut out,
                format!("totals.{field}.currency"),
                money,
                currency,
            );
        }
        out
    }
}

impl Validate for OrderCancellation {
    fn problems(&self) -> Vec<FieldError> {
        let mut out = Vec::new();
        lines_positive(&mut out, &self.lines);
        out
    }
}

impl Validate for Shipment {
    fn problems(&self) -> Vec<FieldError> {
        let mut out = Vec::new();
        if self.lines.is_empty() {
            out.push(error("lines", "[]", "a shipment needs at least one line"));
        }
        lines_positive(&mut out, &self.lines);
        if self.tracking_number.trim().is_empty() {
            out.push(error("trackingNumber", "\"\"", "tracking number is empty"));
        }
        out
    }
}

impl Validate for Return {
    fn problems(&self) -> Vec<FieldError> {
        let mut out = Vec::new();
        for (i, line) in self.lines.iter().enumerate() {
            positive(&mut out, format!("lines[{i}].quantity"), line.quantity);
        }
        out
    }
}

impl Validate for Settlement {
    fn problems(&self) -> Vec<FieldError> {
        let mut out = Vec::new();
        same_currency(
            &mut out,
            "total.currency".into(),
            &self.total,
            self.currency,
        );
        for (i, line) in self.lines.iter().enumerate() {
            same_currency(
                &mut out,
                format!("lines[{i}].amount.currency"),
                &line.amount,
                self.currency,
            );
        }
        if out.is_empty() {
            let sum: rust_decimal::Decimal = self.lines.iter().map(|l| l.amount.amount).sum();
            if sum != self.total.amount {
                out.push(error(
                    "total",
                    self.total,
                    format!("lines add up to {sum} {}", self.currency),
                ));
            }
        }
        out
    }
}

impl Validate for Invoice {
    fn problems(&self) -> Vec<FieldError> {
        let mut out = Vec::new();
        if self.lines.is_empty() {
            out.push(error("lines", "[]", "an invoice needs at least one line"));
        }
        if self.invoice_number.trim().is_empty() {
            out.push(error("invoiceNumber", "\"\"", "invoice number is empty"));
        }
        let currency = self.total.currency;
        for (i, line) in self.lines.iter().enumerate() {
            positive(&mut out, format!("lines[{i}].quantity"), line.quantity);
            same_currency(
                &mut out,
                format!("lines[{i}].unitPrice.currency"),
                &line.unit_price,
                currency,
            );
        }
        if out.is_empty() {
            let sum: rust_decimal::Decimal = self
                .lines
                .iter()
                .map(|l| l.unit_price.amount * rust_decimal::Decimal::from(l.quantity))
                .sum();
            if sum != self.total.amount {
                out.push(error(
                    "total",
                    self.total,
                    format!("quantity × unit price over the lines is {sum} {currency}"),
                ));
            }
        }
        out
    }
}

impl Validate for Record {
    fn problems(&self) -> Vec<FieldError> {
        match self {
            Record::Inventory(r) => r.problems(),
            Record::Price(r) => r.problems(),
            Record::Product(r) => r.problems(),
            Record::Order(r) => r.problems(),
            Record::OrderAcknowledgement(_) => Vec::new(),
            Record::OrderCancellation(r) => r.problems(),
            Record::Shipment(r) => r.problems(),
            Record::Return(r) => r.problems(),
            Record::Settlement(r) => r.problems(),
            Record::Invoice(r) => r.problems(),
        }
    }
}
