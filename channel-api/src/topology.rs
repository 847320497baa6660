//! The JetStream topology as data: the subjects, streams, durable consumers and KV buckets of a namespace.
//!
//! Pure: the operator renders these from the resources and applies them; the adapter and the bridge derive the
//! same names from their configuration; `twctl` reads them to find dead letters and timelines. Nothing here
//! talks to NATS.
//!
//! Subjects always start with `tw.<namespace>.`, so tenants in different namespaces never share a subject:
//!
//! | subject | carries |
//! | --- | --- |
//! | `tw.<ns>.erp.<erp>.inventory.<sku>` | inventory positions from the ERP; last value per SKU |
//! | `tw.<ns>.erp.<erp>.price.<sku>` | prices from the ERP; last value per SKU |
//! | `tw.<ns>.erp.<erp>.product.<sku>` | product content from the ERP; last value per SKU |
//! | `tw.<ns>.erp.<erp>.shipment.<marketplace>.<order>` | shipments from the ERP, per marketplace |
//! | `tw.<ns>.mp.<marketplace>.<flow>.<key>` | records from a channel (orders, returns, settlements, cancellations) and ERP answers to them |
//! | `tw.<ns>.dlq.<marketplace>.<flow>` | dead letters |
//! | `tw.<ns>.cmd.<marketplace>.<flow>` | sync commands fired by schedules |
//!
//! Keys (SKUs, order ids) and names are encoded with [`crate::subject::encode_token`] so that a `.` in a SKU
//! never splits a subject.

use std::time::Duration;

use crds::channel::Flow;

use crate::subject::encode_token;

/// Storage, retention and de-duplication of one stream.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StreamDef {
    /// Stream name: upper-case, `[A-Z0-9_-]` only.
    pub name: String,
    pub subjects: Vec<String>,
    pub retention: Retention,
    /// `Some(1)` makes a last-value stream: only the newest message per subject is kept.
    pub max_msgs_per_subject: Option<i64>,
    pub max_age: Option<Duration>,
    /// JetStream drops a message whose `Nats-Msg-Id` it saw within this window.
    pub duplicate_window: Duration,
    /// Bytes of one message; larger publishes are refused by the server.
    pub max_msg_size: i32,
}

/// How long a stream keeps messages.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Retention {
    /// By limits (count, age, per subject); consumers read without removing.
    Limits,
}

/// A durable pull consumer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConsumerDef {
    pub stream: String,
    pub durable_name: String,
    pub filter_subjects: Vec<String>,
    /// Messages delivered and not yet acknowledged, at most: bounds the work in flight and the memory used.
    pub max_ack_pending: i64,
    /// Redelivery after this long without an ack (the adapter extends it while it works on a message).
    pub ack_wait: Duration,
    /// Deliveries at most; the adapter dead-letters a message before this is reached.
    pub max_deliver: i64,
}

/// A KV bucket.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KvDef {
    pub bucket: String,
    pub history: i64,
    pub max_age: Option<Duration>,
}

/// How long a delivered message may stay unacknowledged before JetStream redelivers it: the time an adapter
/// killed mid-batch takes to hand its work to another. Flows send progress acknowledgements while they work.
pub const DEFAULT_ACK_WAIT: Duration = Duration::from_secs(30);

/// Largest message accepted: bigger payloads (a 10 MB order) are refused at publish and dead-lettered by the
/// publisher with that reason.
pub const MAX_MESSAGE_BYTES: i32 = 1024 * 1024;

const DAY: Duration = Duration::from_secs(24 * 3600);

fn stream_token(name: &str) -> String {
    encode_token(name).replace('~', "_").to_ascii_uppercase()
}

/// Names and subjects of one namespace.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Namespace {
    ns: String,
}

impl Namespace {
    pub fn new(namespace: &str) -> Self {
        Self {
            ns: encode_token(namespace),
        }
    }

    fn prefix(&self) -> String {
        format!("tw.{}", self.ns)
    }

