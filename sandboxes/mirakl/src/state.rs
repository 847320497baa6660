//! What the Mirakl operator knows about one shop: offers (stock and price), stock imports with their error
//! reports, and orders moving through Mirakl's states. Pure state; the HTTP layer is in `routes`.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use serde::Serialize;
use serde_json::{Value, json};

use crate::stock_csv::{self, StockLine};

/// One offer of the shop.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Offer {
    pub quantity: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub price: Option<Decimal>,
    /// Quantities per warehouse, when the stock file gave one.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub warehouses: BTreeMap<String, i64>,
    /// The other offer fields the last OF24 sent (description, leadtime_to_ship, discount...).
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub fields: BTreeMap<String, serde_json::Value>,
}

/// One offer of an OF24 call: its SKU, price, and every other field sent.
#[derive(Clone, Debug, PartialEq)]
pub struct OfferUpdate {
    pub sku: String,
    pub price: Decimal,
    /// Every field of the offer as sent, identity fields and price included.
    pub fields: serde_json::Map<String, serde_json::Value>,
}

/// The fields that name an offer and its price: never reset by an update.
const OFFER_IDENTITY: &[&str] = &[
    "shop_sku",
    "product_id",
    "product_id_type",
    "state_code",
    "update_delete",
    "price",
];

/// A stock import (STO01) and its outcome (STO02, STO03).
#[derive(Clone, Debug, Serialize)]
pub struct StockImport {
    pub import_id: String,
    pub date_created: DateTime<Utc>,
    pub status: ImportStatus,
    pub lines_in_success: u32,
    pub lines_in_error: u32,
    #[serde(skip)]
    pub error_report: Option<String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ImportStatus {
    Complete,
    Failed,
}

/// Mirakl's order states the sandbox moves through.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum OrderState {
    WaitingAcceptance,
    Shipping,
    Shipped,
    Refused,
    Canceled,
}

impl OrderState {
    pub fn code(self) -> &'static str {
        match self {
            OrderState::WaitingAcceptance => "WAITING_ACCEPTANCE",
            OrderState::Shipping => "SHIPPING",
            OrderState::Shipped => "SHIPPED",
            OrderState::Refused => "REFUSED",
            OrderState::Canceled => "CANCELED",
        }
    }
}

/// One order line.
#[derive(Clone, Debug, Serialize)]
pub struct OrderLine {
    pub order_line_id: String,
    pub offer_sku: String,
    pub quantity: i64,
    pub price_unit: Decimal,
    pub shipping_price: Decimal,
    pub tax: Decimal,
    /// `None` until OR21 decides.
    pub accepted: Option<bool>,
}

/// Carrier tracking set by OR23.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Tracking {
    pub carrier_code: Option<String>,
    pub carrier_name: Option<String>,
    pub carrier_url: Option<String>,
    pub tracking_number: Option<String>,
}

/// A buyer's order.
#[derive(Clone, Debug, Serialize)]
pub struct Order {
    pub order_id: String,
    pub state: OrderState,
    pub currency: String,
    pub created_date: DateTime<Utc>,
    pub last_updated_date: DateTime<Utc>,
    pub customer_id: String,
    pub firstname: String,
    pub lastname: String,
    pub street_1: String,
    pub city: String,
    pub zip_code: String,
    pub country_iso_code: String,
    pub lines: Vec<OrderLine>,
    pub tracking: Option<Tracking>,
}

