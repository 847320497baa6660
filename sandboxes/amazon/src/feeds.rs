//! Feeds 2021-06-30 for JSON_LISTINGS_FEED: `createFeedDocument` (an upload URL), the upload, `createFeed`,
//! `getFeed` and `getFeedDocument` with the same paths and bodies as the model; a feed is processed after the
//! sandbox's processing time, its valid messages applied to the listings and its invalid ones reported with
//! Amazon's issues in a processing report (listings-feed-processing-report-schema-v2).

use std::collections::HashSet;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, State as AxumState};
use axum::http::{HeaderMap, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use chrono::Utc;
use serde_json::{Value, json};

use crate::api::{errors, gate, json_response, record};
use crate::patches::{self, Change};
use crate::state::{FeedEntry, Shared};

type S = AxumState<Arc<Shared>>;

pub const JSON_LISTINGS_FEED: &str = "JSON_LISTINGS_FEED";

/// What processing one feed document gives: the changes to apply and the processing report.
#[derive(Clone, Debug, PartialEq)]
pub struct Processed {
    pub changes: Vec<(String, Change)>,
    pub report: Value,
    /// The document itself is unusable: the feed ends `FATAL`.
    pub fatal: bool,
    pub accepted: u64,
    pub rejected: u64,
}

fn fatal(seller: &str, feed_id: &str, message: String) -> Processed {
    Processed {
        changes: Vec::new(),
        report: json!({
            "header": {"sellerId": seller, "version": "2.0", "feedId": feed_id},
            "issues": [{"code": "4000001", "severity": "ERROR", "message": message}],
            "summary": {"errors": 1, "warnings": 0, "messagesProcessed": 0, "messagesAccepted": 0, "messagesInvalid": 0},
        }),
        fatal: true,
        accepted: 0,
        rejected: 0,
    }
}

/// Processes a JSON_LISTINGS_FEED document. `refusal` gives the issue Amazon raises for a refused SKU. Pure.
pub fn process(
    document: &[u8],
    feed_id: &str,
    refusal: impl Fn(&str) -> Option<Value>,
) -> Processed {
    let Ok(feed) = serde_json::from_slice::<Value>(document) else {
        return fatal("", feed_id, "The feed document is not valid JSON.".into());
    };
    let seller = feed
        .pointer("/header/sellerId")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string();
    if seller.is_empty() || feed.pointer("/header/version").and_then(Value::as_str) != Some("2.0") {
        return fatal(
            &seller,
            feed_id,
            "The feed header needs a sellerId and version \"2.0\".".into(),
        );
    }
    let Some(messages) = feed
        .get("messages")
        .and_then(Value::as_array)
        .filter(|m| !m.is_empty() && m.len() <= 25_000)
    else {
        return fatal(
            &seller,
            feed_id,
            "The feed needs between 1 and 25000 messages.".into(),
        );
    };
    let mut issues = Vec::new();
    let mut changes = Vec::new();
    let mut ids = HashSet::new();
    let mut rejected = 0u64;
    for message in messages {
        let id = message.get("messageId").and_then(Value::as_u64);
        let sku = message
            .get("sku")
            .and_then(Value::as_str)
            .unwrap_or_default();
        let mut found: Vec<Value> = Vec::new();
        match id {
            Some(id) if id >= 1 && ids.insert(id) => {}
            _ => found.push(json!({"code": "4000002", "severity": "ERROR", "message": "messageId must be a unique integer of 1 or more"})),
        }
        if sku.is_empty() {
            found.push(
                json!({"code": "4000003", "severity": "ERROR", "message": "sku is required"}),
            );
        }
        let change = match (
            message.get("operationType").and_then(Value::as_str),
            message.get("productType").and_then(Value::as_str),
        ) {
            (_, None) => Err(vec![
                json!({"code": "4000004", "severity": "ERROR", "message": "productType is required for PATCH and PARTIAL_UPDATE"}),
            ]),
            (Some("PATCH"), Some(_)) => {
                let list = message.get("patches").and_then(Value::as_array);
                patches::check(list.map(Vec::as_slice).unwrap_or_default())
            }
            (Some("PARTIAL_UPDATE"), Some(_)) => {
                let as_patches: Vec<Value> = message
                    .get("attributes")
                    .and_then(Value::as_object)
                    .map(|a| {
                        a.iter()
                            .map(|(name, value)| json!({"op": "replace", "path": format!("/attributes/{name}"), "value": value}))
                            .collect()
                    })
                    .unwrap_or_default();
                patches::check(&as_patches)
            }
            (other, Some(_)) => Err(vec![
                json!({"code": "4000005", "severity": "ERROR", "message": format!("operationType {} is not supported by the sandbox (PATCH and PARTIAL_UPDATE are)", other.unwrap_or("(missing)"))}),
            ]),
        };
        if let Some(issue) = refusal(sku) {
            found.push(issue);
        }
        match change {
            Ok(change) if found.is_empty() => changes.push((sku.to_string(), change)),
            Ok(_) => {}
            Err(more) => found.extend(more),
        }
        if !found.is_empty() {
            rejected += 1;
            for mut issue in found {
                if let Some(id) = id.filter(|i| *i >= 1) {
                    issue["messageId"] = json!(id);
                }
                if !sku.is_empty() {
                    issue["sku"] = json!(sku);
                }
                if let Some(names) = issue.get("attributeNames").and_then(|n| n.get(0)).cloned() {
                    issue["attributeName"] = names;
                }
                if let Some(object) = issue.as_object_mut() {
                    object.remove("attributeNames");
                }
                issues.push(issue);
            }
        }
    }
    let accepted = changes.len() as u64;
    let errors = issues.len();
    Processed {
        changes,
        report: json!({
            "header": {"sellerId": seller, "version": "2.0", "feedId": feed_id},
            "issues": issues,
            "summary": {
                "errors": errors, "warnings": 0,
                "messagesProcessed": messages.len(), "messagesAccepted": accepted, "messagesInvalid": rejected,
            },
        }),
        fatal: false,
        accepted,
        rejected,
    }
}

/// The base URL clients reached the sandbox at, for presigned-style document URLs.
fn base(headers: &HeaderMap) -> String {
    let host = headers
        .get("host")
        .and_then(|h| h.to_str().ok())
        .unwrap_or("127.0.0.1");
    format!("http://{host}")
}

pub async fn create_feed_document(
    AxumState(state): S,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    const OP: &str = "createFeedDocument";
    let response = match gate(&state, OP, &headers).await {
        Some(response) => response,
        None => match serde_json::from_slice::<Value>(&body).ok().and_then(|b| {
            b.get("contentType")
                .and_then(Value::as_str)
                .map(str::to_string)
        }) {
            None => errors(
                StatusCode::BAD_REQUEST,
                "InvalidInput",
                "contentType is required",
            ),
            Some(content_type) => {
                let id = format!("amzn1.tortuga.4.na.{}", state.next_id());
                state.put_document(&id, &content_type, None);
                json_response(
                    StatusCode::CREATED,
                    json!({"feedDocumentId": id, "url": format!("{}/_sandbox/uploads/{id}", base(&headers))}),
                )
            }
        },
    };
    record(
        &state,
        OP,
        Method::POST,
        "/feeds/2021-06-30/documents".into(),
        None,
        &body,
        response,
    )
}

/// The upload to a feed document's URL (presigned on Amazon: no access token).
pub async fn upload(AxumState(state): S, Path(id): Path<String>, body: Bytes) -> Response {
    let response = if state.upload_document(&id, body.to_vec()) {
        StatusCode::OK.into_response()
    } else {
        (
            StatusCode::FORBIDDEN,
            "<Error><Code>AccessDenied</Code><Message>Request has expired</Message></Error>",
        )
            .into_response()
    };
    record(
        &state,
        "uploadFeedDocument",
        Method::PUT,
        format!("/_sandbox/uploads/{id}"),
        None,
        &body,
        response,
    )
}

/// A stored document's content (the download URL of getFeedDocument and getReportDocument).
pub async fn download(AxumState(state): S, Path(id): Path<String>) -> Response {
    match state.document(&id) {
        Some((content_type, Some(content))) => {
            (StatusCode::OK, [("content-type", content_type)], content).into_response()
        }
        _ => (
            StatusCode::NOT_FOUND,
            "<Error><Code>NoSuchKey</Code></Error>",
        )
            .into_response(),
    }
}

/// A stored document's content, GZIP-compressed (the URL getReportDocument gives with
/// `compressionAlgorithm: GZIP`).
pub async fn download_gzip(AxumState(state): S, Path(id): Path<String>) -> Response {
    use std::io::Write as _;
    let Some((content_type, Some(content))) = state.document(&id) else {
        return (
            StatusCode::NOT_FOUND,
            "<Error><Code>NoSuchKey</Code></Error>",
        )
            .into_response();
    };
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    match encoder.write_all(&content).and_then(|()| encoder.finish()) {
        Ok(gzipped) => (StatusCode::OK, [("content-type", content_type)], gzipped).into_response(),
        Err(e) => (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response(),
    }
}

pub async fn create_feed(AxumState(state): S, headers: HeaderMap, body: Bytes) -> Response {
    const OP: &str = "createFeed";
    let response = match gate(&state, OP, &headers).await {
        Some(response) => response,
        None => submit(&state, &body),
    };
    record(
        &state,
        OP,
        Method::POST,
        "/feeds/2021-06-30/feeds".into(),
        None,
        &body,
        response,
    )
}

fn submit(state: &Arc<Shared>, body: &[u8]) -> Response {
    let Ok(request) = serde_json::from_slice::<Value>(body) else {
        return errors(
            StatusCode::BAD_REQUEST,
            "InvalidInput",
            "Request body is not valid JSON",
        );
    };
    let feed_type = request.get("feedType").and_then(Value::as_str);
    let document = request.get("inputFeedDocumentId").and_then(Value::as_str);
    let marketplaces: Vec<String> = request
        .get("marketplaceIds")
        .and_then(Value::as_array)
        .map(|m| {
            m.iter()
                .filter_map(Value::as_str)
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default();
    let (Some(feed_type), Some(document)) = (feed_type, document) else {
        return errors(
            StatusCode::BAD_REQUEST,
            "InvalidInput",
            "feedType and inputFeedDocumentId are required",
        );
    };
    if marketplaces.is_empty() || marketplaces.len() > 25 {
        return errors(
            StatusCode::BAD_REQUEST,
            "InvalidInput",
            "marketplaceIds needs 1 to 25 marketplace ids",
        );
    }
    if feed_type != JSON_LISTINGS_FEED {
        return errors(
            StatusCode::BAD_REQUEST,
            "InvalidInput",
            &format!("Feed type {feed_type} is not supported by the sandbox"),
        );
    }
    let Some((_, Some(content))) = state.document(document) else {
        return errors(
            StatusCode::BAD_REQUEST,
            "InvalidInput",
            &format!("Feed document {document} was not uploaded"),
        );
    };
    // Amazon processes the feed message by message and reports what it refuses; a document that breaks the
    // feed schema is still the client's bug.
    state.controls.conformance.request_violations(
        sandbox::CallRef {
            operation: "createFeed",
            method: "POST",
            path: "/feeds/2021-06-30/feeds",
            query: None,
        },
        202,
        crate::conformance::feed_document_violations(&content),
    );
    // The per-region JSON_LISTINGS_FEED limit, beside createFeed's own usage plan.
    if !state.allow("jsonListingsFeed") {
        return crate::api::throttled("jsonListingsFeed");
    }
    let feed_id = state.next_id().to_string();
    state.lock().feeds.push(FeedEntry {
        feed_id: feed_id.clone(),
        feed_type: feed_type.to_string(),
        marketplace_ids: marketplaces,
        input_feed_document_id: document.to_string(),
        created: Utc::now(),
        processing_status: "IN_QUEUE".into(),
        processing_end: None,
        result_feed_document_id: None,
        accepted: 0,
        rejected: 0,
    });
    let shared = state.clone();
    let id = feed_id.clone();
    tokio::spawn(async move { run_feed(shared, id, content).await });
    json_response(StatusCode::ACCEPTED, json!({"feedId": feed_id}))
}

fn set_status(state: &Shared, feed_id: &str, update: impl FnOnce(&mut FeedEntry)) {
    if let Some(feed) = state.lock().feeds.iter_mut().find(|f| f.feed_id == feed_id) {
        update(feed);
    }
}

/// A feed's life: queued, in progress, then done (or fatal) with its processing report.
async fn run_feed(state: Arc<Shared>, feed_id: String, content: Vec<u8>) {
    let processing = state.feed_processing();
    tokio::time::sleep(processing / 2).await;
    set_status(&state, &feed_id, |f| {
        f.processing_status = "IN_PROGRESS".into()
    });
    tokio::time::sleep(processing / 2).await;
    let processed = process(&content, &feed_id, |sku| state.refusal(sku));
    let report_id = format!("amzn1.tortuga.4.na.{}", state.next_id());
    state.put_document(
        &report_id,
        "application/json",
        Some(processed.report.to_string().into_bytes()),
    );
    let mut s = state.lock();
    for (sku, change) in processed.changes {
        s.apply(&sku, change);
    }
    if let Some(feed) = s.feeds.iter_mut().find(|f| f.feed_id == feed_id) {
        feed.processing_status = if processed.fatal { "FATAL" } else { "DONE" }.into();
        feed.processing_end = Some(Utc::now());
        feed.result_feed_document_id = Some(report_id);
        feed.accepted = processed.accepted;
        feed.rejected = processed.rejected;
    }
}

pub async fn get_feed(
    AxumState(state): S,
    Path(feed_id): Path<String>,
    headers: HeaderMap,
) -> Response {
    const OP: &str = "getFeed";
    let path = format!("/feeds/2021-06-30/feeds/{feed_id}");
    let response = match gate(&state, OP, &headers).await {
        Some(response) => response,
        None => match state.lock().feeds.iter().find(|f| f.feed_id == feed_id) {
            Some(feed) => json_response(StatusCode::OK, feed_json(feed)),
            None => errors(
                StatusCode::NOT_FOUND,
                "NotFound",
                &format!("Feed {feed_id} not found"),
            ),
        },
    };
    record(&state, OP, Method::GET, path, None, b"", response)
}

/// A feed as the model's `Feed` definition.
pub fn feed_json(feed: &FeedEntry) -> Value {
    let mut body = json!({
        "feedId": feed.feed_id,
        "feedType": feed.feed_type,
        "marketplaceIds": feed.marketplace_ids,
        "createdTime": feed.created.to_rfc3339(),
        "processingStatus": feed.processing_status,
    });
    if feed.processing_status != "IN_QUEUE" {
        body["processingStartTime"] = json!(feed.created.to_rfc3339());
    }
    if let Some(end) = feed.processing_end {
        body["processingEndTime"] = json!(end.to_rfc3339());
    }
    if let Some(result) = &feed.result_feed_document_id {
        body["resultFeedDocumentId"] = json!(result);
    }
    body
}

pub async fn get_feed_document(
    AxumState(state): S,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Response {
    const OP: &str = "getFeedDocument";
    let path = format!("/feeds/2021-06-30/documents/{id}");
    let response = match gate(&state, OP, &headers).await {
        Some(response) => response,
        None => match state.document(&id) {
            Some(_) => json_response(
                StatusCode::OK,
                json!({"feedDocumentId": id, "url": format!("{}/_sandbox/documents/{id}", base(&headers))}),
            ),
            None => errors(
                StatusCode::NOT_FOUND,
                "NotFound",
                &format!("Feed document {id} not found"),
            ),
        },
    };
    record(&state, OP, Method::GET, path, None, b"", response)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(id: u64, sku: &str, quantity: i64) -> Value {
        json!({"messageId": id, "sku": sku, "operationType": "PATCH", "productType": "PRODUCT",
            "patches": [{"op": "replace", "path": "/attributes/fulfillment_availability",
                "value": [{"fulfillment_channel_code": "DEFAULT", "quantity": quantity}]}]})
    }

    #[test]
    fn valid_messages_apply_and_invalid_ones_are_reported_with_their_message_id() {
        let feed = json!({"header": {"sellerId": "A1", "version": "2.0"},
            "messages": [message(1, "A", 3), message(2, "B", -1), message(3, "C", 1)]});
        let processed = process(feed.to_string().as_bytes(), "9", |sku| {
            (sku == "C").then(|| json!({"code": "8541", "severity": "ERROR", "message": "refused"}))
        });
        assert!(!processed.fatal);
        assert_eq!(processed.changes.len(), 1);
        assert_eq!(processed.rejected, 2);
        let issues = processed.report["issues"].as_array().unwrap();
        assert_eq!(issues[0]["messageId"], 2);
        assert_eq!(issues[0]["attributeName"], "fulfillment_availability");
        assert_eq!(issues[1]["messageId"], 3);
        assert_eq!(processed.report["summary"]["messagesAccepted"], 1);
    }

    #[test]
    fn a_document_that_is_not_a_feed_is_fatal() {
        assert!(process(b"not json", "9", |_| None).fatal);
        assert!(
            process(
                br#"{"header": {"sellerId": "A"}, "messages": []}"#,
                "9",
                |_| None
            )
            .fatal
        );
    }
}
