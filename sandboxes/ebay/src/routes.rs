//! eBay's paths: the token endpoint, then Bearer-checked Sell API calls, each counted against its daily quota.
//! Errors have eBay's shape: `{"errors": [{"errorId", "domain", "category", "message"}]}`.

use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use base64::Engine;
use chrono::{DateTime, Utc};
use sandbox::{RecordedCall, body_value};
use serde_json::{Value, json};

use crate::{Account, Offer, Sandbox, ShippingFulfillment};

/// Most offers one bulk_update_price_quantity call revises, as most SKUs.
const BULK_MAX: usize = 25;

pub fn router(sandbox: Arc<Sandbox>) -> Router {
    Router::new()
        .route("/identity/v1/oauth2/token", post(token))
        .route(
            "/sell/inventory/v1/bulk_update_price_quantity",
            post(bulk_update),
        )
        .route("/sell/inventory/v1/offer", get(get_offers))
        .route("/sell/fulfillment/v1/order", get(get_orders))
        .route(
            "/sell/fulfillment/v1/order/{order_id}/shipping_fulfillment",
            post(create_fulfillment),
        )
        .route(
            "/sell/finances/v1/payout",
            get(crate::finances::get_payouts),
        )
        .route(
            "/sell/finances/v1/transaction",
            get(crate::finances::get_transactions),
        )
        .route("/_sandbox/payouts", post(crate::finances::close_payout))
        .route("/_sandbox/state", get(state))
        .with_state(sandbox)
}

async fn state(State(sandbox): State<Arc<Sandbox>>) -> Response {
    let account = json!(&*sandbox.account());
    axum::Json(account).into_response()
}

pub(crate) fn error(status: StatusCode, id: u32, domain: &str, message: &str) -> Response {
    (status, axum::Json(json!({"errors": [{"errorId": id, "domain": domain, "category": "REQUEST", "message": message}]})))
        .into_response()
}

pub(crate) fn record(
    sandbox: &Sandbox,
    operation: &str,
    method: &str,
    path: String,
    query: Option<String>,
    body: Value,
    response: Response,
) -> Response {
    sandbox.controls.recorder.record(RecordedCall {
        operation: operation.into(),
        method: method.into(),
        path,
        query,
        body,
        status: response.status().as_u16(),
        at: Utc::now(),
    });
    response
}

/// A form or query component, `+` and percent escapes decoded.
fn decode(s: &str) -> String {
    percent_encoding::percent_decode_str(&s.replace('+', " "))
        .decode_utf8_lossy()
        .into_owned()
}

fn form(body: &[u8]) -> Vec<(String, String)> {
    String::from_utf8_lossy(body)
        .split('&')
        .filter_map(|pair| pair.split_once('='))
        .map(|(k, v)| (decode(k), decode(v)))
        .collect()
}

/// The decoded value of query parameter `name`.
pub(crate) fn query_param(query: &str, name: &str) -> Option<String> {
    query
        .split('&')
        .filter_map(|pair| pair.split_once('='))
        .find(|(k, _)| decode(k) == name)
        .map(|(_, v)| decode(v))
}

async fn token(State(sandbox): State<Arc<Sandbox>>, headers: HeaderMap, body: Bytes) -> Response {
    let fields = form(&body);
    let field = |name: &str| {
        fields
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    };
    // The refresh token and credentials are never recorded: only the grant type.
    let recorded = json!({"grant_type": field("grant_type")});
    let expected = base64::engine::general_purpose::STANDARD.encode(format!(
        "{}:{}",
        sandbox.settings.client_id, sandbox.settings.client_secret
    ));
    let basic = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Basic "));
    let response = if basic != Some(expected.as_str()) {
        (StatusCode::UNAUTHORIZED, axum::Json(json!({"error": "invalid_client", "error_description": "client authentication failed"}))).into_response()
    } else if field("grant_type") != Some("refresh_token")
        || field("refresh_token") != Some(sandbox.settings.refresh_token.as_str())
    {
        (StatusCode::BAD_REQUEST, axum::Json(json!({"error": "invalid_grant", "error_description": "the provided authorization refresh token is invalid or was issued to another client"}))).into_response()
    } else {
        let mut account = sandbox.account();
        account.tokens_issued += 1;
        let token = format!("v^1.1#i^1#sandbox-{}", account.tokens_issued);
        account.tokens.push(token.clone());
        axum::Json(
            json!({"access_token": token, "expires_in": 7200, "token_type": "User Access Token"}),
        )
        .into_response()
    };
    record(
        &sandbox,
        "getToken",
        "POST",
        "/identity/v1/oauth2/token".into(),
        None,
        recorded,
        response,
    )
}

