//! The outbound flows: inventory and price per SKU or by feed, catalog by feed, and the order actions
//! (acknowledge, cancel, ship).

use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use channel_api::connector::{ConnectorError, FailureKind, OutboundItem};
use channel_api::resilience::OperationLimits;
use crds::channel::{ChannelKind, Flow};
use crds::v1alpha1::DeliveryMode;
use serde_json::Value;

use crate::bulk::{self, Pace, Route};
use crate::feeds::{self, FeedKind, FeedState, ItemOutcome};
use crate::{WalmartConnector, actions, encode, render};

/// Most SKUs one feed carries when its file size allows (Walmart's inventory files hold up to 5 MB, tens of
/// thousands of SKUs; smaller files are processed and reported sooner).
const SKUS_PER_FEED: usize = 10_000;
/// Longest wait between two reads of a feed's status.
const FEED_CHECK_CEILING: Duration = Duration::from_secs(30);
/// Item details per status page: `limit` "cannot be more than 50 entities" (walmart-marketplace-feeds.yml,
/// getFeedItemStatus), so a feed's items are read in pages of 50.
const DETAILS_PAGE: u64 = 50;

type Results = Vec<Result<(), ConnectorError>>;

impl WalmartConnector {
    /// How a batch of `flow` goes: per SKU or by feed.
    pub(crate) fn route(&self, flow: Flow, backlog: usize) -> Route {
        let (mode, per_sku_operation) = match flow {
            Flow::Inventory => (self.inventory_delivery, "updateInventoryForAnItem"),
            Flow::Price => (self.price_delivery, "updatePrice"),
            // Walmart has no per-SKU item update: catalog changes always go by feed.
            _ => return Route::Feed,
        };
        match mode {
            DeliveryMode::PerRecord => Route::PerSku,
            DeliveryMode::Bulk => Route::Feed,
            DeliveryMode::Auto => {
                let per_sku = OperationLimits::resolve(&self.rate_limits, per_sku_operation, 1)
                    .bucket
                    .map(|b| Pace::new(u64::from(b.requests), b.per, u64::from(b.burst)));
                // The inventory feed's published limit; price feeds share Walmart's feed quotas.
                let feed = ChannelKind::Walmart
                    .operation("bulkInventoryFeed")
                    .and_then(|op| op.published)
                    .map(|l| Pace::from(&l))
                    .unwrap_or(Pace {
                        requests: 10,
                        per_millis: 3_600_000,
                        burst: 10,
                    });
                let plan = bulk::choose(
                    backlog as u64,
                    per_sku.as_ref(),
                    &feed,
                    SKUS_PER_FEED as u64,
                    self.feed_turnaround_millis.load(Ordering::Relaxed),
                );
                tracing::debug!(flow = %flow, backlog, ?plan, "Walmart delivery route");
                plan.route
            }
        }
    }

    pub(crate) async fn deliver_listing(&self, flow: Flow, items: &[OutboundItem]) -> Results {
        match self.route(flow, items.len()) {
            Route::PerSku => {
                let mut results = Vec::with_capacity(items.len());
                for item in items {
                    results.push(match flow {
                        Flow::Inventory => self.update_inventory(item).await,
                        _ => self.update_price(item).await,
                    });
                }
                results
            }
            Route::Feed => self.deliver_by_feed(flow, items).await,
        }
    }

    async fn put_json(
        &self,
        operation: &str,
        url: &str,
        query: &[(&str, &str)],
        item: &OutboundItem,
        body: &Value,
    ) -> Result<(), ConnectorError> {
        self.call(operation, item.correlation_id.as_str(), || {
            self.http.put(url).query(query).json(body)
        })
        .await
        .map(|_| ())
    }

    async fn update_inventory(&self, item: &OutboundItem) -> Result<(), ConnectorError> {
        let body =
            render::inventory_body(&item.key, &item.fields).map_err(ConnectorError::permanent)?;
        let url = self.url("/v3/inventory");
        self.put_json(
            "updateInventoryForAnItem",
            &url,
            &[("sku", &item.key)],
            item,
            &body,
        )
        .await
    }

    async fn update_price(&self, item: &OutboundItem) -> Result<(), ConnectorError> {
        let body =
            render::price_body(&item.key, &item.fields).map_err(ConnectorError::permanent)?;
        let url = self.url("/v3/price");
        self.put_json("updatePrice", &url, &[], item, &body).await
    }

