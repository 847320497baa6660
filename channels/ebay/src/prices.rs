//! Prices on eBay, pure parts. eBay keeps an item's price on its offers, not on the inventory item: a price goes
//! out as `bulk_update_price_quantity` `requests[{sku, offers[{offerId, price: {value, currency}}]}]`, so each
//! SKU's offer ids are looked up first (`getOffers?sku=..&format=FIXED_PRICE`) and cached. Only published
//! fixed-price offers are priced: `bulk_update_price_quantity` revises live listings only (unpublished offers
//! take `updateOffer`), and an auction's price is its bids.

use rust_decimal::Decimal;
use serde_json::{Value, json};

use channel_api::connector::OutboundItem;

/// Most offers one `bulk_update_price_quantity` call revises ("up to 25 offers"), as most SKUs.
pub const MAX_OFFERS: usize = 25;

/// An offer of a SKU the connector can price, as `getOffers` described it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KnownOffer {
    pub offer_id: String,
    /// The currency of the offer's current price, when it has one: a price in another currency is refused
    /// before it is sent.
    pub currency: Option<String>,
}

/// The price one item asks for: a positive decimal in an ISO currency.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Wanted {
    pub value: Decimal,
    pub currency: String,
}

/// The price of `item`: the mapped `offers.price` (an eBay Amount, `{value, currency}`), else the canonical
/// record's `price` (Money, `{amount, currency}`).
pub fn wanted(item: &OutboundItem) -> Result<Wanted, String> {
    let mapped = item.fields.pointer("/offers/price").or_else(|| {
        // A mapping that renders `offers` as a list (one entry per offer) gives the same price to each.
        item.fields.pointer("/offers/0/price")
    });
    let (amount, currency, field) = match mapped {
        Some(price) => (price.get("value"), price.get("currency"), "offers.price"),
        None => {
            let price = item.record.get("price");
            (
                price.and_then(|p| p.get("amount")),
                price.and_then(|p| p.get("currency")),
                "price",
            )
        }
    };
    let value = match amount {
        Some(Value::String(s)) => s
            .parse::<Decimal>()
            .map_err(|e| format!("field {field} value {s:?}: {e}"))?,
        // A mapping expression may compute a number; its text is parsed, never a float.
        Some(Value::Number(n)) => n
            .to_string()
            .parse::<Decimal>()
            .map_err(|e| format!("field {field} value {n}: {e}"))?,
        Some(other) => {
            return Err(format!(
                "field {field} value must be a decimal string, got {other}"
            ));
        }
        None => return Err(format!("field {field} is missing")),
    };
    if value <= Decimal::ZERO {
        return Err(format!("field {field} value {value} must be above zero"));
    }
    let currency = currency
        .and_then(Value::as_str)
        .filter(|c| c.len() == 3 && c.bytes().all(|b| b.is_ascii_uppercase()))
        .ok_or_else(|| {
            format!(
                "field {field} currency {} is not an ISO 4217 code",
                currency.unwrap_or(&Value::Null)
            )
        })?;
    Ok(Wanted {
        value,
        currency: currency.to_string(),
    })
}

/// The offers of a `getOffers` answer that `bulk_update_price_quantity` can price: published, fixed-price.
pub fn priceable_offers(answer: &Value) -> Vec<KnownOffer> {
    answer
        .get("offers")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter(|o| {
            o.get("status").and_then(Value::as_str) == Some("PUBLISHED")
                && o.get("format").and_then(Value::as_str) == Some("FIXED_PRICE")
        })
        .filter_map(|o| {
            Some(KnownOffer {
                offer_id: o.get("offerId")?.as_str()?.to_string(),
                currency: o
                    .pointer("/pricingSummary/price/currency")
                    .and_then(Value::as_str)
                    .map(str::to_string),
            })
        })
        .collect()
}

/// A SKU ready to be priced: the item's index, its offers and its price.
#[derive(Clone, Debug)]
pub struct Ready<'a> {
    pub index: usize,
    pub sku: &'a str,
    pub offers: Vec<KnownOffer>,
    pub price: Wanted,
}

/// One `PriceQuantity` request: the SKU (so eBay checks each offer is the SKU's, which catches a stale cache)
/// and its offers at the new price.
pub fn request(ready: &Ready) -> Value {
    let price = json!({"value": ready.price.value.to_string(), "currency": ready.price.currency});
    json!({"sku": ready.sku, "offers": ready.offers.iter()
        .map(|o| json!({"offerId": o.offer_id, "price": price}))
        .collect::<Vec<_>>()})
}

/// `ready` in calls of at most [`MAX_OFFERS`] offers (so at most 25 SKUs), in order.
pub fn calls<'r, 'a>(ready: &'r [Ready<'a>]) -> Vec<&'r [Ready<'a>]> {
    let mut calls = Vec::new();
    let (mut start, mut offers) = (0, 0);
    for (i, r) in ready.iter().enumerate() {
        if i > start && offers + r.offers.len() > MAX_OFFERS {
            calls.push(&ready[start..i]);
            (start, offers) = (i, 0);
        }
        offers += r.offers.len();
    }
    if start < ready.len() {
        calls.push(&ready[start..]);
    }
    calls
}

/// How one SKU's offers fared in a `bulk_update_price_quantity` answer's `responses`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    Priced,
    /// An offer is gone (withdrawn, or the SKU relisted under a new offer): look the offers up again.
    Stale(String),
    Refused(String),
    /// eBay said nothing of an offer.
    Unanswered(String),
}