/// The bearer token, faults and the daily quota.
pub(crate) async fn admit(
    sandbox: &Sandbox,
    operation: &str,
    headers: &HeaderMap,
) -> Option<Response> {
    let bearer = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    if !bearer.is_some_and(|t| sandbox.account().tokens.iter().any(|k| k == t)) {
        return Some(error(
            StatusCode::UNAUTHORIZED,
            1001,
            "OAuth",
            "Invalid access token",
        ));
    }
    if let Some(fault) = sandbox.controls.faults.apply(operation).await {
        return Some(fault);
    }
    if !sandbox.count_call(operation) {
        return Some(error(
            StatusCode::TOO_MANY_REQUESTS,
            2001,
            "API_ACCESS",
            "Too many requests. The request limit has been reached for the resource.",
        ));
    }
    None
}

async fn bulk_update(
    State(sandbox): State<Arc<Sandbox>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let path = "/sell/inventory/v1/bulk_update_price_quantity".to_string();
    let recorded = body_value(&body);
    let op = "bulkUpdatePriceQuantity";
    if let Some(r) = admit(&sandbox, op, &headers).await {
        return record(&sandbox, op, "POST", path, None, recorded, r);
    }
    let requests = recorded
        .get("requests")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let offers: usize = requests
        .iter()
        .map(|r| {
            r.get("offers")
                .and_then(Value::as_array)
                .map_or(0, Vec::len)
        })
        .sum();
    if requests.is_empty() || requests.len() > BULK_MAX || offers > BULK_MAX {
        let r = error(
            StatusCode::BAD_REQUEST,
            25709,
            "API_INVENTORY",
            "Invalid value for requests: between 1 and 25 SKUs and at most 25 offers per call",
        );
        return record(&sandbox, op, "POST", path, None, recorded, r);
    }
    let mut responses = Vec::new();
    {
        let mut account = sandbox.account();
        let today = Utc::now().date_naive();
        for request in &requests {
            let sku = request.get("sku").and_then(Value::as_str);
            if let Some(sku) = sku
                && !revise(&mut account, sku, today)
            {
                responses.extend(revision_refused(request, sku));
                continue;
            }
            for offer in request
                .get("offers")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                responses.push(update_offer(&mut account, sku, offer));
            }
            if let Some(sku) = sku
                && let Some(availability) = request.get("shipToLocationAvailability")
            {
                responses.push(update_quantity(&mut account, sku, availability));
            }
        }
    }
    let status = if responses.iter().all(|r| r["statusCode"] == 200) {
        StatusCode::OK
    } else {
        StatusCode::MULTI_STATUS
    };
    let r = (status, axum::Json(json!({"responses": responses}))).into_response();
    record(&sandbox, op, "POST", path, None, recorded, r)
}

/// Counts one revision of `sku`'s listing today; false when the day's 250 are spent (nothing is counted).
fn revise(account: &mut Account, sku: &str, today: chrono::NaiveDate) -> bool {
    let count = account
        .revisions
        .entry((sku.to_string(), today))
        .or_insert(0);
    if *count >= crate::conformance::REVISIONS_PER_DAY_LIMIT {
        return false;
    }
    *count += 1;
    true
}

/// The answers to a request whose listing has no revision left today: each offer and the availability fail.
fn revision_refused(request: &Value, sku: &str) -> Vec<Value> {
    let message = format!(
        "Any User error. The listing of SKU {sku} was revised {} times today; eBay blocks its revisions until the next calendar day",
        crate::conformance::REVISIONS_PER_DAY_LIMIT
    );
    let offers = request
        .get("offers")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .map(|o| {
            let mut answer = failed(400, 25002, &message);
            answer["offerId"] = o.get("offerId").cloned().unwrap_or(Value::Null);
            answer["sku"] = json!(sku);
            answer
        });
    let availability = request.get("shipToLocationAvailability").map(|_| {
        let mut answer = failed(400, 25002, &message);
        answer["sku"] = json!(sku);
        answer
    });
    offers.chain(availability).collect()
}

fn failed(status: u16, id: u32, message: &str) -> Value {
    json!({"statusCode": status, "errors": [{"errorId": id, "domain": "API_INVENTORY", "category": "REQUEST", "message": message}]})
}

