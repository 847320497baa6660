//! The Admin GraphQL documents the connector sends, the cost it expects each to be charged, and the reading of
//! answers: `data`, `errors` (THROTTLED or not), `extensions.cost.throttleStatus`, `userErrors`. Pure.

use channel_api::resilience::ServerHint;
use serde_json::Value;

/// The Admin API version, in one place: every call goes to `/admin/api/<API_VERSION>/graphql.json`.
pub const API_VERSION: &str = "2025-01";
/// The crds catalogue's one Shopify operation: every call is paced by its bucket, in cost points.
pub const OPERATION: &str = "graphql";
/// Shopify's largest input arrays (inventorySetQuantities quantities, productVariantsBulkUpdate variants).
pub const MAX_INPUT: usize = 250;
/// Orders per page.
pub const ORDERS_PAGE: u32 = 50;

pub fn path() -> String {
    format!("/admin/api/{API_VERSION}/graphql.json")
}

pub const VARIANTS_BY_SKU: &str = "query VariantsBySku($first: Int!, $query: String!) {
  productVariants(first: $first, query: $query) {
    nodes { id sku price product { id }
      inventoryItem { id inventoryLevels(first: 1) { nodes { location { id } quantities(names: [\"available\"]) { name quantity } } } } }
  }
}";

pub const SET_QUANTITIES: &str = "mutation SetQuantities($input: InventorySetQuantitiesInput!) {
  inventorySetQuantities(input: $input) {
    inventoryAdjustmentGroup { reason changes { name delta } }
    userErrors { field message code }
  }
}";

pub const BULK_UPDATE: &str = "mutation BulkPrices($productId: ID!, $variants: [ProductVariantsBulkInput!]!, $allowPartialUpdates: Boolean) {
  productVariantsBulkUpdate(productId: $productId, variants: $variants, allowPartialUpdates: $allowPartialUpdates) {
    productVariants { id price }
    userErrors { field message code }
  }
}";

pub const ORDERS: &str = "query Orders($first: Int!, $after: String, $query: String) {
  orders(first: $first, after: $after, query: $query, sortKey: UPDATED_AT) {
    pageInfo { hasNextPage endCursor }
    nodes { id name createdAt updatedAt cancelledAt currencyCode email displayFulfillmentStatus
      customer { displayName }
      shippingAddress { name address1 address2 city provinceCode zip countryCodeV2 phone }
      subtotalPriceSet { shopMoney { amount currencyCode } }
      totalShippingPriceSet { shopMoney { amount currencyCode } }
      totalTaxSet { shopMoney { amount currencyCode } }
      totalDiscountsSet { shopMoney { amount currencyCode } }
      totalPriceSet { shopMoney { amount currencyCode } }
      lineItems(first: 20) { nodes { id sku quantity originalUnitPriceSet { shopMoney { amount currencyCode } }
        taxLines { priceSet { shopMoney { amount } } } } } }
  }
}";

pub const FULFILLMENT_ORDERS: &str = "query FulfillmentOrders($id: ID!, $first: Int!) {
  order(id: $id) { id fulfillmentOrders(first: $first) { nodes { id status } } }
}";

pub const FULFILLMENT_CREATE: &str = "mutation Fulfil($fulfillment: FulfillmentInput!) {
  fulfillmentCreate(fulfillment: $fulfillment) {
    fulfillment { id status trackingInfo { company number url } }
    userErrors { field message }
  }
}";

pub const ORDER_CANCEL: &str = "mutation Cancel($orderId: ID!, $reason: OrderCancelReason!, $refund: Boolean!, $restock: Boolean!) {
  orderCancel(orderId: $orderId, reason: $reason, refund: $refund, restock: $restock) {
    job { id }
    orderCancelUserErrors { field message code }
  }
}";

/// The points Shopify charges (requested cost): mutations 10; a connection 2 plus its nodes, each order
/// carrying its line items (20, a point per 10).
pub fn cost_of_mutation() -> u32 {
    10
}

pub fn cost_of_connection(first: u32, nested_first: u32) -> u32 {
    2 + first * (1 + nested_first.div_ceil(10))
}

/// What an answer says.
#[derive(Debug, PartialEq)]
pub enum Answer {
    Data(Value),
    /// `errors[].extensions.code == "THROTTLED"`.
    Throttled,
    /// Other top-level errors: the query itself is wrong, asking again cannot help.
    Errors(String),
}

