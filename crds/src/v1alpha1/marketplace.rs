//! `Marketplace`: one seller account on one sales channel, and the flows Tradewind runs for it.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::ResourceRequirements;
use kube::core::Duration;
use kube::{CustomResource, KubeSchema};
use serde::{Deserialize, Serialize};

use super::common::{CommonStatus, DeletionPolicy, LocalObjectReference, SecretReference};
use crate::channel::{ChannelKind, Flow};

/// A seller account on a sales channel, connected to an ERP. The operator runs an adapter Deployment for it and
/// creates its JetStream consumers; its status shows readiness, backlog and dead letters per flow.
#[derive(CustomResource, KubeSchema, Clone, Debug, PartialEq, Serialize, Deserialize)]
#[kube(
    group = "tradewind.dev",
    version = "v1alpha1",
    kind = "Marketplace",
    plural = "marketplaces",
    shortname = "twmp",
    category = "tradewind",
    doc = "A seller account on a sales channel, connected to an ERP",
    namespaced,
    status = "MarketplaceStatus",
    printcolumn(name = "Channel", type_ = "string", json_path = ".spec.channel"),
    printcolumn(
        name = "Ready",
        type_ = "string",
        json_path = ".status.conditions[?(@.type==\"Ready\")].status"
    ),
    printcolumn(
        name = "Pending",
        type_ = "integer",
        description = "Records waiting in JetStream for this marketplace, all flows",
        json_path = ".status.pending"
    ),
    printcolumn(
        name = "DLQ",
        type_ = "integer",
        description = "Dead-lettered records not yet replayed",
        json_path = ".status.deadLetters"
    ),
    printcolumn(name = "Last Sync", type_ = "date", json_path = ".status.lastSyncTime"),
    printcolumn(
        name = "Age",
        type_ = "date",
        json_path = ".metadata.creationTimestamp"
    )
)]
#[serde(rename_all = "camelCase")]
pub struct MarketplaceSpec {
    /// The sales channel's API this marketplace speaks.
    pub channel: ChannelKind,
    /// Where and as whom to connect. Every URL defaults to the channel's production endpoint.
    #[serde(default)]
    pub endpoint: Endpoint,
    /// Secret holding this seller account's API credentials. Required keys depend on the channel (for Amazon:
    /// `client_id`, `client_secret`, `refresh_token`); see docs/channels/<channel>.md.
    pub credentials_secret_ref: SecretReference,
    /// The `ErpConnection` orders go to and ERP events come from.
    pub erp_connection_ref: LocalObjectReference,
    /// The `ChannelMapping` that maps canonical records to this channel's fields and back.
    pub channel_mapping_ref: LocalObjectReference,
    /// The `RateLimitPolicy` for calls to this channel. Its `channel` must equal this marketplace's.
    pub rate_limit_policy_ref: LocalObjectReference,
    /// ISO 4217 currency of this marketplace's prices and orders. Orders in another currency are dead-lettered.
    #[schemars(regex(pattern = "^[A-Z]{3}$"))]
    pub currency: String,
    /// The flows to run. A flow runs when its section is present.
    pub flows: Flows,
    /// Settings of the generic `rest` connector (a B2B portal): paths and methods per flow, batch size, the auth
    /// header, and how orders arrive. Only read for `channel: rest`; unset, the connector's defaults apply.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rest: Option<RestPortal>,
    /// Trading-partner settings of the `edi-x12` connector: our interchange id and qualifiers, delimiters, the
    /// transport's folders and how long a partner has to acknowledge. Required for `channel: edi-x12`; the
    /// partner's interchange id is `spec.endpoint.sellerId`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub edi: Option<EdiPartner>,
    /// The adapter Deployment.
    #[serde(default)]
    pub adapter: AdapterSettings,
    /// Pause every flow: the adapter stops fetching and calling the channel; records wait in JetStream.
    #[serde(default)]
    pub suspend: bool,
    /// What happens to this marketplace's JetStream consumers and streams when it is deleted.
    #[serde(default)]
    pub deletion_policy: DeletionPolicy,
}

