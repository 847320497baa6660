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

pub mod descriptor;
pub use descriptor::DESCRIPTOR;
pub mod documents;
pub mod envelope;
mod inbound;
mod outbound;
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
use tracing::warn;

use adapter_runtime::jetstream::{
    DeadLetter, DeadLetterStore, ErrorClass, ensure_kv, ensure_stream,
};
use channel_api::canonical::{Currency, MarketplaceName};
use channel_api::config::{AdapterConfig, NatsSettings};
use channel_api::connector::{Connector, ConnectorError, FailureKind, OutboundItem, PollPage};
use channel_api::connectors::read_credential;
use channel_api::envelope::{H_MSG_ID, Headers};
use channel_api::resilience::{Failure, Resilience};
use channel_api::topology::Namespace;

use documents::functional_ack::AckStatus;
use settings::Partner;
use state::EdiState;
use transport::Transport;
use x12::Interchange;

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
    Ok(Transport::Sftp(Box::new(transport::sftp::Sftp::new(
        transport::sftp::SftpSettings {
            host,
            port,
            base,
            username,
            key: Arc::new(key),
            known_hosts,
            timeout: Duration::from_secs(30),
        },
    ))))
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

    /// An 846 carries a whole backlog: the flow fetches as many as it may (it bounds this by the consumer's
    /// max ack pending), so a full sync goes out in few interchanges.
    fn fetch_batch(&self, flow: Flow) -> usize {
        match flow {
            Flow::Inventory => MAX_INVENTORY_BATCH,
            _ => 500,
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

    /// A partner's file kept raw in a dead letter is read again for its purchase orders. The exceptions about
    /// our own interchanges (not acknowledged in time, rejected by the partner, an unreadable 997) hold no
    /// partner record: they name the records concerned for a person, who replays those where they failed.
    fn reread(
        &self,
        flow: Flow,
        raw: &[u8],
    ) -> Result<Vec<channel_api::canonical::Record>, String> {
        match flow {
            Flow::Orders if raw.starts_with(b"ISA") => self.reread_orders(raw),
            _ => Err(
                "an acknowledgement exception about our own interchange holds no partner record to read"
                    .into(),
            ),
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