    /// Subject of one ERP record. `flow` is `inventory`, `price` or `product`; `key` the SKU.
    pub fn erp_subject(&self, erp: &str, flow: Flow, key: &str) -> String {
        format!(
            "{}.erp.{}.{}.{}",
            self.prefix(),
            encode_token(erp),
            flow,
            encode_token(key)
        )
    }

    /// Subject of one package shipped by the ERP for an order of `marketplace`. The package id is in the
    /// subject so that the outbound flow's per-subject coalescing never merges two packages of one order.
    pub fn shipment_subject(
        &self,
        erp: &str,
        marketplace: &str,
        order_id: &str,
        shipment_id: &str,
    ) -> String {
        format!(
            "{}.erp.{}.shipment.{}.{}.{}",
            self.prefix(),
            encode_token(erp),
            encode_token(marketplace),
            encode_token(order_id),
            encode_token(shipment_id)
        )
    }

    /// Subject of the ERP's answer about a channel order going back to the channel: `accepted` or `rejected`
    /// (an [`crate::canonical::OrderAcknowledgement`]) or `cancelled` (a seller-side
    /// [`crate::canonical::OrderCancellation`]). The kind is in the subject, so an acknowledgement and a
    /// cancellation of one order never coalesce.
    pub fn order_update_subject(
        &self,
        erp: &str,
        marketplace: &str,
        order_id: &str,
        kind: OrderUpdateKind,
    ) -> String {
        format!(
            "{}.erp.{}.order-update.{}.{}.{}",
            self.prefix(),
            encode_token(erp),
            encode_token(marketplace),
            encode_token(order_id),
            kind.as_str()
        )
    }

    /// Subject of a record from (or about) a channel: orders, returns, settlements.
    pub fn marketplace_subject(&self, marketplace: &str, flow: Flow, key: &str) -> String {
        format!(
            "{}.mp.{}.{}.{}",
            self.prefix(),
            encode_token(marketplace),
            flow,
            encode_token(key)
        )
    }

    /// Subject of an order that passed the order process, enriched, for the ERP sink.
    pub fn erp_order_subject(&self, marketplace: &str, order_id: &str) -> String {
        format!(
            "{}.mp.{}.erp-orders.{}",
            self.prefix(),
            encode_token(marketplace),
            encode_token(order_id)
        )
    }

    /// Subject of a raw channel record sent back to `marketplace`'s adapter to be read again by its connector
    /// (a replayed dead letter the connector could not read the first time).
    pub fn reread_subject(&self, marketplace: &str, flow: Flow, key: &str) -> String {
        format!(
            "{}.mp.{}.reread.{}.{}",
            self.prefix(),
            encode_token(marketplace),
            flow,
            encode_token(key)
        )
    }

    /// The durable consumer of `marketplace`'s adapter for the raw records sent back to it.
    pub fn reread_consumer(&self, marketplace: &str) -> ConsumerDef {
        ConsumerDef {
            stream: self.marketplace_stream(marketplace).name,
            durable_name: format!("{}-reread", encode_token(marketplace)),
            filter_subjects: vec![format!(
                "{}.mp.{}.reread.>",
                self.prefix(),
                encode_token(marketplace)
            )],
            max_ack_pending: 100,
            ack_wait: DEFAULT_ACK_WAIT,
            max_deliver: 100,
        }
    }

    /// The durable consumer of the order process of `marketplace`: orders as received from the channel.
    pub fn order_process_consumer(&self, marketplace: &str, max_ack_pending: i64) -> ConsumerDef {
        ConsumerDef {
            stream: self.marketplace_stream(marketplace).name,
            durable_name: format!("{}-order-process", encode_token(marketplace)),
            filter_subjects: vec![format!(
                "{}.mp.{}.orders.>",
                self.prefix(),
                encode_token(marketplace)
            )],
            max_ack_pending,
            ack_wait: DEFAULT_ACK_WAIT,
            max_deliver: 100,
        }
    }