/// Connection settings for a channel. Unset fields take the channel's production values.
#[derive(KubeSchema, Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Endpoint {
    /// Base URL of the channel's API, overriding the production default (for example a sandbox or a Mirakl
    /// operator's host). Required for `rest` (the portal's URL) and `edi-x12` (`sftp://host:port/dir` or
    /// `file:///dir`, the partner's transport).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = "^(https?|sftp|file)://"))]
    pub base_url: Option<String>,
    /// URL of the OAuth token endpoint, overriding the channel's default (Amazon LWA, Walmart, eBay).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = "^https?://"))]
    pub token_url: Option<String>,
    /// The channel's region, where it has regional endpoints (Amazon: `na`, `eu`, `fe`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    /// The channel's marketplace identifiers this account sells on (Amazon: `ATVPDKIKX0DER` for amazon.com).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub marketplace_ids: Vec<String>,
    /// The seller's identifier on the channel (Amazon selling partner id, Mirakl shop id, Shopify shop domain,
    /// EDI partner's interchange id).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seller_id: Option<String>,
}

/// How the generic `rest` connector talks to a B2B portal.
#[derive(KubeSchema, Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RestPortal {
    /// Where inventory batches go. Default: `POST <baseUrl>/inventory`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub inventory: Option<RestCall>,
    /// Where price batches go. Default: `POST <baseUrl>/price`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub price: Option<RestCall>,
    /// Where catalog batches go. Default: `POST <baseUrl>/catalog`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub catalog: Option<RestCall>,
    /// Where shipment callbacks go. Default: `POST <baseUrl>/shipments`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shipments: Option<RestCall>,
    /// Most records in one call, for every outbound flow (the portal's own limit). Default 100.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 10000))]
    pub batch_size: Option<u32>,
    /// The header carrying the portal credential, its value read from the credentials Secret.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auth: Option<RestAuth>,
    /// How orders arrive: polled from the portal, or pushed to the adapter's signed webhook. Default: polled from
    /// `GET <baseUrl>/orders?cursor=<cursor>`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub orders: Option<RestOrders>,
}

/// One portal call: a path under `spec.endpoint.baseUrl` and its HTTP method.
#[derive(KubeSchema, Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RestCall {
    /// Path under the base URL, starting with `/` (for example `/api/v2/stock`).
    #[schemars(regex(pattern = "^/[^?#\\s]*$"))]
    pub path: String,
    /// HTTP method of the call.
    #[serde(default)]
    pub method: RestMethod,
}

/// HTTP methods a portal accepts batches with.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema,
)]
pub enum RestMethod {
    #[default]
    #[serde(rename = "POST")]
    Post,
    #[serde(rename = "PUT")]
    Put,
    #[serde(rename = "PATCH")]
    Patch,
}

/// The credential header: its name and the key of its value in the credentials Secret.
#[derive(KubeSchema, Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RestAuth {
    /// Header name, for example `Authorization` or `X-Api-Key`.
    #[schemars(regex(pattern = "^[A-Za-z0-9-]+$"))]
    pub header: String,
    /// Key in the credentials Secret whose value is sent in the header.
    #[schemars(regex(pattern = "^[-._a-zA-Z0-9]+$"))]
    pub secret_key: String,
    /// Text put before the secret value, for example `Bearer ` (with its space) for `Authorization`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prefix: Option<String>,
}

/// How orders reach the adapter. Exactly one of `poll` or `webhook`.
#[derive(KubeSchema, Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = Rule::new("has(self.poll) != has(self.webhook)").message("spec.rest.orders must set exactly one of poll, webhook"))]
pub struct RestOrders {
    /// Orders polled from the portal.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub poll: Option<RestOrderPoll>,
    /// Orders pushed by the portal to the adapter's HMAC-signed webhook.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub webhook: Option<RestOrderWebhook>,
}

/// Polled orders: `GET <baseUrl><path>?<cursorParam>=<cursor>`.
#[derive(KubeSchema, Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RestOrderPoll {
    /// Path under the base URL, starting with `/`.
    #[schemars(regex(pattern = "^/[^?#\\s]*$"))]
    pub path: String,
    /// Name of the query parameter carrying the cursor. Default `cursor`.
    #[serde(default = "default_cursor_param")]
    #[schemars(regex(pattern = "^[A-Za-z0-9_.-]+$"))]
    pub cursor_param: String,
}

fn default_cursor_param() -> String {
    "cursor".to_owned()
}

/// Pushed orders: the portal POSTs each order signed with HMAC-SHA256 over timestamp and body.
#[derive(KubeSchema, Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RestOrderWebhook {
    /// Key in the credentials Secret holding the shared HMAC key.
    #[schemars(regex(pattern = "^[-._a-zA-Z0-9]+$"))]
    pub hmac_secret_key: String,
    /// Oldest signature timestamp accepted, in seconds from now, so replayed requests are refused. Default 300.
    #[serde(default = "default_max_skew_seconds")]
    #[schemars(range(min = 1, max = 3600))]
    pub max_skew_seconds: u32,
}