/// One `shipToLocationAvailability` of a request: the item's ship-to-home quantity.
fn update_quantity(account: &mut Account, sku: &str, availability: &Value) -> Value {
    let quantity = availability.get("quantity").and_then(Value::as_i64);
    let mut answer = match (account.listings.get_mut(sku), quantity) {
        (None, _) => failed(
            404,
            25702,
            &format!("SKU {sku} is not available in the system"),
        ),
        (Some(_), Some(q)) if q < 0 => {
            failed(400, 25604, "Input error. Quantity must not be negative.")
        }
        (Some(listing), q) => {
            if let Some(q) = q {
                listing.quantity = q;
            }
            json!({"statusCode": 200})
        }
    };
    answer["sku"] = json!(sku);
    answer
}

/// One entry of a request's `offers`: a published offer's price (an `Amount` in the offer's currency) and
/// quantity. The request's `sku`, when given, must be the offer's.
fn update_offer(account: &mut Account, sku: Option<&str>, update: &Value) -> Value {
    let offer_id = update.get("offerId").and_then(Value::as_str).unwrap_or("");
    let found = account.listings.values_mut().find_map(|l| {
        let sku = l.sku.clone();
        l.offers
            .iter_mut()
            .find(|o| o.offer_id == offer_id)
            .map(|o| (sku, o))
    });
    let mut answer = match found {
        None => failed(
            404,
            25713,
            &format!("This Offer is not available: offerId {offer_id}"),
        ),
        Some((owner, _)) if sku.is_some_and(|s| s != owner) => failed(
            400,
            25002,
            &format!(
                "offerId {offer_id} belongs to another SKU than {}",
                sku.unwrap_or("")
            ),
        ),
        Some((_, offer)) if !offer.published => failed(
            400,
            25002,
            "The offer is not published: use updateOffer for unpublished offers",
        ),
        Some((owner, offer)) => match price_of(offer, update.get("price")) {
            Err(message) => failed(400, 25709, &message),
            Ok(price) => {
                let quantity = update.get("availableQuantity").and_then(Value::as_i64);
                if price.is_none() && quantity.is_none() {
                    failed(
                        400,
                        25709,
                        "Invalid value for offers: price or availableQuantity is required",
                    )
                } else {
                    offer.price = price.or(offer.price);
                    offer.available_quantity = quantity.or(offer.available_quantity);
                    json!({"statusCode": 200, "sku": owner})
                }
            }
        },
    };
    answer["offerId"] = json!(offer_id);
    answer
}

/// The new price of `offer`, if the update has one: a positive decimal string in the offer's currency.
fn price_of(offer: &Offer, price: Option<&Value>) -> Result<Option<rust_decimal::Decimal>, String> {
    let Some(price) = price else {
        return Ok(None);
    };
    let currency = price.get("currency").and_then(Value::as_str);
    if currency != Some(offer.currency.as_str()) {
        return Err(format!(
            "Invalid value for price.currency: {currency:?}, the offer is in {}",
            offer.currency
        ));
    }
    match price
        .get("value")
        .and_then(Value::as_str)
        .map(str::parse::<rust_decimal::Decimal>)
    {
        Some(Ok(value)) if value > rust_decimal::Decimal::ZERO => Ok(Some(value)),
        _ => Err(format!(
            "Invalid value for price.value: {}",
            price.get("value").unwrap_or(&Value::Null)
        )),
    }
}

