//! EDI X12 004010 trading-partner connector.
//!
//! - Inventory: every batch is one 846 (one LIN/QTY loop per SKU) in one interchange.
//! - Orders in: the partner's 850s, read from its outbound folder, one canonical order per set; every group
//!   we read is answered with a 997 (sets we could not read are rejected in it, and dead-lettered here).
//! - Orders out: the ERP's acknowledgements and cancellations as 855s.
//! - Shipments: one 856 per shipment; invoices: one 810 per invoice.
//! - 997s from the partner settle our interchanges; one not acknowledged within
//!   `spec.edi.acknowledgementDeadline` is dead-lettered with what it carried. Both happen on the orders poll.
//!
//! Every interchange gets a control number from the KV bucket that never repeats ([`state::EdiState`]). Files
//! travel over SFTP or a local folder ([`transport`]). The parser ([`x12`]) rejects any malformed interchange
//! with the segment and element at fault; such a file is moved to `rejected/` and dead-lettered.

pub mod documents;
pub mod envelope;
pub mod settings;
pub mod state;
pub mod transport;
pub mod x12;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use async_nats::jetstream;
use chrono::Utc;
use crds::channel::Flow;
use serde_json::Value;
use tokio::sync::OnceCell;
use tracing::{info, warn};

use adapter_runtime::canonical::{Currency, MarketplaceName, Record};
use adapter_runtime::config::{AdapterConfig, NatsSettings};
use adapter_runtime::connector::{Connector, ConnectorError, FailureKind, OutboundItem, PollPage};
use adapter_runtime::connectors::read_credential;
use adapter_runtime::envelope::{H_MSG_ID, Headers};
use adapter_runtime::jetstream::{
    DeadLetter, DeadLetterStore, ErrorClass, ensure_kv, ensure_stream,
};
use adapter_runtime::resilience::{Failure, Resilience};
use adapter_runtime::topology::Namespace;

use documents::functional_ack::{self, AckStatus};
use settings::Partner;
use state::{EdiState, Pending};
use transport::{ARCHIVE_DIR, REJECTED_DIR, Transport};
use x12::{Group, Interchange, Segment};

/// Most SKUs in one 846, and records in one delivery of the other flows.
pub const MAX_INVENTORY_BATCH: usize = 10_000;
pub const MAX_BATCH: usize = 100;

/// Where the connector keeps its state and reports: the adapter's NATS, reached on first use.
struct Links {
    state: EdiState,
    dead_letters: DeadLetterStore,
}

pub struct EdiConnector {
    partner: Partner,
    marketplace: MarketplaceName,
    namespace: Namespace,
    currency: Currency,
    transport: Transport,
    nats: NatsSettings,
    links: OnceCell<Links>,
    resilience: Arc<Resilience>,
}

impl EdiConnector {
    /// The connector of an `edi-x12` Marketplace: `spec.edi` and `spec.endpoint.sellerId` for the envelopes,
    /// `spec.endpoint.baseUrl` for the transport (`sftp://host:port/dir` with the Secret's `username`,
    /// `ssh_private_key` and `known_hosts`, or `file:///dir`).
    pub fn from_config(
        config: &AdapterConfig,
        resilience: Arc<Resilience>,
    ) -> Result<Self, String> {
        let partner = Partner::from_spec(&config.spec)?;
        let base_url = config.spec.endpoint.base_url.as_deref().ok_or(
            "spec.endpoint.baseUrl is required for an edi-x12 marketplace: sftp://host:port/dir or file:///dir",
        )?;
        let transport = transport_for(base_url, &config.credentials_dir)?;
        Self::new(
            partner,
            &config.marketplace,
            &config.namespace,
            &config.spec.currency,
            transport,
            config.nats.clone(),
            resilience,
        )
    }

    pub fn new(
        partner: Partner,
        marketplace: &str,
        namespace: &str,
        currency: &str,
        transport: Transport,
        nats: NatsSettings,
        resilience: Arc<Resilience>,
    ) -> Result<Self, String> {
        Ok(Self {
            partner,
            marketplace: MarketplaceName::try_from(marketplace)
                .map_err(|e| format!("marketplace name: {e}"))?,
            namespace: Namespace::new(namespace),
            currency: currency
                .parse()
                .map_err(|e: String| format!("spec.currency: {e}"))?,
            transport,
            nats,
            links: OnceCell::new(),
            resilience,
        })
    }