    /// Sends the batch as feeds: each item's element (an item that cannot be rendered fails alone), files
    /// within the size limit, each submitted, its status read until processed, and each item's outcome
    /// from the feed's item details in Walmart's words.
    async fn deliver_by_feed(&self, flow: Flow, items: &[OutboundItem]) -> Results {
        let kind = match flow {
            Flow::Inventory => FeedKind::Inventory,
            Flow::Price => FeedKind::Price,
            _ => FeedKind::Item,
        };
        let mut results: Results = vec![Ok(()); items.len()];
        let mut elements = Vec::with_capacity(items.len());
        for (i, item) in items.iter().enumerate() {
            let element = match kind {
                FeedKind::Inventory => render::inventory_body(&item.key, &item.fields),
                FeedKind::Price => render::price_body(&item.key, &item.fields),
                FeedKind::Item => feeds::item_element(&item.key, &item.fields, &item.record),
            };
            match element {
                Ok(element) => elements.push((i, element)),
                Err(e) => results[i] = Err(ConnectorError::permanent(e)),
            }
        }
        for file in feeds::split(elements, kind.max_bytes()) {
            let positions: Vec<usize> = file.iter().map(|(i, _)| *i).collect();
            let outcome = self.run_feed(kind, items, file).await;
            match outcome {
                Ok(per_item) => {
                    for (i, result) in positions.into_iter().zip(per_item) {
                        results[i] = result;
                    }
                }
                Err(e) => {
                    for i in positions {
                        results[i] = Err(e.clone());
                    }
                }
            }
        }
        results
    }

    /// One feed file: submitted, followed to its end, read back per item (in the file's order).
    async fn run_feed(
        &self,
        kind: FeedKind,
        items: &[OutboundItem],
        file: Vec<(usize, Value)>,
    ) -> Result<Results, ConnectorError> {
        let skus: Vec<String> = file.iter().map(|(i, _)| items[*i].key.clone()).collect();
        // The feed's correlation id is the first item's, so the submission can be found from a record.
        let correlation = items[file[0].0].correlation_id.as_str().to_string();
        let content = kind
            .file(file.into_iter().map(|(_, element)| element).collect())
            .to_string();
        let boundary = format!("tradewind-{}", uuid::Uuid::new_v4().simple());
        let (content_type, body) = feeds::multipart(content.as_bytes(), &boundary);
        let url = self.url("/v3/feeds");
        let submitted_at = Instant::now();
        let answer = self
            .call_json(kind.operation(), &correlation, || {
                self.http
                    .post(&url)
                    .query(&[("feedType", kind.feed_type())])
                    .header("Content-Type", &content_type)
                    .body(body.clone())
            })
            .await?;
        let feed_id = answer
            .get("feedId")
            .and_then(Value::as_str)
            .filter(|id| !id.is_empty())
            .ok_or_else(|| {
                ConnectorError::retryable(format!(
                    "Walmart accepted a {} feed without a feedId: {}",
                    kind.feed_type(),
                    crate::errors::error_text(&answer.to_string())
                ))
            })?
            .to_string();
        let outcomes = self
            .await_feed(&feed_id, &correlation, submitted_at)
            .await?;
        let mut by_sku: HashMap<&str, &ItemOutcome> = HashMap::new();
        for (sku, _, outcome) in &outcomes {
            by_sku.insert(sku.as_str(), outcome);
        }
        Ok(skus
            .iter()
            .map(|sku| match by_sku.get(sku.as_str()) {
                Some(ItemOutcome::Applied) => Ok(()),
                Some(ItemOutcome::Refused(text)) => Err(ConnectorError::permanent(format!(
                    "feed {feed_id} ({}): {text}",
                    kind.feed_type()
                ))),
                Some(ItemOutcome::Retry(text)) => Err(ConnectorError::retryable(format!(
                    "feed {feed_id} ({}): {text}",
                    kind.feed_type()
                ))),
                None => Err(ConnectorError::retryable(format!(
                    "feed {feed_id} ({}): Walmart's status has no result for SKU {sku}",
                    kind.feed_type()
                ))),
            })
            .collect())
    }