/// `getOffers`: the offers of the `sku` query parameter (optionally of one `format`), as
/// `EbayOfferDetailsWithAll`; an unknown SKU or one with no offer is 404 (errorId 25713).
async fn get_offers(
    State(sandbox): State<Arc<Sandbox>>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    let path = "/sell/inventory/v1/offer".to_string();
    let op = "getOffers";
    if let Some(r) = admit(&sandbox, op, &headers).await {
        return record(&sandbox, op, "GET", path, query, Value::Null, r);
    }
    let q = query.clone().unwrap_or_default();
    let param = |name: &str| query_param(&q, name);
    let Some(sku) = param("sku").filter(|s| !s.is_empty() && s.len() <= 50) else {
        let r = error(
            StatusCode::BAD_REQUEST,
            25709,
            "API_INVENTORY",
            "Invalid value for sku: a SKU of at most 50 characters is required",
        );
        return record(&sandbox, op, "GET", path, query, Value::Null, r);
    };
    let format = param("format");
    let offers: Vec<Value> = sandbox
        .listing(&sku)
        .map(|l| l.offers)
        .unwrap_or_default()
        .iter()
        .filter(|o| format.as_deref().is_none_or(|f| f == o.format))
        .map(|o| {
            let mut offer = json!({"offerId": o.offer_id, "sku": sku, "marketplaceId": o.marketplace_id,
                "format": o.format, "status": if o.published { "PUBLISHED" } else { "UNPUBLISHED" }});
            if let Some(price) = o.price {
                offer["pricingSummary"] =
                    json!({"price": {"value": price.to_string(), "currency": o.currency}});
            }
            if let Some(q) = o.available_quantity {
                offer["availableQuantity"] = json!(q);
            }
            offer
        })
        .collect();
    let r = if offers.is_empty() {
        error(
            StatusCode::NOT_FOUND,
            25713,
            "API_INVENTORY",
            &format!("This Offer is not available: SKU {sku} has no offer"),
        )
    } else {
        axum::Json(json!({"href": format!("{path}?{q}"), "limit": 100, "size": offers.len(), "total": offers.len(), "offers": offers}))
            .into_response()
    };
    record(&sandbox, op, "GET", path, query, Value::Null, r)
}