    async fn links(&self) -> Result<&Links, ConnectorError> {
        self.links
            .get_or_try_init(|| async {
                let name = format!("tradewind-adapter/{}/edi-state", self.marketplace);
                let client = adapter_runtime::app::connect_nats(name, &self.nats).await?;
                let js = jetstream::new(client);
                ensure_stream(&js, &self.namespace.dead_letter_stream())
                    .await
                    .map_err(|e| e.to_string())?;
                let kv = ensure_kv(&js, &self.namespace.cursor_bucket())
                    .await
                    .map_err(|e| e.to_string())?;
                Ok::<_, String>(Links {
                    state: EdiState::new(kv, self.marketplace.as_str()),
                    dead_letters: DeadLetterStore::new(js, self.namespace.clone()),
                })
            })
            .await
            .map_err(ConnectorError::retryable)
    }

    /// One transport call under its operation's guard (`send` or `receive`).
    async fn guarded<T, F, Fut>(&self, operation: &str, mut call: F) -> Result<T, ConnectorError>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, ConnectorError>>,
    {
        self.resilience
            .guard(operation)
            .run(1, || {
                let attempt = call();
                async move {
                    attempt.await.map_err(|e| match e.kind {
                        FailureKind::Permanent => Failure::Permanent(e.message),
                        _ => Failure::Retryable(e.message),
                    })
                }
            })
            .await
            .map_err(ConnectorError::from_outcome)
    }

    /// Sends one interchange of `set_id` sets and records it as awaiting its 997.
    async fn send(
        &self,
        flow: Flow,
        set_id: &str,
        bodies: Vec<Vec<Segment>>,
        keys: Vec<String>,
    ) -> Result<u32, ConnectorError> {
        let links = self.links().await?;
        let control = links
            .state
            .next_control_number()
            .await
            .map_err(ConnectorError::retryable)?;
        let now = Utc::now();
        let sets = bodies.len();
        let ic = envelope::interchange(&self.partner, control, now, set_id, bodies)
            .map_err(ConnectorError::permanent)?;
        let text =
            x12::write(&ic).map_err(|e| ConnectorError::permanent(format!("{set_id}: {e}")))?;
        let name = envelope::file_name(control, set_id);
        let dir = self.partner.outbound_dir.as_str();
        self.guarded("send", || self.transport.put(dir, &name, text.as_bytes()))
            .await?;
        if set_id != "997" {
            let pending = Pending {
                control_number: control,
                set_id: set_id.to_string(),
                sets,
                flow,
                file: name.clone(),
                sent_at: now,
                keys: keys.into_iter().take(Pending::KEYS).collect(),
            };
            if let Err(e) = links.state.expect_ack(&pending).await {
                // Sent already: retrying would send it twice. The missing 997 entry only loses the reminder.
                warn!(marketplace = %self.marketplace, control, error = %e, "interchange sent, not recorded as awaiting its 997");
            }
        }
        info!(marketplace = %self.marketplace, control, set_id, sets, file = %name, "interchange sent");
        Ok(control)
    }

    /// Delivers items as one interchange: each item's body from `build` (an item it cannot be built for fails
    /// alone), `one_set` puts every body's segments in a single set (the 846).
    async fn deliver_sets(
        &self,
        flow: Flow,
        set_id: &str,
        items: &[OutboundItem],
        build: impl Fn(&OutboundItem) -> Result<Vec<Segment>, String>,
        one_set: bool,
    ) -> Vec<Result<(), ConnectorError>> {
        let built: Vec<Result<Vec<Segment>, String>> = items.iter().map(&build).collect();
        let mut results: Vec<Result<(), ConnectorError>> = built
            .iter()
            .zip(items)
            .map(|(b, item)| match b {
                Ok(_) => Ok(()),
                Err(e) => Err(ConnectorError::permanent(format!(
                    "{set_id} for {}: {e}",
                    item.key
                ))),
            })
            .collect();
        let keys: Vec<String> = built
            .iter()
            .zip(items)
            .filter(|(b, _)| b.is_ok())
            .map(|(_, item)| item.key.clone())
            .collect();
        let good: Vec<Vec<Segment>> = built.into_iter().filter_map(Result::ok).collect();
        if good.is_empty() {
            return results;
        }
        let bodies = if one_set {
            let reference = format!("{}-{}", self.marketplace, Utc::now().format("%Y%m%d%H%M%S"));
            vec![documents::inventory::body(&reference, Utc::now(), good)]
        } else {
            good
        };
        if let Err(e) = self.send(flow, set_id, bodies, keys).await {
            for r in results.iter_mut().filter(|r| r.is_ok()) {
                *r = Err(e.clone());
            }
        }
        results
    }