    pub fn dead_letter_subject(&self, marketplace: &str, flow: Flow) -> String {
        format!(
            "{}.dlq.{}.{}",
            self.prefix(),
            encode_token(marketplace),
            flow
        )
    }

    /// Where the ERP bridge of `erp` dead-letters a record of `marketplace`'s `flow` (the ERP refused it, or it
    /// could not be posted): under the flow's dead-letter subject, so a filter on
    /// `<dead_letter_subject>.>` or on `dlq.*.*.erp.<erp>` counts them apart from the adapter's.
    pub fn erp_dead_letter_subject(&self, erp: &str, marketplace: &str, flow: Flow) -> String {
        format!(
            "{}.erp.{}",
            self.dead_letter_subject(marketplace, flow),
            encode_token(erp)
        )
    }

    /// Every dead-letter subject of the ERP bridge of `erp` (for counting them with one subject filter).
    pub fn erp_dead_letter_filter(&self, erp: &str) -> String {
        format!("{}.dlq.*.*.erp.{}", self.prefix(), encode_token(erp))
    }

    pub fn command_subject(&self, marketplace: &str, flow: Flow) -> String {
        format!(
            "{}.cmd.{}.{}",
            self.prefix(),
            encode_token(marketplace),
            flow
        )
    }

    /// Subject of one invoice the ERP issued for an order of `marketplace`: the marketplace is in the subject so
    /// that each marketplace's invoices flow reads only its own.
    pub fn invoice_subject(&self, erp: &str, marketplace: &str, invoice_number: &str) -> String {
        format!(
            "{}.erp.{}.{}.{}.{}",
            self.prefix(),
            encode_token(erp),
            Flow::Invoices,
            encode_token(marketplace),
            encode_token(invoice_number)
        )
    }

    /// The last-value stream of one ERP flow (inventory, price, product; invoices, one subject each) of an ERP
    /// connection.
    pub fn erp_stream(&self, erp: &str, flow: Flow) -> StreamDef {
        StreamDef {
            name: format!(
                "TW_{}_ERP_{}_{}",
                stream_token(&self.ns),
                stream_token(erp),
                stream_token(flow.as_str())
            ),
            subjects: vec![format!(
                "{}.erp.{}.{}.>",
                self.prefix(),
                encode_token(erp),
                flow
            )],
            retention: Retention::Limits,
            max_msgs_per_subject: Some(1),
            // Invoices are one subject each, never superseded: they age out instead.
            max_age: (flow == Flow::Invoices).then_some(90 * DAY),
            duplicate_window: Duration::from_secs(120),
            max_msg_size: MAX_MESSAGE_BYTES,
        }
    }

    /// Shipments from an ERP connection, kept 14 days.
    pub fn shipment_stream(&self, erp: &str) -> StreamDef {
        StreamDef {
            name: format!(
                "TW_{}_ERP_{}_SHIPMENTS",
                stream_token(&self.ns),
                stream_token(erp)
            ),
            subjects: vec![format!(
                "{}.erp.{}.shipment.>",
                self.prefix(),
                encode_token(erp)
            )],
            retention: Retention::Limits,
            max_msgs_per_subject: None,
            max_age: Some(14 * DAY),
            duplicate_window: DAY,
            max_msg_size: MAX_MESSAGE_BYTES,
        }
    }

    /// The ERP's answers about channel orders (acknowledgements, seller cancellations), kept 14 days.
    pub fn order_update_stream(&self, erp: &str) -> StreamDef {
        StreamDef {
            name: format!(
                "TW_{}_ERP_{}_ORDER_UPDATES",
                stream_token(&self.ns),
                stream_token(erp)
            ),
            subjects: vec![format!(
                "{}.erp.{}.order-update.>",
                self.prefix(),
                encode_token(erp)
            )],
            retention: Retention::Limits,
            max_msgs_per_subject: None,
            max_age: Some(14 * DAY),
            duplicate_window: DAY,
            max_msg_size: MAX_MESSAGE_BYTES,
        }
    }