pub fn read_answer(body: &Value) -> Answer {
    if let Some(errors) = body.get("errors") {
        let list = errors
            .as_array()
            .cloned()
            .unwrap_or_else(|| vec![errors.clone()]);
        if list
            .iter()
            .any(|e| e.pointer("/extensions/code").and_then(Value::as_str) == Some("THROTTLED"))
        {
            return Answer::Throttled;
        }
        let messages: Vec<String> = list
            .iter()
            .map(|e| {
                e.get("message")
                    .and_then(Value::as_str)
                    .map(str::to_string)
                    .unwrap_or_else(|| e.to_string())
            })
            .collect();
        return Answer::Errors(messages.join("; "));
    }
    match body.get("data") {
        Some(data) if !data.is_null() => Answer::Data(data.clone()),
        _ => Answer::Errors("the answer has neither data nor errors".into()),
    }
}

/// `extensions.cost.throttleStatus` as a hint (numbers rounded down to whole points).
pub fn throttle_hint(body: &Value) -> Option<ServerHint> {
    let status = body.pointer("/extensions/cost/throttleStatus")?;
    let whole = |field: &str| {
        let v = status.get(field)?;
        v.as_u64()
            .or_else(|| v.as_f64().filter(|f| *f >= 0.0).map(|f| f.floor() as u64))
    };
    Some(ServerHint::ShopifyThrottle {
        maximum_available: whole("maximumAvailable")?,
        currently_available: whole("currentlyAvailable")?,
        restore_rate: whole("restoreRate")?,
    })
}

/// One `userErrors` entry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UserError {
    pub field: Vec<String>,
    pub message: String,
    pub code: Option<String>,
}

impl UserError {
    /// The input array index the error names (`["input","quantities","3","quantity"]` -> 3 for `array`).
    pub fn index_in(&self, array: &str) -> Option<usize> {
        let at = self.field.iter().position(|f| f == array)?;
        self.field.get(at + 1)?.parse().ok()
    }

    pub fn describe(&self) -> String {
        match &self.code {
            Some(code) => format!(
                "Shopify: {} ({code}, field {})",
                self.message,
                self.field.join(".")
            ),
            None => format!("Shopify: {} (field {})", self.message, self.field.join(".")),
        }
    }
}

/// The `userErrors` (or `key`) list of a mutation payload.
pub fn user_errors(payload: &Value, key: &str) -> Vec<UserError> {
    payload
        .get(key)
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .map(|e| UserError {
            field: e
                .get("field")
                .and_then(Value::as_array)
                .map(|f| {
                    f.iter()
                        .map(|s| {
                            s.as_str()
                                .map(str::to_string)
                                .unwrap_or_else(|| s.to_string())
                        })
                        .collect()
                })
                .unwrap_or_default(),
            message: e
                .get("message")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string(),
            code: e.get("code").and_then(Value::as_str).map(str::to_string),
        })
        .collect()
}

/// A search query matching any of `skus` (`sku:"A" OR sku:"B"`), quotes escaped.
pub fn sku_query(skus: &[&str]) -> String {
    skus.iter()
        .map(|s| format!("sku:\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\"")))
        .collect::<Vec<_>>()
        .join(" OR ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn throttled_answers_and_hints_are_read() {
        let body = json!({"errors": [{"message": "Throttled", "extensions": {"code": "THROTTLED"}}],
            "extensions": {"cost": {"requestedQueryCost": 10, "throttleStatus":
                {"maximumAvailable": 1000.0, "currentlyAvailable": 3.5, "restoreRate": 50.0}}}});
        assert_eq!(read_answer(&body), Answer::Throttled);
        assert_eq!(
            throttle_hint(&body),
            Some(ServerHint::ShopifyThrottle {
                maximum_available: 1000,
                currently_available: 3,
                restore_rate: 50
            })
        );
    }

    #[test]
    fn user_errors_name_their_index() {
        let payload = json!({"userErrors": [{"field": ["input", "quantities", "2", "compareQuantity"],
            "message": "stale", "code": "COMPARE_QUANTITY_STALE"}]});
        let errors = user_errors(&payload, "userErrors");
        assert_eq!(errors[0].index_in("quantities"), Some(2));
        assert_eq!(errors[0].code.as_deref(), Some("COMPARE_QUANTITY_STALE"));
    }

    #[test]
    fn sku_queries_quote_each_sku() {
        assert_eq!(sku_query(&["A-1", "B\"2"]), "sku:\"A-1\" OR sku:\"B\\\"2\"");
    }
}