impl Order {
    /// The order as OR11 returns it (the fields the OpenAPI requires, and the ones the connector reads).
    pub fn to_or11(&self) -> Value {
        let lines: Vec<Value> = self
            .lines
            .iter()
            .enumerate()
            .map(|(index, line)| {
                let price = line.price_unit * Decimal::from(line.quantity);
                json!({
                    "can_refund": false,
                    "cancelations": [],
                    "category_code": "default",
                    "category_label": "Default",
                    "commission_fee": 0,
                    "commission_rate_vat": 0,
                    "commission_vat": 0,
                    "created_date": self.created_date,
                    "description": line.offer_sku,
                    "last_updated_date": self.last_updated_date,
                    "offer_id": index + 1,
                    "offer_sku": line.offer_sku,
                    "offer_state_code": "11",
                    "order_line_additional_fields": [],
                    "order_line_id": line.order_line_id,
                    "order_line_index": index + 1,
                    "order_line_state": self.state.code(),
                    "price": number(price),
                    "price_unit": number(line.price_unit),
                    "product_medias": [],
                    "product_sku": line.offer_sku,
                    "product_title": line.offer_sku,
                    "quantity": line.quantity,
                    "refunds": [],
                    "shipping_price": number(line.shipping_price),
                    "taxes": [{
                        "amount": number(line.tax),
                        "code": "VAT",
                        "tax_calculation_rule": "PROPORTIONAL",
                    }],
                    "total_commission": 0,
                    "total_price": number(price + line.shipping_price),
                })
            })
            .collect();
        let price: Decimal = self
            .lines
            .iter()
            .map(|l| l.price_unit * Decimal::from(l.quantity))
            .sum();
        let shipping: Decimal = self.lines.iter().map(|l| l.shipping_price).sum();
        let address = json!({
            "city": self.city,
            "country": "France",
            "country_iso_code": self.country_iso_code,
            "firstname": self.firstname,
            "lastname": self.lastname,
            "street_1": self.street_1,
            "zip_code": self.zip_code,
        });
        let mut order = json!({
            "can_cancel": self.state == OrderState::Shipping,
            "can_shop_ship": self.state == OrderState::Shipping,
            "commercial_id": format!("C-{}", self.order_id),
            "created_date": self.created_date,
            "currency_iso_code": self.currency,
            "customer": {
                "billing_address": address,
                "customer_id": self.customer_id,
                "firstname": self.firstname,
                "lastname": self.lastname,
                "shipping_address": address,
            },
            "fulfillment": {"center": {"code": "DEFAULT"}},
            "fully_refunded": false,
            "has_customer_message": false,
            "has_incident": false,
            "has_invoice": false,
            "last_updated_date": self.last_updated_date,
            "leadtime_to_ship": 2,
            "order_id": self.order_id,
            "order_lines": lines,
            "order_state": self.state.code(),
            "order_tax_mode": "TAX_INCLUDED",
            "paymentType": "",
            "price": number(price),
            "shipping_price": number(shipping),
            "shipping_type_code": "STD",
            "shipping_type_label": "Standard",
            "shipping_zone_code": "DOM",
            "shipping_zone_label": "Domestic",
            "total_commission": 0,
            "total_price": number(price + shipping),
        });
        if let Some(tracking) = &self.tracking {
            for (field, value) in [
                ("shipping_carrier_code", &tracking.carrier_code),
                ("shipping_company", &tracking.carrier_name),
                ("shipping_tracking", &tracking.tracking_number),
                ("shipping_tracking_url", &tracking.carrier_url),
            ] {
                if let Some(value) = value {
                    order[field] = json!(value);
                }
            }
        }
        order
    }
}

/// An amount as the JSON number Mirakl sends. serde_json writes numbers from f64 in their shortest
/// round-trip form, which is exact for the sandbox's two-decimal amounts.
fn number(amount: Decimal) -> Value {
    use rust_decimal::prelude::ToPrimitive;
    amount
        .to_f64()
        .and_then(serde_json::Number::from_f64)
        .map_or(Value::Null, Value::Number)
}

/// An order update Mirakl refuses, with its message.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum OrderError {
    #[error("Order {0} not found")]
    NotFound(String),
    #[error("Order {order} is in state {state}, expected {expected}")]
    WrongState {
        order: String,
        state: &'static str,
        expected: &'static str,
    },
    #[error("Order line {0} does not belong to this order")]
    UnknownLine(String),
    #[error("Every order line must be accepted or refused in one call (missing {0})")]
    MissingLine(String),
}

/// The shop.
#[derive(Debug, Default, Serialize)]
pub struct Shop {
    pub offers: BTreeMap<String, Offer>,
    pub stock_imports: Vec<StockImport>,
    /// Offer imports created by OF24, by id: the SKUs they updated.
    pub offer_imports: BTreeMap<u64, Vec<String>>,
    pub orders: Vec<Order>,
}

impl Shop {
    /// Adds an offer (a product the shop sells) with no stock and no price.
    pub fn add_offer(&mut self, sku: &str) {
        self.offers.entry(sku.to_string()).or_default();
    }

    /// Applies a stock file: each valid line updates its offer; the others go to the error report with
    /// Mirakl's reason.
    pub fn import_stock(&mut self, file: &str, now: DateTime<Utc>) -> StockImport {
        let import_id = format!("{}", self.stock_imports.len() + 1);
        let import = match stock_csv::parse(file) {
            Err(e) => StockImport {
                import_id,
                date_created: now,
                status: ImportStatus::Failed,
                lines_in_success: 0,
                lines_in_error: 0,
                error_report: Some(format!("\"line\";\"error-message\"\n\"1\";\"{e}\"\n")),
            },
            Ok(lines) => {
                let mut errors: Vec<(StockLine, String)> = Vec::new();
                let mut success = 0u32;
                for line in lines {
                    match self.apply_stock_line(&line) {
                        Ok(()) => success += 1,
                        Err(reason) => errors.push((line, reason)),
                    }
                }
                StockImport {
                    import_id,
                    date_created: now,
                    status: ImportStatus::Complete,
                    lines_in_success: success,
                    lines_in_error: u32::try_from(errors.len()).unwrap_or(u32::MAX),
                    error_report: (!errors.is_empty()).then(|| stock_csv::error_report(&errors)),
                }
            }
        };
        self.stock_imports.push(import.clone());
        import
    }