/// `filter=lastmodifieddate:[<from>..]` (the upper bound optional).
fn modified_since(query: &str) -> Option<DateTime<Utc>> {
    let filter = query_param(query, "filter")?;
    let range = filter
        .split(',')
        .find_map(|f| f.trim().strip_prefix("lastmodifieddate:["))?;
    let from = range.split("..").next()?;
    DateTime::parse_from_rfc3339(from)
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

async fn get_orders(
    State(sandbox): State<Arc<Sandbox>>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    let path = "/sell/fulfillment/v1/order".to_string();
    let op = "getOrders";
    if let Some(r) = admit(&sandbox, op, &headers).await {
        return record(&sandbox, op, "GET", path, query, Value::Null, r);
    }
    let q = query.clone().unwrap_or_default();
    let param = |name: &str| query_param(&q, name).and_then(|v| v.parse::<usize>().ok());
    let limit = param("limit").unwrap_or(50);
    if limit == 0 || limit > 200 {
        let r = error(
            StatusCode::BAD_REQUEST,
            30700,
            "API_FULFILLMENT",
            "The 'limit' value must be between 1 and 200",
        );
        return record(&sandbox, op, "GET", path, query, Value::Null, r);
    }
    let offset = param("offset").unwrap_or(0);
    // `orderIds` (at most 50) overrides the filter, as on eBay.
    let ids: Option<Vec<String>> =
        query_param(&q, "orderIds").map(|v| v.split(',').map(|s| s.trim().to_string()).collect());
    if ids.as_ref().is_some_and(|ids| ids.len() > 50) {
        let r = error(
            StatusCode::BAD_REQUEST,
            30800,
            "API_FULFILLMENT",
            "The 'orderIds' value is invalid: at most 50 order ids",
        );
        return record(&sandbox, op, "GET", path, query, Value::Null, r);
    }
    let since = modified_since(&q).filter(|_| ids.is_none());
    let account = sandbox.account();
    let mut selected: Vec<_> = account
        .orders
        .iter()
        .filter(|o| since.is_none_or(|t| o.last_modified_date >= t))
        .filter(|o| ids.as_ref().is_none_or(|ids| ids.contains(&o.order_id)))
        .collect();
    selected.sort_by(|a, b| {
        (a.last_modified_date, &a.order_id).cmp(&(b.last_modified_date, &b.order_id))
    });
    let orders: Vec<Value> = selected
        .iter()
        .skip(offset)
        .take(limit)
        .map(|o| {
            let total = o.subtotal();
            let amount = |v: rust_decimal::Decimal| json!({"value": v.to_string(), "currency": o.currency});
            json!({
                "orderId": o.order_id, "creationDate": o.creation_date.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
                "lastModifiedDate": o.last_modified_date.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
                "orderFulfillmentStatus": if o.fulfilled { "FULFILLED" } else { "NOT_STARTED" },
                "orderPaymentStatus": "PAID",
                "buyer": {"username": "buyer_one", "buyerRegistrationAddress": {"fullName": "Sam Buyer", "email": "sam@example.com"}},
                "pricingSummary": {"priceSubtotal": amount(total), "deliveryCost": amount(crate::DELIVERY_COST),
                    "tax": amount(rust_decimal::Decimal::ZERO), "total": amount(o.total())},
                "fulfillmentStartInstructions": [{"shippingStep": {"shipTo": {"fullName": "Sam Buyer", "contactAddress": {
                    "addressLine1": "2145 Hamilton Ave", "city": "San Jose", "stateOrProvince": "CA", "postalCode": "95125", "countryCode": "US"}}}}],
                "lineItems": o.lines.iter().map(|l| json!({"lineItemId": l.line_item_id, "sku": l.sku, "quantity": l.quantity,
                    "lineItemCost": amount(l.unit_price * rust_decimal::Decimal::from(l.quantity)), "lineItemFulfillmentStatus": if o.fulfilled { "FULFILLED" } else { "NOT_STARTED" }})).collect::<Vec<_>>(),
            })
        })
        .collect();
    let next = (offset + orders.len() < selected.len())
        .then(|| format!("{path}?limit={limit}&offset={}", offset + orders.len()));
    let mut page = json!({"href": path, "limit": limit, "offset": offset, "total": selected.len(), "orders": orders});
    // `next` is a string (OrderSearchPagedCollection): left out on the last page, never null.
    if let Some(next) = next {
        page["next"] = json!(next);
    }
    let r = axum::Json(page).into_response();
    drop(account);
    record(&sandbox, op, "GET", path, query, Value::Null, r)
}

async fn create_fulfillment(
    State(sandbox): State<Arc<Sandbox>>,
    Path(order_id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let path = format!("/sell/fulfillment/v1/order/{order_id}/shipping_fulfillment");
    let recorded = body_value(&body);
    let op = "createShippingFulfillment";
    if let Some(r) = admit(&sandbox, op, &headers).await {
        return record(&sandbox, op, "POST", path, None, recorded, r);
    }
    let text = |f: &str| recorded.get(f).and_then(Value::as_str).map(str::to_string);
    let lines: Vec<(String, i64)> = recorded
        .get("lineItems")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|l| {
            Some((
                l.get("lineItemId")?.as_str()?.to_string(),
                l.get("quantity")?.as_i64()?,
            ))
        })
        .collect();
    if text("shippingCarrierCode").is_some() != text("trackingNumber").is_some() {
        sandbox.controls.conformance.request_violation(
            sandbox::CallRef {
                operation: op,
                method: "POST",
                path: &path,
                query: None,
            },
            400,
            sandbox::Violation::of(
                crate::conformance::CARRIER_WITH_TRACKING,
                "body",
                "trackingNumber and shippingCarrierCode are mutually dependent: one was sent without the other",
            ),
        );
    }
    let mut account = sandbox.account();
    let next = account.fulfillments.len() + 1;
    let r = match account.orders.iter_mut().find(|o| o.order_id == order_id) {
        None => error(
            StatusCode::NOT_FOUND,
            32100,
            "API_FULFILLMENT",
            &format!("Order {order_id} not found"),
        ),
        Some(_) if lines.is_empty() => error(
            StatusCode::BAD_REQUEST,
            32200,
            "API_FULFILLMENT",
            "lineItems: at least one line item is required",
        ),
        Some(order)
            if lines
                .iter()
                .any(|(id, _)| !order.lines.iter().any(|l| &l.line_item_id == id)) =>
        {
            error(
                StatusCode::BAD_REQUEST,
                32300,
                "API_FULFILLMENT",
                "lineItems.lineItemId: a line item does not belong to the order",
            )
        }
        Some(order) => match (text("shippingCarrierCode"), text("trackingNumber")) {
            (Some(carrier), Some(tracking)) => {
                order.fulfilled = true;
                order.last_modified_date = Utc::now();
                let id = format!("FUL-{next}");
                account.fulfillments.push(ShippingFulfillment {
                    fulfillment_id: id.clone(),
                    order_id: order_id.clone(),
                    carrier,
                    tracking_number: tracking,
                    line_items: lines,
                });
                let mut r = (StatusCode::CREATED, axum::Json(json!({}))).into_response();
                if let Ok(v) = header::HeaderValue::from_str(&format!("{path}/{id}")) {
                    r.headers_mut().insert(header::LOCATION, v);
                }
                r
            }
            _ => error(
                StatusCode::BAD_REQUEST,
                32400,
                "API_FULFILLMENT",
                "shippingCarrierCode and trackingNumber are required",
            ),
        },
    };
    drop(account);
    record(&sandbox, op, "POST", path, None, recorded, r)
}
