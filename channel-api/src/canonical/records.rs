//! The canonical records.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::ids::{CorrelationId, MarketplaceName, OrderId, Sku};
use super::money::{Currency, Money};

/// Stock of one SKU that the ERP can sell, in total and per location.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct InventoryPosition {
    pub correlation_id: CorrelationId,
    pub sku: Sku,
    /// Sellable units over every location (on hand minus reserved).
    pub available: i64,
    /// Sellable units per location; a channel's inventory policy may count only some of them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub locations: Vec<LocationStock>,
    /// When the ERP recorded this position (UTC). Older positions never overwrite newer ones.
    pub as_of: DateTime<Utc>,
}

/// Sellable units at one location.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct LocationStock {
    pub location: String,
    pub available: i64,
}

/// The selling price of one SKU.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Price {
    pub correlation_id: CorrelationId,
    pub sku: Sku,
    pub price: Money,
    /// A temporary lower price, with its validity.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sale: Option<SalePrice>,
    pub as_of: DateTime<Utc>,
}

/// A sale price valid between two instants.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SalePrice {
    pub price: Money,
    pub starts_at: DateTime<Utc>,
    pub ends_at: DateTime<Utc>,
}

/// Product content for a channel listing.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Product {
    pub correlation_id: CorrelationId,
    pub sku: Sku,
    pub title: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub brand: Option<String>,
    /// GTIN (UPC, EAN, ISBN) when the product has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gtin: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub bullet_points: Vec<String>,
    /// Image URLs, main image first.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub images: Vec<String>,
    /// Further attributes (colour, size, material), mapped to the channel's attribute names by the mapping.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub attributes: BTreeMap<String, String>,
    pub as_of: DateTime<Utc>,
}

/// An order placed on a channel.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Order {
    pub correlation_id: CorrelationId,
    pub marketplace: MarketplaceName,
    pub order_id: OrderId,
    /// Increases each time the channel changes the order; part of its message id, so a re-polled unchanged
    /// order is dropped by JetStream's de-duplication while a changed one passes.
    pub revision: u32,
    pub status: OrderStatus,
    pub placed_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub buyer: Buyer,
    pub ship_to: Address,
    pub lines: Vec<OrderLine>,
    pub totals: OrderTotals,
    pub fulfilment: Fulfilment,
    /// Added by the order process before the ERP: customer account, tax code, warehouse allocation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enrichment: Option<OrderEnrichment>,
}

/// Where an order stands on its channel.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub enum OrderStatus {
    Pending,
    Unshipped,
    PartiallyShipped,
    Shipped,
    Cancelled,
}

/// The buyer, as much as the channel discloses.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Buyer {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone: Option<String>,
}

/// A postal address.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Address {
    pub name: String,
    pub line1: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub line2: Option<String>,
    pub city: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    pub postal_code: String,
    /// ISO 3166-1 alpha-2.
    #[schemars(regex(pattern = "^[A-Z]{2}$"))]
    pub country: String,
}

/// One line of an order.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct OrderLine {
    /// The channel's id of the line (Amazon order item id, Walmart line number).
    pub line_id: String,
    pub sku: Sku,
    pub quantity: i64,
    pub unit_price: Money,
    /// Tax on the whole line.
    pub tax: Money,
    /// Discount on the whole line, as a positive amount.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub discount: Option<Money>,
}

/// An order's totals, as the channel states them.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct OrderTotals {
    /// Sum of quantity × unit price over the lines.
    pub subtotal: Money,
    pub shipping: Money,
    pub tax: Money,
    /// Sum of discounts, as a positive amount.
    pub discount: Money,
    /// subtotal + shipping + tax - discount.
    pub total: Money,
}

/// Who ships an order, and by when.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Fulfilment {
    pub by: FulfilledBy,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_level: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ship_by: Option<DateTime<Utc>>,
}

/// Who ships.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub enum FulfilledBy {
    /// The seller (from the ERP's warehouses): the shipments flow confirms it.
    Merchant,
    /// The marketplace (FBA, WFS): nothing to ship.
    Marketplace,
}

/// What the order process adds for the ERP.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct OrderEnrichment {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub erp_customer_account: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tax_code: Option<String>,
    /// Warehouse per line id.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub allocation: BTreeMap<String, String>,
}

/// The ERP's answer to an order, sent back to the channel where it wants one.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct OrderAcknowledgement {
    pub correlation_id: CorrelationId,
    pub marketplace: MarketplaceName,
    pub order_id: OrderId,
    pub outcome: AcknowledgementOutcome,
    pub at: DateTime<Utc>,
}

/// Accepted with the ERP's sales-order number, or rejected with a reason.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", tag = "kind")]
pub enum AcknowledgementOutcome {
    Accepted { erp_order_number: String },
    Rejected { reason: String },
}

/// A cancellation of some or all of an order's lines, by the buyer, the seller or the channel.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct OrderCancellation {
    pub correlation_id: CorrelationId,
    pub marketplace: MarketplaceName,
    pub order_id: OrderId,
    pub requested_by: CancelledBy,
    /// Lines cancelled; empty means the whole order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub lines: Vec<LineQuantity>,
    pub reason: String,
    pub at: DateTime<Utc>,
}