    /// The durable consumer of `marketplace` for the ERP's answers about its orders.
    pub fn order_update_consumer(
        &self,
        erp: &str,
        marketplace: &str,
        max_ack_pending: i64,
    ) -> ConsumerDef {
        ConsumerDef {
            stream: self.order_update_stream(erp).name,
            durable_name: format!("{}-order-updates", encode_token(marketplace)),
            filter_subjects: vec![format!(
                "{}.erp.{}.order-update.{}.>",
                self.prefix(),
                encode_token(erp),
                encode_token(marketplace)
            )],
            max_ack_pending,
            ack_wait: DEFAULT_ACK_WAIT,
            max_deliver: 100,
        }
    }

    /// Everything a marketplace's channel produces, kept 30 days, de-duplicated over a day so that re-polled
    /// orders (same `<marketplace>:<order id>:<revision>` message id) are dropped.
    pub fn marketplace_stream(&self, marketplace: &str) -> StreamDef {
        StreamDef {
            name: format!(
                "TW_{}_MP_{}",
                stream_token(&self.ns),
                stream_token(marketplace)
            ),
            subjects: vec![format!(
                "{}.mp.{}.>",
                self.prefix(),
                encode_token(marketplace)
            )],
            retention: Retention::Limits,
            max_msgs_per_subject: None,
            max_age: Some(30 * DAY),
            duplicate_window: DAY,
            max_msg_size: MAX_MESSAGE_BYTES,
        }
    }

    /// The namespace's dead letters, kept 30 days.
    pub fn dead_letter_stream(&self) -> StreamDef {
        StreamDef {
            name: format!("TW_{}_DLQ", stream_token(&self.ns)),
            subjects: vec![format!("{}.dlq.>", self.prefix())],
            retention: Retention::Limits,
            max_msgs_per_subject: None,
            max_age: Some(30 * DAY),
            duplicate_window: Duration::from_secs(120),
            // A dead letter carries the original payload plus its reason.
            max_msg_size: MAX_MESSAGE_BYTES + 64 * 1024,
        }
    }

    /// Sync commands; the de-duplication window makes a schedule's fire idempotent across operator replicas.
    ///
    /// Limits retention keeps acknowledged commands too, and the per-subject limit (one subject per marketplace
    /// and flow) discards the oldest even when the adapter has not received it yet: with 16, a 17th schedule of
    /// one flow firing while the adapter is busy (16 runs in flight) or down lost a command and its schedule
    /// never got a run report. 1024 is more than one schedule every 10 minutes fires within `max_age` (1008 in
    /// 7 days), so age, not count, trims the subject; a command is a few hundred bytes.
    pub fn command_stream(&self) -> StreamDef {
        StreamDef {
            name: format!("TW_{}_CMD", stream_token(&self.ns)),
            subjects: vec![format!("{}.cmd.>", self.prefix())],
            retention: Retention::Limits,
            max_msgs_per_subject: Some(1024),
            max_age: Some(7 * DAY),
            duplicate_window: DAY,
            max_msg_size: 64 * 1024,
        }
    }

    /// The durable consumer of `marketplace` for an outbound ERP flow.
    pub fn erp_flow_consumer(
        &self,
        erp: &str,
        marketplace: &str,
        flow: Flow,
        max_ack_pending: i64,
    ) -> ConsumerDef {
        let stream = match flow {
            Flow::Shipments => self.shipment_stream(erp),
            _ => self.erp_stream(erp, flow),
        };
        let filter = match flow {
            Flow::Shipments => {
                format!(
                    "{}.erp.{}.shipment.{}.>",
                    self.prefix(),
                    encode_token(erp),
                    encode_token(marketplace)
                )
            }
            Flow::Invoices => format!(
                "{}.erp.{}.{}.{}.>",
                self.prefix(),
                encode_token(erp),
                flow,
                encode_token(marketplace)
            ),
            _ => format!("{}.erp.{}.{}.>", self.prefix(), encode_token(erp), flow),
        };
        ConsumerDef {
            stream: stream.name,
            durable_name: consumer_name(marketplace, flow),
            filter_subjects: vec![filter],
            max_ack_pending,
            ack_wait: DEFAULT_ACK_WAIT,
            max_deliver: 100,
        }
    }