fn default_max_skew_seconds() -> u32 {
    300
}

/// How we exchange ANSI X12 004010 interchanges with one trading partner.
#[derive(KubeSchema, Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EdiPartner {
    /// Our interchange id: ISA06 of what we send, ISA08 of what we receive (1 to 15 characters).
    #[schemars(regex(pattern = "^[A-Za-z0-9 ._-]{1,15}$"))]
    pub interchange_id: String,
    /// Qualifier of our interchange id (ISA05), for example `ZZ` (mutually defined), `01` (DUNS), `12` (phone).
    #[serde(default = "default_qualifier")]
    #[schemars(regex(pattern = "^[A-Z0-9]{2}$"))]
    pub interchange_id_qualifier: String,
    /// Qualifier of the partner's interchange id (ISA07).
    #[serde(default = "default_qualifier")]
    #[schemars(regex(pattern = "^[A-Z0-9]{2}$"))]
    pub partner_id_qualifier: String,
    /// Our application sender's code (GS02). Default: our interchange id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = "^[A-Za-z0-9 ._-]{2,15}$"))]
    pub application_id: Option<String>,
    /// The partner's application receiver's code (GS03). Default: the partner's interchange id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = "^[A-Za-z0-9 ._-]{2,15}$"))]
    pub partner_application_id: Option<String>,
    /// Element separator of what we send (ISA's fourth character). What we receive is read with the
    /// delimiters its own ISA declares.
    #[serde(default = "default_element_separator")]
    #[schemars(length(min = 1, max = 1))]
    pub element_separator: String,
    /// Component (sub-element) separator of what we send (ISA16).
    #[serde(default = "default_component_separator")]
    #[schemars(length(min = 1, max = 1))]
    pub component_separator: String,
    /// Segment terminator of what we send.
    #[serde(default = "default_segment_terminator")]
    #[schemars(length(min = 1, max = 1))]
    pub segment_terminator: String,
    /// Production or test interchanges (ISA15 `P` or `T`).
    #[serde(default)]
    pub usage: EdiUsage,
    /// Folder under the transport's base path where we put our interchanges. Default `in` (the partner's in).
    #[serde(default = "default_outbound_dir")]
    #[schemars(regex(pattern = "^[A-Za-z0-9._-]+(/[A-Za-z0-9._-]+)*$"))]
    pub outbound_dir: String,
    /// Folder under the transport's base path where the partner puts its interchanges. Default `out`.
    #[serde(default = "default_inbound_dir")]
    #[schemars(regex(pattern = "^[A-Za-z0-9._-]+(/[A-Za-z0-9._-]+)*$"))]
    pub inbound_dir: String,
    /// How long the partner has to answer one of our interchanges with a 997; after that it is reported as
    /// unacknowledged and dead-lettered.
    #[serde(default = "default_acknowledgement_deadline")]
    #[schemars(regex(pattern = r"^([0-9]+(\.[0-9]+)?(ms|s|m|h))+$"))]
    pub acknowledgement_deadline: Duration,
}

/// ISA15: whether interchanges are production or test data.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema,
)]
pub enum EdiUsage {
    /// `P`: production data.
    #[default]
    Production,
    /// `T`: test data; a partner does not act on it.
    Test,
}

fn default_qualifier() -> String {
    "ZZ".to_owned()
}

fn default_element_separator() -> String {
    "*".to_owned()
}

fn default_component_separator() -> String {
    ">".to_owned()
}

fn default_segment_terminator() -> String {
    "~".to_owned()
}

fn default_outbound_dir() -> String {
    "in".to_owned()
}

fn default_inbound_dir() -> String {
    "out".to_owned()
}

fn default_acknowledgement_deadline() -> Duration {
    std::time::Duration::from_secs(24 * 3600).into()
}

/// Per-flow settings. A flow whose section is absent does not run.
#[derive(KubeSchema, Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = Rule::new("has(self.inventory) || has(self.price) || has(self.catalog) || has(self.orders) || has(self.shipments) || has(self.returns) || has(self.settlements) || has(self.invoices)").message("spec.flows must enable at least one flow"))]
pub struct Flows {
    /// Sellable quantity from the ERP to the channel.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub inventory: Option<InventoryFlow>,
    /// Prices from the ERP to the channel.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub price: Option<OutboundFlow>,
    /// Product content from the ERP to the channel (updates to existing listings).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub catalog: Option<OutboundFlow>,
    /// Orders from the channel to the ERP, and acknowledgements and cancellations back.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub orders: Option<OrdersFlow>,
    /// Shipment confirmations from the ERP to the channel.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shipments: Option<OutboundFlow>,
    /// Returns and refunds from the channel to the ERP.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub returns: Option<PolledFlow>,
    /// Settlement reports from the channel to the ERP, matched to orders and refunds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub settlements: Option<PolledFlow>,
    /// Invoices from the ERP to the channel (EDI 810).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub invoices: Option<OutboundFlow>,
}