    async fn dead_letter(&self, flow: Flow, id: String, reason: String, payload: Vec<u8>) {
        let Ok(links) = self.links().await else {
            warn!(marketplace = %self.marketplace, %reason, "not dead-lettered: NATS unreachable");
            return;
        };
        let mut headers = Headers::new();
        headers.insert(H_MSG_ID.into(), id);
        let letter = DeadLetter {
            marketplace: self.marketplace.to_string(),
            flow,
            original_subject: self.namespace.marketplace_subject(
                self.marketplace.as_str(),
                flow,
                "edi",
            ),
            headers,
            payload,
            reason: reason.clone(),
            class: ErrorClass::Permanent,
            attempts: 1,
            at: Utc::now(),
        };
        match links.dead_letters.put(&letter).await {
            Ok(_) => warn!(marketplace = %self.marketplace, %flow, %reason, "dead-lettered"),
            Err(e) => {
                warn!(marketplace = %self.marketplace, %reason, error = %e, "could not dead-letter")
            }
        }
    }

    /// Interchanges past the acknowledgement deadline without a 997: dead-lettered and forgotten.
    pub async fn reconcile(&self) -> Result<usize, ConnectorError> {
        let links = self.links().await?;
        let overdue = links
            .state
            .overdue(self.partner.acknowledgement_deadline, Utc::now())
            .await
            .map_err(ConnectorError::retryable)?;
        for p in &overdue {
            let reason = format!(
                "interchange {:09} ({} {} set(s), file {}) sent {} has no 997 from {} after {}: the partner may \
                 not have received it (records: {})",
                p.control_number,
                p.sets,
                p.set_id,
                p.file,
                p.sent_at.to_rfc3339(),
                self.partner.partner_id,
                humanize(self.partner.acknowledgement_deadline),
                p.keys.join(", ")
            );
            let payload = serde_json::to_vec(p).unwrap_or_default();
            self.dead_letter(
                p.flow,
                format!(
                    "edi-unacknowledged:{}:{}",
                    self.marketplace, p.control_number
                ),
                reason,
                payload,
            )
            .await;
            links
                .state
                .acknowledged(p.control_number)
                .await
                .map_err(ConnectorError::retryable)?;
        }
        Ok(overdue.len())
    }

    /// Settles our interchanges with a partner's 997 group.
    async fn settle(&self, file: &str, group: &Group) -> Result<(), ConnectorError> {
        let links = self.links().await?;
        for set in &group.transactions {
            let ack = match functional_ack::read(set) {
                Ok(ack) => ack,
                Err(e) => {
                    self.dead_letter(
                        Flow::Orders,
                        format!(
                            "edi-bad-997:{}:{file}:{}",
                            self.marketplace, set.control_number
                        ),
                        format!("997 {} in file {file}: {e}", set.control_number),
                        Vec::new(),
                    )
                    .await;
                    continue;
                }
            };
            let pending = links
                .state
                .acknowledged(ack.group_control_number)
                .await
                .map_err(ConnectorError::retryable)?;
            match (pending, ack.status.accepted()) {
                (Some(p), true) => {
                    info!(marketplace = %self.marketplace, control = p.control_number, status = ack.status.code(), "interchange acknowledged");
                }
                (Some(p), false) => {
                    let sets: Vec<String> = ack
                        .rejected_sets
                        .iter()
                        .map(|(s, c, code)| format!("{s} {c} ({code})"))
                        .collect();
                    self.dead_letter(
                        p.flow,
                        format!("edi-rejected:{}:{}", self.marketplace, p.control_number),
                        format!(
                            "the partner rejected interchange {:09} ({} {} set(s), file {}): AK9 {}, sets {}; \
                             records: {}",
                            p.control_number,
                            p.sets,
                            p.set_id,
                            p.file,
                            ack.status.code(),
                            sets.join(", "),
                            p.keys.join(", ")
                        ),
                        serde_json::to_vec(&p).unwrap_or_default(),
                    )
                    .await;
                }
                (None, _) => {
                    info!(marketplace = %self.marketplace, group = ack.group_control_number, "997 for a group not awaiting one (already settled or reported)");
                }
            }
        }
        Ok(())
    }