    fn apply_stock_line(&mut self, line: &StockLine) -> Result<(), String> {
        let quantity: i64 = line
            .quantity
            .parse()
            .map_err(|_| format!("The quantity '{}' is not a valid number", line.quantity))?;
        if quantity < 0 {
            return Err(format!(
                "The quantity '{quantity}' must be greater than or equal to 0"
            ));
        }
        let offer = self
            .offers
            .get_mut(&line.offer_sku)
            .ok_or_else(|| format!("The offer with sku '{}' does not exist", line.offer_sku))?;
        let delete = line.update_delete.eq_ignore_ascii_case("delete");
        let quantity = if delete { 0 } else { quantity };
        if line.warehouse_code.is_empty() {
            offer.quantity = quantity;
        } else {
            offer
                .warehouses
                .insert(line.warehouse_code.clone(), quantity);
            offer.quantity = offer.warehouses.values().sum();
        }
        Ok(())
    }

    /// Applies OF24's offers (already checked against the schema): the price of each.
    /// OF24: each offer takes its price and the fields sent. "You must send all offer fields. Offer fields
    /// that are not sent are reset to their default value": an existing offer's quantity not sent is set to 0
    /// ("Offer update: if not provided, will be set to 0") and its other fields not sent are deleted. With
    /// `apply_reset` false (a known connector deviation is excused) those fields keep their values. The import id,
    /// and per offer the fields left out that the offer had a value for (reset, or that would have been).
    pub fn update_offers(
        &mut self,
        updates: &[OfferUpdate],
        apply_reset: bool,
    ) -> (u64, Vec<(String, Vec<String>)>) {
        let id = u64::try_from(self.offer_imports.len()).unwrap_or(u64::MAX) + 1;
        let mut resets = Vec::new();
        for update in updates {
            let existed = self.offers.contains_key(&update.sku);
            let offer = self.offers.entry(update.sku.clone()).or_default();
            let mut reset = Vec::new();
            if existed {
                if !update.fields.contains_key("quantity") && offer.quantity != 0 {
                    reset.push("quantity".to_string());
                }
                reset.extend(
                    offer
                        .fields
                        .keys()
                        .filter(|k| !update.fields.contains_key(*k))
                        .cloned(),
                );
                if apply_reset {
                    for field in &reset {
                        if field == "quantity" {
                            offer.quantity = 0;
                        } else {
                            offer.fields.remove(field);
                        }
                    }
                }
            }
            offer.price = Some(update.price);
            for (key, value) in &update.fields {
                if key == "quantity" {
                    if let Some(quantity) = value.as_i64() {
                        offer.quantity = quantity;
                    }
                } else if !OFFER_IDENTITY.contains(&key.as_str()) {
                    offer.fields.insert(key.clone(), value.clone());
                }
            }
            if !reset.is_empty() {
                resets.push((update.sku.clone(), reset));
            }
        }
        self.offer_imports
            .insert(id, updates.iter().map(|o| o.sku.clone()).collect());
        (id, resets)
    }

    fn order_mut(&mut self, order_id: &str) -> Result<&mut Order, OrderError> {
        self.orders
            .iter_mut()
            .find(|o| o.order_id == order_id)
            .ok_or_else(|| OrderError::NotFound(order_id.to_string()))
    }

    /// OR21: every line accepted or refused. All refused: the order is REFUSED; otherwise SHIPPING (the
    /// sandbox skips the debit step).
    pub fn accept(
        &mut self,
        order_id: &str,
        decisions: &[(String, bool)],
        now: DateTime<Utc>,
    ) -> Result<(), OrderError> {
        let order = self.order_mut(order_id)?;
        expect_state(order, OrderState::WaitingAcceptance)?;
        for (line_id, _) in decisions {
            if !order.lines.iter().any(|l| &l.order_line_id == line_id) {
                return Err(OrderError::UnknownLine(line_id.clone()));
            }
        }
        for line in &order.lines {
            if !decisions.iter().any(|(id, _)| id == &line.order_line_id) {
                return Err(OrderError::MissingLine(line.order_line_id.clone()));
            }
        }
        for line in &mut order.lines {
            line.accepted = decisions
                .iter()
                .find(|(id, _)| id == &line.order_line_id)
                .map(|(_, accepted)| *accepted);
        }
        order.state = if order.lines.iter().any(|l| l.accepted == Some(true)) {
            OrderState::Shipping
        } else {
            OrderState::Refused
        };
        order.last_updated_date = now;
        Ok(())
    }