pub fn outcome(
    ready: &Ready,
    responses: &[Value],
    messages: impl Fn(Option<&Value>) -> String,
) -> Outcome {
    for offer in &ready.offers {
        let answer = responses
            .iter()
            .find(|r| r.get("offerId").and_then(Value::as_str) == Some(offer.offer_id.as_str()));
        let Some(answer) = answer else {
            return Outcome::Unanswered(format!(
                "SKU {}: no status for offer {} in eBay's answer",
                ready.sku, offer.offer_id
            ));
        };
        match answer.get("statusCode").and_then(Value::as_u64) {
            Some(200) => {}
            Some(404) => {
                return Outcome::Stale(format!(
                    "SKU {}: offer {} is no longer on eBay: {}",
                    ready.sku,
                    offer.offer_id,
                    messages(answer.get("errors"))
                ));
            }
            status => {
                return Outcome::Refused(format!(
                    "SKU {}: offer {}: status {}: {}",
                    ready.sku,
                    offer.offer_id,
                    status.map_or("none".to_string(), |s| s.to_string()),
                    messages(answer.get("errors"))
                ));
            }
        }
    }
    Outcome::Priced
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item(fields: Value, record: Value) -> OutboundItem {
        OutboundItem {
            key: "SKU-1".into(),
            correlation_id: "erp:price:SKU-1".try_into().unwrap(),
            fields,
            record,
        }
    }

    fn offer(id: &str) -> KnownOffer {
        KnownOffer {
            offer_id: id.into(),
            currency: None,
        }
    }

    #[test]
    fn the_price_comes_from_the_mapping_or_the_record() {
        let record = json!({"price": {"amount": "19.99", "currency": "USD"}});
        assert_eq!(
            wanted(&item(json!({}), record.clone())).unwrap(),
            Wanted {
                value: Decimal::new(1999, 2),
                currency: "USD".into()
            }
        );
        let mapped = json!({"offers": {"price": {"value": "17.50", "currency": "GBP"}}});
        assert_eq!(
            wanted(&item(mapped, record)).unwrap().value,
            Decimal::new(1750, 2)
        );
        let bad = |fields: Value| wanted(&item(fields, json!({}))).unwrap_err();
        assert_eq!(bad(json!({})), "field price is missing");
        assert!(
            bad(json!({"offers": {"price": {"value": "0", "currency": "USD"}}}))
                .contains("above zero")
        );
        assert!(
            bad(json!({"offers": {"price": {"value": "1", "currency": "usd"}}}))
                .contains("\"usd\"")
        );
        assert!(
            bad(json!({"offers": {"price": {"value": "1,5", "currency": "USD"}}}))
                .contains("\"1,5\"")
        );
    }

    #[test]
    fn only_published_fixed_price_offers_are_priced() {
        let answer = json!({"offers": [
            {"offerId": "1", "format": "FIXED_PRICE", "status": "PUBLISHED", "pricingSummary": {"price": {"value": "5", "currency": "USD"}}},
            {"offerId": "2", "format": "AUCTION", "status": "PUBLISHED"},
            {"offerId": "3", "format": "FIXED_PRICE", "status": "UNPUBLISHED"}]});
        assert_eq!(
            priceable_offers(&answer),
            vec![KnownOffer {
                offer_id: "1".into(),
                currency: Some("USD".into())
            }]
        );
    }

    #[test]
    fn calls_carry_at_most_25_offers_and_requests_name_sku_and_offers() {
        let price = Wanted {
            value: Decimal::new(1000, 2),
            currency: "USD".into(),
        };
        let skus: Vec<String> = (0..30).map(|i| format!("S{i}")).collect();
        let ready: Vec<Ready> = skus
            .iter()
            .enumerate()
            .map(|(i, s)| Ready {
                index: i,
                sku: s,
                offers: if i == 3 {
                    vec![offer("a"), offer("b")]
                } else {
                    vec![offer(s)]
                },
                price: price.clone(),
            })
            .collect();
        let calls = calls(&ready);
        assert_eq!(
            calls.iter().map(|c| c.len()).collect::<Vec<_>>(),
            vec![24, 6]
        );
        assert_eq!(
            request(&ready[3]),
            json!({"sku": "S3", "offers": [
                {"offerId": "a", "price": {"value": "10.00", "currency": "USD"}},
                {"offerId": "b", "price": {"value": "10.00", "currency": "USD"}}]})
        );
    }

    #[test]
    fn each_offer_answer_decides_the_sku() {
        let ready = Ready {
            index: 0,
            sku: "S",
            offers: vec![offer("a"), offer("b")],
            price: Wanted {
                value: Decimal::ONE,
                currency: "USD".into(),
            },
        };
        let messages = |_: Option<&Value>| "why".to_string();
        let ok = json!({"offerId": "a", "statusCode": 200});
        let answers = [ok.clone(), json!({"offerId": "b", "statusCode": 200})];
        assert_eq!(outcome(&ready, &answers, messages), Outcome::Priced);
        let gone = [ok.clone(), json!({"offerId": "b", "statusCode": 404})];
        assert!(matches!(
            outcome(&ready, &gone, messages),
            Outcome::Stale(_)
        ));
        let refused = [ok.clone(), json!({"offerId": "b", "statusCode": 400})];
        assert_eq!(
            outcome(&ready, &refused, messages),
            Outcome::Refused("SKU S: offer b: status 400: why".into())
        );
        assert!(matches!(
            outcome(&ready, &[ok], messages),
            Outcome::Unanswered(_)
        ));
    }
}