    /// Reads one partner file: its orders, and what it settles. `Ok(None)`: nothing to publish (the file can be
    /// archived at once).
    async fn read_file(&self, name: &str, bytes: &[u8]) -> Result<Option<Vec<Record>>, FileError> {
        let ic = x12::parse(bytes).map_err(|e| FileError::Rejected(e.to_string()))?;
        envelope::check_addressing(&self.partner, &ic).map_err(FileError::Rejected)?;
        let mut records = Vec::new();
        let mut answers = Vec::new();
        for group in &ic.groups {
            match group.functional_id.as_str() {
                "FA" => {
                    self.settle(name, group).await.map_err(FileError::Retry)?;
                    continue;
                }
                "PO" => {
                    let mut accepted = Vec::new();
                    for set in &group.transactions {
                        if set.set_id != "850" {
                            accepted.push(false);
                            continue;
                        }
                        match documents::purchase_order::to_order(
                            &self.marketplace,
                            self.currency,
                            group,
                            set,
                        ) {
                            Ok(order) => {
                                accepted.push(true);
                                records.push(Record::Order(Box::new(order)));
                            }
                            Err(e) => {
                                accepted.push(false);
                                self.dead_letter(
                                    Flow::Orders,
                                    format!(
                                        "edi-bad-850:{}:{}:{}:{}",
                                        self.marketplace,
                                        ic.header.control_number,
                                        group.control_number,
                                        set.control_number
                                    ),
                                    format!(
                                        "file {name}, interchange {:09}: {e}",
                                        ic.header.control_number
                                    ),
                                    bytes.to_vec(),
                                )
                                .await;
                            }
                        }
                    }
                    answers.push(functional_ack::answer(group, &accepted));
                }
                _ => {
                    let all = vec![true; group.transactions.len()];
                    answers.push(functional_ack::answer(group, &all));
                }
            }
        }
        if !answers.is_empty() {
            let links = self.links().await.map_err(FileError::Retry)?;
            let (sender, number) = (&ic.header.sender_id, ic.header.control_number);
            let seen = links
                .state
                .was_received(sender, number)
                .await
                .map_err(|e| FileError::Retry(ConnectorError::retryable(e)))?;
            if !seen {
                // Sent before it is marked: a crash in between sends the 997 again, never not at all.
                self.send(Flow::Orders, "997", answers, Vec::new())
                    .await
                    .map_err(|e| {
                        FileError::Retry(ConnectorError::retryable(format!(
                            "the 997 for {name} could not be sent: {e}"
                        )))
                    })?;
                if let Err(e) = links.state.mark_received(sender, number).await {
                    warn!(marketplace = %self.marketplace, file = name, error = %e, "997 sent, not recorded");
                }
            }
        }
        Ok((!records.is_empty()).then_some(records))
    }

    async fn poll_orders(&self, cursor: Option<&str>) -> Result<PollPage, ConnectorError> {
        let dir = self.partner.inbound_dir.as_str();
        // The cursor names the file whose orders the last poll returned: they are published now.
        let cursor = cursor.filter(|c| !c.is_empty());
        if let Some(done) = cursor {
            self.guarded("receive", || self.transport.move_to(dir, done, ARCHIVE_DIR))
                .await?;
        }
        if let Err(e) = self.reconcile().await {
            warn!(marketplace = %self.marketplace, error = %e, "997 reconciliation failed; will retry");
        }
        let files = self.guarded("receive", || self.transport.list(dir)).await?;
        for (i, name) in files.iter().enumerate() {
            let bytes = self
                .guarded("receive", || self.transport.get(dir, name))
                .await?;
            match self.read_file(name, &bytes).await {
                Ok(Some(records)) => {
                    return Ok(PollPage {
                        records,
                        next_cursor: Some(name.clone()),
                        more: i + 1 < files.len(),
                    });
                }
                Ok(None) => {
                    self.guarded("receive", || self.transport.move_to(dir, name, ARCHIVE_DIR))
                        .await?;
                }
                Err(FileError::Retry(e)) => return Err(e),
                Err(FileError::Rejected(reason)) => {
                    self.dead_letter(
                        Flow::Orders,
                        format!("edi-rejected-file:{}:{name}", self.marketplace),
                        format!(
                            "file {name} from {} rejected: {reason}",
                            self.partner.partner_id
                        ),
                        bytes.clone(),
                    )
                    .await;
                    self.guarded("receive", || {
                        self.transport.move_to(dir, name, REJECTED_DIR)
                    })
                    .await?;
                }
            }
        }
        Ok(PollPage {
            records: Vec::new(),
            next_cursor: cursor.map(|_| String::new()),
            more: false,
        })
    }
}

/// Why a partner file was not read.
enum FileError {
    /// The file is not a usable interchange for us: moved to `rejected/` and dead-lettered.
    Rejected(String),
    /// Something on our side failed (NATS, the transport): the file stays and is read again.
    Retry(ConnectorError),
}

fn humanize(d: Duration) -> String {
    let s = d.as_secs();
    if s.is_multiple_of(3600) {
        format!("{}h", s / 3600)
    } else if s.is_multiple_of(60) {
        format!("{}m", s / 60)
    } else {
        format!("{s}s")
    }
}