    /// OR23: tracking of an order being shipped.
    pub fn set_tracking(
        &mut self,
        order_id: &str,
        tracking: Tracking,
        now: DateTime<Utc>,
    ) -> Result<(), OrderError> {
        let order = self.order_mut(order_id)?;
        expect_state(order, OrderState::Shipping)?;
        order.tracking = Some(tracking);
        order.last_updated_date = now;
        Ok(())
    }

    /// OR24: the order is shipped.
    pub fn ship(&mut self, order_id: &str, now: DateTime<Utc>) -> Result<(), OrderError> {
        let order = self.order_mut(order_id)?;
        expect_state(order, OrderState::Shipping)?;
        order.state = OrderState::Shipped;
        order.last_updated_date = now;
        Ok(())
    }

    /// OR29: the seller cancels an accepted order.
    pub fn cancel(&mut self, order_id: &str, now: DateTime<Utc>) -> Result<(), OrderError> {
        let order = self.order_mut(order_id)?;
        expect_state(order, OrderState::Shipping)?;
        order.state = OrderState::Canceled;
        order.last_updated_date = now;
        Ok(())
    }

    /// OR11's selection: orders updated at or after `since` (all when `None`), by creation date then id.
    pub fn orders_updated_since(&self, since: Option<DateTime<Utc>>) -> Vec<&Order> {
        let mut orders: Vec<&Order> = self
            .orders
            .iter()
            .filter(|o| since.is_none_or(|s| o.last_updated_date >= s))
            .collect();
        orders.sort_by(|a, b| (a.created_date, &a.order_id).cmp(&(b.created_date, &b.order_id)));
        orders
    }
}

fn expect_state(order: &Order, expected: OrderState) -> Result<(), OrderError> {
    if order.state == expected {
        Ok(())
    } else {
        Err(OrderError::WrongState {
            order: order.order_id.clone(),
            state: order.state.code(),
            expected: expected.code(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stock_lines_update_known_offers_and_report_the_rest() {
        let mut shop = Shop::default();
        shop.add_offer("A");
        let import = shop.import_stock("offer-sku;quantity\nA;7\nB;3\nA;-2\n", Utc::now());
        assert_eq!(shop.offers["A"].quantity, 7);
        assert_eq!((import.lines_in_success, import.lines_in_error), (1, 2));
        let report = import.error_report.unwrap();
        assert!(
            report.contains("\"3\";\"The offer with sku 'B' does not exist\""),
            "{report}"
        );
        assert!(report.contains("\"4\";"), "{report}");
    }

    #[test]
    fn an_offer_update_resets_the_fields_it_does_not_send() {
        let mut shop = Shop::default();
        let update = |fields: serde_json::Value| OfferUpdate {
            sku: "A".into(),
            price: Decimal::new(999, 2),
            fields: fields.as_object().cloned().unwrap_or_default(),
        };
        let (_, resets) = shop.update_offers(
            &[update(
                serde_json::json!({"shop_sku": "A", "quantity": 5, "leadtime_to_ship": 2}),
            )],
            true,
        );
        assert!(resets.is_empty(), "a new offer resets nothing");
        assert_eq!(shop.offers["A"].quantity, 5);
        let (_, excused) =
            shop.update_offers(&[update(serde_json::json!({"shop_sku": "A"}))], false);
        assert_eq!(
            shop.offers["A"].quantity, 5,
            "an excused deviation resets nothing"
        );
        let (_, resets) = shop.update_offers(&[update(serde_json::json!({"shop_sku": "A"}))], true);
        assert_eq!(resets, excused, "the same fields are reported either way");
        assert_eq!(
            resets,
            vec![(
                "A".to_string(),
                vec!["quantity".to_string(), "leadtime_to_ship".to_string()]
            )]
        );
        assert_eq!(
            shop.offers["A"].quantity, 0,
            "quantity not sent is set to 0"
        );
        assert!(shop.offers["A"].fields.is_empty());
        assert_eq!(shop.offers["A"].price, Some(Decimal::new(999, 2)));
    }
}
