//! Bulk feeds: the feed files (inventory 1.4, price 1.7, MP_ITEM 4.2 JSON), the `multipart/form-data` upload
//! Walmart's `POST /v3/feeds` takes, and the feed status (`GET /v3/feeds/{feedId}?includeDetails=true`) read
//! back into one outcome per item with Walmart's own error text. Pure.

use serde_json::{Value, json};

/// Walmart's feed types, with the operation (crds catalogue) that submits them and the most bytes a file
/// may hold.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FeedKind {
    Inventory,
    Price,
    Item,
}

impl FeedKind {
    /// The `feedType` query parameter.
    pub fn feed_type(self) -> &'static str {
        match self {
            FeedKind::Inventory => "inventory",
            FeedKind::Price => "price",
            FeedKind::Item => "MP_ITEM",
        }
    }

    /// The operation in crds' catalogue whose limit the submission takes.
    pub fn operation(self) -> &'static str {
        match self {
            FeedKind::Inventory => "bulkInventoryFeed",
            FeedKind::Price => "priceBulkUploads",
            FeedKind::Item => "itemFeed",
        }
    }

    /// Most bytes of one file: 5 MB for the inventory feed (Walmart's published limit), and the same for price
    /// and item feeds (Walmart documents larger item files, but smaller ones are processed sooner).
    pub fn max_bytes(self) -> usize {
        5_000_000
    }

    /// The feed file around its elements.
    pub fn file(self, elements: Vec<Value>) -> Value {
        match self {
            FeedKind::Inventory => {
                json!({"InventoryHeader": {"version": "1.4"}, "Inventory": elements})
            }
            FeedKind::Price => json!({"PriceHeader": {"version": "1.7"}, "Price": elements}),
            FeedKind::Item => json!({
                "MPItemFeedHeader": {"version": "4.2", "sellingChannel": "marketplace", "processMode": "REPLACE",
                    "subset": "EXTERNAL", "locale": "en", "mart": "WALMART_US"},
                "MPItem": elements,
            }),
        }
    }
}

/// Splits elements into files of at most `max_bytes` (an element alone larger than that still gets a file, and
/// Walmart's answer about it goes to its dead letter).
pub fn split(elements: Vec<(usize, Value)>, max_bytes: usize) -> Vec<Vec<(usize, Value)>> {
    // The header and brackets: a generous allowance.
    const ENVELOPE: usize = 512;
    let mut files = Vec::new();
    let mut current = Vec::new();
    let mut size = ENVELOPE;
    for (index, element) in elements {
        let bytes = element.to_string().len() + 1;
        if !current.is_empty() && size + bytes > max_bytes {
            files.push(std::mem::take(&mut current));
            size = ENVELOPE;
        }
        size += bytes;
        current.push((index, element));
    }
    if !current.is_empty() {
        files.push(current);
    }
    files
}

/// A `multipart/form-data` body with one part, `file`, holding `content`: the content type (with its boundary)
/// and the bytes.
pub fn multipart(content: &[u8], boundary: &str) -> (String, Vec<u8>) {
    let mut body = Vec::with_capacity(content.len() + 256);
    body.extend_from_slice(
        format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"feed.json\"\r\nContent-Type: application/json\r\n\r\n"
        )
        .as_bytes(),
    );
    body.extend_from_slice(content);
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={boundary}"), body)
}

/// Where a feed stands.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FeedState {
    /// `RECEIVED` or `INPROGRESS`.
    Processing,
    /// `PROCESSED`: every item has its outcome.
    Processed,
    /// `ERROR`: the file as a whole was refused, with Walmart's words.
    Failed(String),
}

/// One item's outcome in a processed feed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ItemOutcome {
    Applied,
    /// `DATA_ERROR`: Walmart refuses this item and will again.
    Refused(String),
    /// `SYSTEM_ERROR`, `TIMEOUT_ERROR` or still `INPROGRESS`: worth sending again.
    Retry(String),
}

/// One page of a feed's status.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StatusPage {
    pub state: FeedState,
    pub items_received: u64,
    /// (sku, index in the file, outcome).
    pub items: Vec<(String, Option<u64>, ItemOutcome)>,
}

/// `ingestionErrors.ingestionError[]` in one line: `TYPE CODE: description; ...`.
fn ingestion_text(errors: Option<&Value>) -> String {
    errors
        .and_then(|e| e.get("ingestionError"))
        .and_then(Value::as_array)
        .map(|list| {
            list.iter()
                .map(|e| {
                    format!(
                        "{} {}: {}",
                        e.get("type").and_then(Value::as_str).unwrap_or("ERROR"),
                        e.get("code").and_then(Value::as_str).unwrap_or_default(),
                        e.get("description")
                            .and_then(Value::as_str)
                            .unwrap_or_default()
                    )
                })
                .collect::<Vec<_>>()
                .join("; ")
        })
        .unwrap_or_default()
}