    /// The durable consumer of an ERP connection's sink for the orders of `marketplace` that passed the order
    /// process.
    pub fn erp_sink_consumer(
        &self,
        erp: &str,
        marketplace: &str,
        max_ack_pending: i64,
    ) -> ConsumerDef {
        ConsumerDef {
            stream: self.marketplace_stream(marketplace).name,
            durable_name: format!(
                "{}-erp-sink-{}",
                encode_token(erp),
                encode_token(marketplace)
            ),
            filter_subjects: vec![format!(
                "{}.mp.{}.erp-orders.>",
                self.prefix(),
                encode_token(marketplace)
            )],
            max_ack_pending,
            ack_wait: DEFAULT_ACK_WAIT,
            max_deliver: 100,
        }
    }

    /// The bucket of polling cursors (last updated time, next token) per marketplace and flow.
    pub fn cursor_bucket(&self) -> KvDef {
        KvDef {
            bucket: format!("tw-{}-cursors", self.ns.replace('~', "_")),
            history: 5,
            max_age: None,
        }
    }

    /// The bucket of adapter heartbeats (liveness and per-operation call counters), entries expire after
    /// a minute so that a replica that is gone disappears.
    pub fn heartbeat_bucket(&self) -> KvDef {
        KvDef {
            bucket: format!("tw-{}-heartbeats", self.ns.replace('~', "_")),
            history: 1,
            max_age: Some(Duration::from_secs(60)),
        }
    }

    /// The bucket of sync run reports, keyed by `SyncSchedule` name; the last few runs are kept.
    pub fn sync_run_bucket(&self) -> KvDef {
        KvDef {
            bucket: format!("tw-{}-sync-runs", self.ns.replace('~', "_")),
            history: 5,
            max_age: None,
        }
    }

    /// The durable consumer of `marketplace`'s adapter for the sync commands its schedules fire.
    pub fn command_consumer(&self, marketplace: &str) -> ConsumerDef {
        ConsumerDef {
            stream: self.command_stream().name,
            durable_name: format!("{}-commands", encode_token(marketplace)),
            filter_subjects: vec![format!(
                "{}.cmd.{}.>",
                self.prefix(),
                encode_token(marketplace)
            )],
            max_ack_pending: 16,
            ack_wait: DEFAULT_ACK_WAIT,
            max_deliver: 5,
        }
    }

    /// The bucket where the ERP bridge of `erp` remembers, per channel order, what it last sent the ERP (the
    /// revision and a digest of each part the ERP acts on), so a restarted bridge or a redelivered order sends
    /// no second create and no repeated update. Kept 90 days after an order's last change, like timelines.
    pub fn erp_order_state_bucket(&self, erp: &str) -> KvDef {
        KvDef {
            bucket: format!(
                "tw-{}-erp-{}-orders",
                self.ns.replace('~', "_"),
                encode_token(erp).replace('~', "_")
            ),
            history: 1,
            max_age: Some(90 * DAY),
        }
    }

    /// The bucket of transaction timelines, keyed by correlation id, kept 90 days.
    pub fn timeline_bucket(&self) -> KvDef {
        KvDef {
            bucket: format!("tw-{}-timeline", self.ns.replace('~', "_")),
            history: 64,
            max_age: Some(90 * DAY),
        }
    }
}

/// What the ERP says about a channel order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OrderUpdateKind {
    Accepted,
    Rejected,
    Cancelled,
}