/// The transport of `base_url`.
pub fn transport_for(
    base_url: &str,
    credentials_dir: &std::path::Path,
) -> Result<Transport, String> {
    if let Some(path) = base_url.strip_prefix("file://") {
        if !path.starts_with('/') {
            return Err(format!(
                "spec.endpoint.baseUrl {base_url:?}: a folder must be absolute, file:///dir"
            ));
        }
        return Ok(Transport::Folder(transport::folder::Folder::new(
            PathBuf::from(path),
        )));
    }
    let rest = base_url.strip_prefix("sftp://").ok_or_else(|| {
        format!("spec.endpoint.baseUrl {base_url:?} must be sftp://host:port/dir or file:///dir")
    })?;
    let (authority, base) = match rest.split_once('/') {
        Some((a, p)) => (a, format!("/{p}")),
        None => (rest, "/".to_string()),
    };
    let (host, port) = match authority.rsplit_once(':') {
        Some((h, p)) => (
            h.to_string(),
            p.parse::<u16>().map_err(|_| {
                format!("spec.endpoint.baseUrl {base_url:?}: port {p:?} is not a number")
            })?,
        ),
        None => (authority.to_string(), 22),
    };
    if host.is_empty() {
        return Err(format!("spec.endpoint.baseUrl {base_url:?} has no host"));
    }
    let username = read_credential(credentials_dir, "username")?;
    let key_text = read_credential(credentials_dir, "ssh_private_key")?;
    // The key's text is never part of an error.
    let key = russh::keys::decode_secret_key(&key_text, None)
        .map_err(|_| "credentials Secret key \"ssh_private_key\" is not an OpenSSH private key without passphrase".to_string())?;
    let known_hosts = read_credential(credentials_dir, "known_hosts")?;
    let known_hosts = transport::sftp::host_keys(&known_hosts, &host, port)
        .map_err(|e| format!("credentials Secret key \"known_hosts\": {e}"))?;
    Ok(Transport::Sftp(transport::sftp::Sftp::new(
        transport::sftp::SftpSettings {
            host,
            port,
            base,
            username,
            key: Arc::new(key),
            known_hosts,
            timeout: Duration::from_secs(30),
        },
    )))
}

/// The JSON fields a document reads: the mapped fields, or the record itself when the flow has no mapping.
fn fields(item: &OutboundItem) -> &Value {
    &item.fields
}

impl Connector for EdiConnector {
    fn max_batch(&self, flow: Flow) -> usize {
        match flow {
            Flow::Inventory => MAX_INVENTORY_BATCH,
            _ => MAX_BATCH,
        }
    }

    async fn deliver(&self, flow: Flow, items: &[OutboundItem]) -> Vec<Result<(), ConnectorError>> {
        match flow {
            Flow::Inventory => {
                self.deliver_sets(
                    flow,
                    "846",
                    items,
                    |i| documents::inventory::item_loop(fields(i), &i.record),
                    true,
                )
                .await
            }
            Flow::Shipments => {
                self.deliver_sets(
                    flow,
                    "856",
                    items,
                    |i| documents::ship_notice::body(fields(i), &i.record),
                    false,
                )
                .await
            }
            Flow::Orders => {
                self.deliver_sets(
                    flow,
                    "855",
                    items,
                    |i| documents::acknowledgement::body(fields(i)),
                    false,
                )
                .await
            }
            Flow::Invoices => {
                self.deliver_sets(
                    flow,
                    "810",
                    items,
                    |i| documents::invoice::body(fields(i), &i.record),
                    false,
                )
                .await
            }
            other => items
                .iter()
                .map(|_| {
                    Err(ConnectorError::permanent(format!(
                        "the EDI connector does not deliver the {other} flow"
                    )))
                })
                .collect(),
        }
    }

    async fn poll(&self, flow: Flow, cursor: Option<&str>) -> Result<PollPage, ConnectorError> {
        match flow {
            Flow::Orders => self.poll_orders(cursor).await,
            _ => Ok(PollPage {
                records: Vec::new(),
                next_cursor: cursor.map(str::to_string),
                more: false,
            }),
        }
    }
}

/// Whether a 997 status means the group was taken in (re-exported for tests and the sandbox docs).
pub fn accepted(status: AckStatus) -> bool {
    status.accepted()
}

/// Reads an interchange, for tools and tests.
pub fn read(bytes: &[u8]) -> Result<Interchange, x12::X12Error> {
    x12::parse(bytes)
}