/// Reads a `getFeedItemStatus` answer.
pub fn status_page(answer: &Value) -> Result<StatusPage, String> {
    let status = answer
        .get("feedStatus")
        .and_then(Value::as_str)
        .ok_or_else(|| format!("feed status answer has no feedStatus: {}", truncate(answer)))?;
    let state = match status {
        "PROCESSED" => FeedState::Processed,
        "ERROR" => FeedState::Failed(ingestion_text(answer.get("ingestionErrors"))),
        "RECEIVED" | "INPROGRESS" => FeedState::Processing,
        other => return Err(format!("feedStatus {other:?} is not one Walmart documents")),
    };
    let items = answer
        .pointer("/itemDetails/itemIngestionStatus")
        .and_then(Value::as_array)
        .map(|list| {
            list.iter()
                .filter_map(|item| {
                    let sku = item.get("sku")?.as_str()?.to_string();
                    let index = item.get("index").and_then(Value::as_u64);
                    let text = ingestion_text(item.get("ingestionErrors"));
                    let outcome = match item.get("ingestionStatus").and_then(Value::as_str) {
                        Some("SUCCESS") => ItemOutcome::Applied,
                        Some("DATA_ERROR") => ItemOutcome::Refused(text),
                        Some(other) => ItemOutcome::Retry(if text.is_empty() {
                            format!("ingestionStatus {other}")
                        } else {
                            text
                        }),
                        None => ItemOutcome::Retry("no ingestionStatus".into()),
                    };
                    Some((sku, index, outcome))
                })
                .collect()
        })
        .unwrap_or_default();
    Ok(StatusPage {
        state,
        items_received: answer
            .get("itemsReceived")
            .and_then(Value::as_u64)
            .unwrap_or(0),
        items,
    })
}

fn truncate(value: &Value) -> String {
    value.to_string().chars().take(200).collect()
}

/// An MP_ITEM element from a catalog item's mapped fields: `Orderable` (with the SKU) and `Visible` nested
/// under the product type (the mapped `productType`, or the product's `productType` attribute). Without a
/// mapping the canonical product's title, brand, GTIN, description, bullet points and images are used.
pub fn item_element(sku: &str, fields: &Value, record: &Value) -> Result<Value, String> {
    let product_type = fields
        .get("productType")
        .or_else(|| record.pointer("/attributes/productType"))
        .and_then(Value::as_str)
        .filter(|t| !t.trim().is_empty())
        .ok_or_else(|| {
            format!("catalog item {sku}: productType is missing (map it, or set the product's productType attribute)")
        })?;
    let mut orderable = match fields.get("Orderable") {
        Some(Value::Object(o)) => Value::Object(o.clone()),
        _ => {
            let mut o = json!({"productName": record.get("title").cloned().unwrap_or(Value::Null)});
            if let Some(brand) = record.get("brand") {
                o["brand"] = brand.clone();
            }
            if let Some(gtin) = record.get("gtin") {
                o["productIdentifiers"] = json!({"productIdType": "GTIN", "productId": gtin});
            }
            o
        }
    };
    if orderable.get("productName").is_none_or(Value::is_null) {
        return Err(format!(
            "catalog item {sku}: Orderable.productName is missing"
        ));
    }
    orderable["sku"] = Value::from(sku);
    let visible = match fields.get("Visible") {
        Some(Value::Object(v)) => Value::Object(
            v.iter()
                .filter(|(_, value)| !value.is_null())
                .map(|(k, value)| (k.clone(), value.clone()))
                .collect(),
        ),
        _ => {
            let mut v = json!({});
            if let Some(d) = record.get("description") {
                v["shortDescription"] = d.clone();
            }
            if let Some(b) = record.get("bulletPoints") {
                v["keyFeatures"] = b.clone();
            }
            if let Some(i) = record.pointer("/images/0") {
                v["mainImageUrl"] = i.clone();
            }
            v
        }
    };
    Ok(json!({"Orderable": orderable, "Visible": {product_type: visible}}))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn files_are_split_by_size() {
        let elements: Vec<(usize, Value)> = (0..10)
            .map(|i| (i, json!({"sku": format!("S-{i}")})))
            .collect();
        let files = split(elements, 512 + 3 * 15);
        assert_eq!(
            files.iter().map(Vec::len).collect::<Vec<_>>(),
            vec![3, 3, 3, 1]
        );
    }

    #[test]
    fn multipart_wraps_the_file() {
        let (content_type, body) = multipart(b"{}", "b0");
        assert_eq!(content_type, "multipart/form-data; boundary=b0");
        let text = String::from_utf8_lossy(&body);
        assert!(text.starts_with("--b0\r\nContent-Disposition: form-data; name=\"file\""));
        assert!(text.ends_with("\r\n\r\n{}\r\n--b0--\r\n"));
    }

    #[test]
    fn item_outcomes_carry_walmarts_words() {
        let answer = json!({"feedId": "F", "feedStatus": "PROCESSED", "itemsReceived": 2,
            "itemDetails": {"itemIngestionStatus": [
                {"sku": "A", "index": 0, "ingestionStatus": "SUCCESS"},
                {"sku": "B", "index": 1, "ingestionStatus": "DATA_ERROR", "ingestionErrors": {"ingestionError": [
                    {"type": "DATA_ERROR", "code": "ERR_EXT_DATA_0101002", "description": "SKU B is not found"}]}}]}});
        let page = status_page(&answer).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(page.state, FeedState::Processed);
        assert_eq!(page.items[0].2, ItemOutcome::Applied);
        assert_eq!(
            page.items[1].2,
            ItemOutcome::Refused("DATA_ERROR ERR_EXT_DATA_0101002: SKU B is not found".into())
        );
    }

    #[test]
    fn an_item_needs_a_product_type() {
        let record =
            json!({"sku": "A", "title": "Clip", "attributes": {"productType": "Bag Clips"}});
        let item = item_element("A", &record, &record).unwrap_or_default();
        assert_eq!(item["Orderable"]["sku"], "A");
        assert!(item["Visible"]["Bag Clips"].is_object());
        let error = item_element("A", &json!({}), &json!({"title": "Clip"}))
            .err()
            .unwrap_or_default();
        assert!(error.contains("productType is missing"), "{error}");
    }
}