/// Who cancelled.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub enum CancelledBy {
    Buyer,
    Seller,
    Marketplace,
}

/// A quantity of one order line.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct LineQuantity {
    pub line_id: String,
    pub sku: Sku,
    pub quantity: i64,
}

/// A package shipped for an order.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Shipment {
    pub correlation_id: CorrelationId,
    pub marketplace: MarketplaceName,
    pub order_id: OrderId,
    /// The ERP's id of the package: shipping it twice is shipping it once.
    pub shipment_id: String,
    /// The ERP's carrier code; the mapping's value map turns it into the channel's.
    pub carrier: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service: Option<String>,
    pub tracking_number: String,
    pub shipped_at: DateTime<Utc>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ship_from_location: Option<String>,
    pub lines: Vec<LineQuantity>,
}

/// An invoice the ERP issued for a channel order (EDI 810 for trading partners that are invoiced).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Invoice {
    pub correlation_id: CorrelationId,
    pub marketplace: MarketplaceName,
    /// The channel order (the partner's purchase order) invoiced.
    pub order_id: OrderId,
    /// The ERP's invoice number: invoicing it twice is invoicing it once.
    pub invoice_number: String,
    pub invoice_date: DateTime<Utc>,
    pub lines: Vec<InvoiceLine>,
    /// Amount due: the sum of quantity × unit price over the lines.
    pub total: Money,
}

/// One invoiced line.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct InvoiceLine {
    /// The order line invoiced (the purchase order's line number).
    pub line_id: String,
    pub sku: Sku,
    pub quantity: i64,
    pub unit_price: Money,
}

/// A return of some of an order's lines.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Return {
    pub correlation_id: CorrelationId,
    pub marketplace: MarketplaceName,
    pub order_id: OrderId,
    pub return_id: String,
    pub status: ReturnStatus,
    pub lines: Vec<ReturnLine>,
    /// Refunded to the buyer, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refund: Option<Money>,
    pub created_at: DateTime<Utc>,
}

/// Where a return stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub enum ReturnStatus {
    Requested,
    Authorized,
    Received,
    Refunded,
    Rejected,
}

/// One returned line.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ReturnLine {
    pub line_id: String,
    pub sku: Sku,
    pub quantity: i64,
    pub reason: String,
}

/// A settlement (payout) period of a channel, line by line.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Settlement {
    pub correlation_id: CorrelationId,
    pub marketplace: MarketplaceName,
    pub settlement_id: String,
    pub period_start: DateTime<Utc>,
    pub period_end: DateTime<Utc>,
    pub currency: Currency,
    /// Paid out for the period: the sum of the lines.
    pub total: Money,
    pub lines: Vec<SettlementLine>,
}

/// One amount of a settlement.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SettlementLine {
    pub kind: SettlementLineKind,
    /// The order it belongs to; absent for account-level amounts (subscription fees, reserves).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub order_id: Option<OrderId>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sku: Option<Sku>,
    /// Positive when paid to the seller, negative when charged.
    pub amount: Money,
    pub description: String,
    pub posted_at: DateTime<Utc>,
}

/// What a settlement amount is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub enum SettlementLineKind {
    Sale,
    Shipping,
    Tax,
    Fee,
    Refund,
    Adjustment,
    Reserve,
}

/// Every canonical record, tagged by its type: the payload of a CloudEvent.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "type", content = "data", rename_all = "camelCase")]
pub enum Record {
    Inventory(InventoryPosition),
    Price(Price),
    Product(Product),
    Order(Box<Order>),
    OrderAcknowledgement(OrderAcknowledgement),
    OrderCancellation(OrderCancellation),
    Shipment(Shipment),
    Return(Return),
    Settlement(Settlement),
    Invoice(Invoice),
}

impl Record {
    /// The correlation id every record carries.
    pub fn correlation_id(&self) -> &CorrelationId {
        match self {
            Record::Inventory(r) => &r.correlation_id,
            Record::Price(r) => &r.correlation_id,
            Record::Product(r) => &r.correlation_id,
            Record::Order(r) => &r.correlation_id,
            Record::OrderAcknowledgement(r) => &r.correlation_id,
            Record::OrderCancellation(r) => &r.correlation_id,
            Record::Shipment(r) => &r.correlation_id,
            Record::Return(r) => &r.correlation_id,
            Record::Settlement(r) => &r.correlation_id,
            Record::Invoice(r) => &r.correlation_id,
        }
    }

    /// The CloudEvents `type` of this record, e.g. `dev.tradewind.inventory.v1`.
    pub fn event_type(&self) -> &'static str {
        match self {
            Record::Inventory(_) => "dev.tradewind.inventory.v1",
            Record::Price(_) => "dev.tradewind.price.v1",
            Record::Product(_) => "dev.tradewind.product.v1",
            Record::Order(_) => "dev.tradewind.order.v1",
            Record::OrderAcknowledgement(_) => "dev.tradewind.order-acknowledgement.v1",
            Record::OrderCancellation(_) => "dev.tradewind.order-cancellation.v1",
            Record::Shipment(_) => "dev.tradewind.shipment.v1",
            Record::Return(_) => "dev.tradewind.return.v1",
            Record::Settlement(_) => "dev.tradewind.settlement.v1",
            Record::Invoice(_) => "dev.tradewind.invoice.v1",
        }
    }
}