    /// Reads a feed's status, waiting longer each time, until Walmart processed it; then every page of its
    /// item details.
    async fn await_feed(
        &self,
        feed_id: &str,
        correlation: &str,
        submitted_at: Instant,
    ) -> Result<Vec<(String, Option<u64>, ItemOutcome)>, ConnectorError> {
        let url = self.url(&format!("/v3/feeds/{}", encode(feed_id)));
        let mut wait = self.feed_first_check;
        loop {
            tokio::time::sleep(wait).await;
            wait = (wait * 2).min(FEED_CHECK_CEILING);
            let mut items = Vec::new();
            let mut offset = 0u64;
            loop {
                let (offset_text, limit) = (offset.to_string(), DETAILS_PAGE.to_string());
                let answer = self
                    .call_json("getFeedItemStatus", correlation, || {
                        self.http.get(&url).query(&[
                            ("includeDetails", "true"),
                            ("offset", offset_text.as_str()),
                            ("limit", limit.as_str()),
                        ])
                    })
                    .await?;
                let page = feeds::status_page(&answer).map_err(ConnectorError::retryable)?;
                match page.state {
                    FeedState::Processing => break,
                    FeedState::Failed(text) => {
                        return Err(ConnectorError::permanent(format!(
                            "feed {feed_id} refused by Walmart: {text}"
                        )));
                    }
                    FeedState::Processed => {}
                }
                let count = page.items.len() as u64;
                items.extend(page.items);
                offset += count;
                if count == 0 || offset >= page.items_received {
                    let took =
                        u64::try_from(submitted_at.elapsed().as_millis()).unwrap_or(u64::MAX);
                    self.feed_turnaround_millis.store(took, Ordering::Relaxed);
                    return Ok(items);
                }
            }
            if submitted_at.elapsed() > self.feed_timeout {
                return Err(ConnectorError::retryable(format!(
                    "feed {feed_id} still in processing after {} s",
                    self.feed_timeout.as_secs()
                )));
            }
        }
    }

    /// The ERP's answer about an order: accepted → acknowledged (unless the Marketplace turns that off);
    /// rejected or cancelled by the seller → the lines cancelled on Walmart.
    pub(crate) async fn order_update(&self, item: &OutboundItem) -> Result<(), ConnectorError> {
        match item.fields.get("kind").and_then(Value::as_str) {
            Some("accepted") if !self.acknowledge => Ok(()),
            Some("accepted") => self.acknowledge_order(item).await,
            Some("rejected" | "cancelled") => self.cancel(item).await,
            Some(other) => Err(ConnectorError::permanent(format!(
                "order {}: order update kind {other:?} is not accepted, rejected or cancelled",
                item.key
            ))),
            None => Err(ConnectorError::permanent(format!(
                "order {}: an order update without a kind",
                item.key
            ))),
        }
    }

    /// Cancels the lines a seller cancellation names, or every open line (a refusal, or a cancellation of the
    /// whole order), read from Walmart's copy of the order.
    async fn cancel(&self, item: &OutboundItem) -> Result<(), ConnectorError> {
        let reason =
            actions::cancellation_reason(&item.fields).map_err(ConnectorError::permanent)?;
        let mut lines =
            actions::cancelled_lines(&item.fields).map_err(ConnectorError::permanent)?;
        if lines.is_empty() {
            let url = self.url(&format!("/v3/orders/{}", encode(&item.key)));
            let answer = self
                .call_json("getAnOrder", item.correlation_id.as_str(), || {
                    self.http.get(&url)
                })
                .await?;
            lines = actions::open_lines(answer.get("order").unwrap_or(&answer));
            if lines.is_empty() {
                // Already cancelled or shipped in full: nothing left to cancel.
                return Ok(());
            }
        }
        let body = actions::cancel_request(&lines, reason);
        let url = self.url(&format!("/v3/orders/{}/cancel", encode(&item.key)));
        self.call("cancelOrderLines", item.correlation_id.as_str(), || {
            self.http.post(&url).json(&body)
        })
        .await
        .map(|_| ())
    }

    /// Acknowledges the order `item.key` (acknowledging its created lines; lines already acknowledged stay so).
    async fn acknowledge_order(&self, item: &OutboundItem) -> Result<(), ConnectorError> {
        let url = self.url(&format!("/v3/orders/{}/acknowledge", encode(&item.key)));
        self.call("acknowledgeOrders", item.correlation_id.as_str(), || {
            self.http.post(&url)
        })
        .await
        .map(|_| ())
    }

    /// A shipping update with the carrier (from Walmart's list, through the mapping's value map) and tracking.
    ///
    /// Walmart refuses to ship a line that is not acknowledged. The ERP's acknowledgement travels on its own
    /// flow and can arrive after the shipment (a flash sale: the ERP allocates and ships while the order
    /// updates queue); a package the ERP shipped is an order it accepted, so a refused shipment is retried once
    /// after acknowledging the order, when acknowledgements are on.
    pub(crate) async fn ship(&self, item: &OutboundItem) -> Result<(), ConnectorError> {
        let body = actions::shipping_request(&item.fields, &item.record)
            .map_err(ConnectorError::permanent)?;
        let url = self.url(&format!("/v3/orders/{}/shipping", encode(&item.key)));
        let send = || {
            self.call("shippingUpdates", item.correlation_id.as_str(), || {
                self.http.post(&url).json(&body)
            })
        };
        match send().await {
            Err(refused) if self.acknowledge && refused.kind == FailureKind::Permanent => {
                if self.acknowledge_order(item).await.is_err() {
                    return Err(refused);
                }
                send().await.map(|_| ())
            }
            other => other.map(|_| ()),
        }
    }
}