impl Flows {
    /// The flows whose section is present, in a stable order.
    pub fn enabled(&self) -> Vec<Flow> {
        let present = [
            (Flow::Inventory, self.inventory.is_some()),
            (Flow::Price, self.price.is_some()),
            (Flow::Catalog, self.catalog.is_some()),
            (Flow::Orders, self.orders.is_some()),
            (Flow::Shipments, self.shipments.is_some()),
            (Flow::Returns, self.returns.is_some()),
            (Flow::Settlements, self.settlements.is_some()),
            (Flow::Invoices, self.invoices.is_some()),
        ];
        present
            .into_iter()
            .filter_map(|(flow, on)| on.then_some(flow))
            .collect()
    }
}

/// How an outbound flow delivers: one call per record, the channel's bulk operation, or whichever drains the
/// backlog sooner under the published limits.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema,
)]
pub enum DeliveryMode {
    /// Choose per batch: bulk when the backlog is large enough that the bulk operation drains it sooner.
    #[default]
    Auto,
    /// One call per record.
    PerRecord,
    /// The channel's bulk operation (feeds, bulk mutations, CSV imports) for every batch.
    Bulk,
}

/// Settings of an outbound flow (price, catalog, shipments, invoices).
#[derive(KubeSchema, Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OutboundFlow {
    /// How records are delivered to the channel.
    #[serde(default)]
    pub delivery: DeliveryMode,
    /// How long to gather changes before sending, so that several changes to one SKU become one call.
    #[serde(default = "default_coalesce_window")]
    #[schemars(regex(pattern = r"^([0-9]+(\.[0-9]+)?(ms|s|m|h))+$"))]
    pub coalesce_window: Duration,
    /// Most records in one bulk call; also capped by the channel's own maximum.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1))]
    pub max_batch_size: Option<u32>,
}

impl Default for OutboundFlow {
    fn default() -> Self {
        Self {
            delivery: DeliveryMode::Auto,
            coalesce_window: default_coalesce_window(),
            max_batch_size: None,
        }
    }
}

fn default_coalesce_window() -> Duration {
    std::time::Duration::from_secs(2).into()
}

/// Settings of the inventory flow: delivery plus the channel inventory policy.
#[derive(KubeSchema, Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct InventoryFlow {
    #[serde(flatten)]
    pub delivery: OutboundFlow,
    /// Units held back from this channel per SKU: listed = max(0, sellable - safetyStock).
    #[serde(default)]
    #[schemars(range(min = 0))]
    pub safety_stock: i64,
    /// Share of the sellable quantity (after safety stock) offered on this channel, 1 to 100, rounded down.
    #[serde(default = "default_percent")]
    #[schemars(range(min = 1, max = 100))]
    pub percent_of_stock: u8,
    /// Most units ever listed for one SKU on this channel.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0))]
    pub max_listed_quantity: Option<i64>,
    /// ERP locations whose stock counts for this channel. Empty: every location.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub locations: Vec<String>,
}

fn default_percent() -> u8 {
    100
}

/// Settings of an inbound flow that polls the channel (returns, settlements).
#[derive(KubeSchema, Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PolledFlow {
    /// How often the channel is asked for new records. Bounded below by the channel's published limits.
    #[serde(default = "default_poll_interval")]
    #[schemars(regex(pattern = r"^([0-9]+(\.[0-9]+)?(ms|s|m|h))+$"))]
    pub poll_interval: Duration,
}

impl Default for PolledFlow {
    fn default() -> Self {
        Self {
            poll_interval: default_poll_interval(),
        }
    }
}

fn default_poll_interval() -> Duration {
    std::time::Duration::from_secs(300).into()
}

/// Settings of the orders flow: polling, acknowledgement and the order process between channel and ERP.
#[derive(KubeSchema, Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OrdersFlow {
    /// How often the channel is asked for new and updated orders.
    #[serde(default = "default_orders_poll_interval")]
    #[schemars(regex(pattern = r"^([0-9]+(\.[0-9]+)?(ms|s|m|h))+$"))]
    pub poll_interval: Duration,
    /// Acknowledge each order to the channel once the ERP accepted it (Walmart requires this before shipping).
    #[serde(default = "default_true")]
    pub acknowledge: bool,
    /// Checks an order must pass before it goes to the ERP. A failing order goes to the dead-letter stream
    /// with the reason.
    #[serde(default)]
    pub validation: OrderValidation,
    /// What the operator adds to an order for the ERP.
    #[serde(default)]
    pub enrichment: OrderEnrichment,
}