impl OrderUpdateKind {
    pub fn as_str(self) -> &'static str {
        match self {
            OrderUpdateKind::Accepted => "accepted",
            OrderUpdateKind::Rejected => "rejected",
            OrderUpdateKind::Cancelled => "cancelled",
        }
    }
}

/// Durable consumer name of a marketplace flow.
pub fn consumer_name(marketplace: &str, flow: Flow) -> String {
    format!("{}-{}", encode_token(marketplace), flow)
}

/// `Nats-Msg-Id` of a channel order: a re-polled unchanged order is a duplicate, a changed one (new revision)
/// is not. The ERP sink uses the same value as idempotency key.
pub fn order_message_id(marketplace: &str, order_id: &str, revision: u32) -> String {
    format!("{marketplace}:{order_id}:{revision}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn valid_stream_name(name: &str) -> bool {
        !name.is_empty()
            && name
                .bytes()
                .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_' || b == b'-')
    }

    #[test]
    fn subjects_are_namespaced_and_keys_cannot_split_them() {
        let ns = Namespace::new("tradewind-demo");
        assert_eq!(
            ns.erp_subject("demo-erp", Flow::Inventory, "TW-1001"),
            "tw.tradewind-demo.erp.demo-erp.inventory.TW-1001"
        );
        let dotted = ns.erp_subject("demo-erp", Flow::Inventory, "A.B >C");
        assert_eq!(dotted.split('.').count(), 6, "{dotted}");
        assert_ne!(
            Namespace::new("a").dead_letter_subject("m", Flow::Orders),
            Namespace::new("b").dead_letter_subject("m", Flow::Orders)
        );
    }

    #[test]
    fn stream_names_are_valid_and_distinct_per_namespace() {
        let a = Namespace::new("team-a");
        let b = Namespace::new("team-b");
        let names = [
            a.erp_stream("erp.main", Flow::Inventory).name,
            a.erp_stream("erp.main", Flow::Price).name,
            a.shipment_stream("erp.main").name,
            a.marketplace_stream("amazon-us").name,
            a.dead_letter_stream().name,
            a.command_stream().name,
            b.dead_letter_stream().name,
        ];
        for name in &names {
            assert!(valid_stream_name(name), "{name}");
        }
        let mut unique = names.to_vec();
        unique.sort();
        unique.dedup();
        assert_eq!(unique.len(), names.len());
    }

    #[test]
    fn inventory_and_price_keep_one_message_per_sku() {
        let ns = Namespace::new("demo");
        assert_eq!(
            ns.erp_stream("erp", Flow::Inventory).max_msgs_per_subject,
            Some(1)
        );
        assert_eq!(
            ns.erp_stream("erp", Flow::Price).max_msgs_per_subject,
            Some(1)
        );
        let subject = ns.erp_subject("erp", Flow::Inventory, "SKU-1");
        let filter = &ns.erp_stream("erp", Flow::Inventory).subjects[0];
        assert!(subject.starts_with(filter.trim_end_matches('>')));
    }

    #[test]
    fn shipments_are_filtered_per_marketplace() {
        let ns = Namespace::new("demo");
        let consumer = ns.erp_flow_consumer("erp", "amazon-us", Flow::Shipments, 256);
        let mine = ns.shipment_subject("erp", "amazon-us", "113-1", "PKG-1");
        let theirs = ns.shipment_subject("erp", "walmart-us", "42", "PKG-1");
        let filter = consumer.filter_subjects[0].trim_end_matches('>');
        assert!(mine.starts_with(filter) && !theirs.starts_with(filter));
        assert_eq!(consumer.durable_name, "amazon-us-shipments");
    }

    #[test]
    fn order_message_ids_change_with_the_revision() {
        assert_eq!(
            order_message_id("amazon-us", "113-1", 2),
            "amazon-us:113-1:2"
        );
        assert_ne!(
            order_message_id("amazon-us", "113-1", 2),
            order_message_id("amazon-us", "113-1", 3)
        );
    }
}