impl Default for OrdersFlow {
    fn default() -> Self {
        Self {
            poll_interval: default_orders_poll_interval(),
            acknowledge: true,
            validation: OrderValidation::default(),
            enrichment: OrderEnrichment::default(),
        }
    }
}

fn default_orders_poll_interval() -> Duration {
    std::time::Duration::from_secs(120).into()
}

fn default_true() -> bool {
    true
}

/// Checks applied to each incoming order.
#[derive(KubeSchema, Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OrderValidation {
    /// Every line's SKU must be known to the ERP (after the mapping's SKU cross-reference).
    #[serde(default = "default_true")]
    pub require_known_sku: bool,
    /// ISO 3166-1 alpha-2 countries this marketplace ships to. Empty: any country.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(inner(regex(pattern = "^[A-Z]{2}$")))]
    pub ship_to_countries: Vec<String>,
    /// The order total must equal the sum of its lines, shipping and tax, to the cent.
    #[serde(default = "default_true")]
    pub check_totals: bool,
}

impl Default for OrderValidation {
    fn default() -> Self {
        Self {
            require_known_sku: true,
            ship_to_countries: Vec::new(),
            check_totals: true,
        }
    }
}

/// Data added to orders before they reach the ERP.
#[derive(KubeSchema, Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OrderEnrichment {
    /// The ERP customer account that orders from this marketplace are booked to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub erp_customer_account: Option<String>,
    /// Tax code set on every order line for the ERP.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tax_code: Option<String>,
    /// Warehouses to allocate lines from, in order of priority: the first with stock for the whole line wins.
    /// Empty: the ERP allocates.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub warehouse_priority: Vec<String>,
}

/// The adapter Deployment for this marketplace.
#[derive(KubeSchema, Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AdapterSettings {
    /// Number of adapter pods. Rate limits are shared between them (see `RateLimitPolicy.spec.replicaSharing`).
    #[serde(default = "default_replicas")]
    #[schemars(range(min = 0, max = 32))]
    pub replicas: i32,
    /// CPU and memory for the adapter container.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resources: Option<ResourceRequirements>,
    /// Log level of the adapter (`error`, `warn`, `info`, `debug`, `trace`).
    #[serde(default = "default_log_level")]
    #[schemars(regex(pattern = "^(error|warn|info|debug|trace)$"))]
    pub log_level: String,
    /// Extra labels for the adapter pods.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub pod_labels: BTreeMap<String, String>,
}

impl Default for AdapterSettings {
    fn default() -> Self {
        Self {
            replicas: default_replicas(),
            resources: None,
            log_level: default_log_level(),
            pod_labels: BTreeMap::new(),
        }
    }
}

fn default_replicas() -> i32 {
    1
}

fn default_log_level() -> String {
    "info".into()
}

/// Observed state of a `Marketplace`.
#[derive(KubeSchema, Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MarketplaceStatus {
    #[serde(flatten)]
    pub common: CommonStatus,
    /// Records waiting in JetStream for this marketplace, summed over flows.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pending: Option<u64>,
    /// Dead-lettered records of this marketplace not yet replayed, summed over flows.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dead_letters: Option<u64>,
    /// When any flow last completed a successful call to the channel (UTC, RFC 3339).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_sync_time: Option<String>,
    /// Per-flow state read from JetStream.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[x_kube(merge_strategy = ListMerge::Map(vec!["flow".into()]))]
    pub flows: Vec<FlowStatus>,
    /// Available adapter replicas.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub available_replicas: Option<i32>,
    /// Hash of the rendered adapter configuration and referenced Secret versions the adapter runs with.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub config_hash: Option<String>,
}

/// State of one flow of a marketplace.
#[derive(KubeSchema, Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FlowStatus {
    /// The flow.
    pub flow: Flow,
    /// Records not yet delivered to this flow's consumer.
    #[serde(default)]
    pub pending: u64,
    /// Records delivered but not yet acknowledged.
    #[serde(default)]
    pub ack_pending: u64,
    /// Records of this flow in the dead-letter stream.
    #[serde(default)]
    pub dead_letters: u64,
    /// When this flow last completed a successful call (UTC, RFC 3339).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_success_time: Option<String>,
}
