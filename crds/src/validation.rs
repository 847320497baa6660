//! Validation of a set of manifests: what the API server would check (schema and CEL, see [`crate::schema`]),
//! then what only the set as a whole can tell: references between resources, limits above a channel's
//! published quota, flows a channel does not have, schedules that do not parse.
//!
//! Every problem is reported at once, each naming the file and line, the resource, the field path, the bad
//! value and why.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::str::FromStr;

use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::channel::{ChannelKind, LimitUnit, describe_rate};
use crate::manifest::{Document, LoadError, Source};
use crate::schema::SchemaSet;
use crate::v1alpha1::{
    API_VERSION, ChannelMapping, ErpConnection, GROUP, LocalObjectReference, Marketplace,
    RateLimitPolicy, ReplicaSharing, SyncSchedule, TokenBucket,
};

/// One problem found in a manifest.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
pub struct Diagnostic {
    /// Where the document starts.
    pub file: String,
    pub line: usize,
    /// `Kind/name` of the resource.
    pub resource: String,
    /// Field path inside the resource (`spec.flows.orders`), empty for the whole resource.
    pub field_path: String,
    /// The offending value, rendered as JSON, where there is one.
    pub value: Option<String>,
    /// Why it is wrong.
    pub message: String,
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}: {}: ", self.file, self.line, self.resource)?;
        if !self.field_path.is_empty() {
            write!(f, "{}: ", self.field_path)?;
        }
        f.write_str(&self.message)?;
        if let Some(value) = &self.value {
            write!(f, " (value: {value})")?;
        }
        Ok(())
    }
}

impl From<LoadError> for Diagnostic {
    fn from(e: LoadError) -> Self {
        Diagnostic {
            file: e.source.file,
            line: e.source.line,
            resource: String::new(),
            field_path: String::new(),
            value: None,
            message: e.message,
        }
    }
}

/// A Tradewind resource that passed the schema.
#[derive(Clone, Debug)]
pub enum Resource {
    Marketplace(Box<Marketplace>),
    ChannelMapping(Box<ChannelMapping>),
    RateLimitPolicy(Box<RateLimitPolicy>),
    SyncSchedule(Box<SyncSchedule>),
    ErpConnection(Box<ErpConnection>),
}

impl Resource {
    pub fn kind(&self) -> &'static str {
        match self {
            Resource::Marketplace(_) => "Marketplace",
            Resource::ChannelMapping(_) => "ChannelMapping",
            Resource::RateLimitPolicy(_) => "RateLimitPolicy",
            Resource::SyncSchedule(_) => "SyncSchedule",
            Resource::ErpConnection(_) => "ErpConnection",
        }
    }
}

/// A resource with where it came from.
#[derive(Clone, Debug)]
pub struct Item {
    pub source: Source,
    pub namespace: String,
    pub name: String,
    pub resource: Resource,
}

impl Item {
    fn diagnostic(
        &self,
        field_path: &str,
        value: Option<String>,
        message: impl Into<String>,
    ) -> Diagnostic {
        Diagnostic {
            file: self.source.file.clone(),
            line: self.source.line,
            resource: format!("{}/{}", self.resource.kind(), self.name),
            field_path: field_path.to_string(),
            value,
            message: message.into(),
        }
    }
}

/// The outcome of validating a set of documents.
#[derive(Debug, Default)]
pub struct Report {
    /// Tradewind resources that passed the schema (they may still have semantic problems).
    pub items: Vec<Item>,
    /// Documents of other APIs (Secrets, Namespaces, ...), passed through untouched.
    pub others: Vec<Document>,
    /// Every problem, sorted by file and line.
    pub diagnostics: Vec<Diagnostic>,
}

impl Report {
    pub fn is_valid(&self) -> bool {
        self.diagnostics.is_empty()
    }
}

/// The namespace a manifest without `metadata.namespace` lands in.
pub const DEFAULT_NAMESPACE: &str = "default";

/// Validates documents one by one against `schemas`, then as a set.
pub fn validate(documents: Vec<Document>, schemas: &SchemaSet) -> Report {
    let mut report = Report::default();
    for document in documents {
        match load_item(&document, schemas) {
            Loaded::Item(item) => report.items.push(*item),
            Loaded::Other => report.others.push(document),
            Loaded::Invalid(diagnostics) => report.diagnostics.extend(diagnostics),
        }
    }
    report.diagnostics.extend(validate_set(&report.items));
    report.diagnostics.sort();
    report.diagnostics.dedup();
    report
}

enum Loaded {
    Item(Box<Item>),
    Other,
    Invalid(Vec<Diagnostic>),
}

fn load_item(document: &Document, schemas: &SchemaSet) -> Loaded {
    let api_version = document.api_version();
    let kind = document.kind();
    let at = |field_path: &str, value: Option<String>, message: String| Diagnostic {
        file: document.source.file.clone(),
        line: document.source.line,
        resource: document.display_name(),
        field_path: field_path.to_string(),
        value,
        message,
    };
    if api_version.split('/').next() != Some(GROUP) {
        if api_version.is_empty() || kind.is_empty() {
            return Loaded::Invalid(vec![at(
                "",
                None,
                "document has no apiVersion or kind".into(),
            )]);
        }
        return Loaded::Other;
    }
    if api_version != API_VERSION {
        return Loaded::Invalid(vec![at(
            "apiVersion",
            Some(quote(api_version)),
            format!("unsupported version; this release serves {API_VERSION}"),
        )]);
    }
    if !schemas.knows(kind) {
        return Loaded::Invalid(vec![at(
            "kind",
            Some(quote(kind)),
            "unknown kind; expected Marketplace, ChannelMapping, RateLimitPolicy, SyncSchedule or ErpConnection"
                .into(),
        )]);
    }
    if document.name().is_empty() {
        return Loaded::Invalid(vec![at("metadata.name", None, "is required".into())]);
    }
    let problems = schemas.check(kind, &document.value);
    if !problems.is_empty() {
        return Loaded::Invalid(
            problems
                .into_iter()
                .map(|p| {
                    let value = value_at(&document.value, &p.field_path);
                    at(&p.field_path, value, p.message)
                })
                .collect(),
        );
    }
    let resource = match kind {
        "Marketplace" => typed(document).map(Resource::Marketplace),
        "ChannelMapping" => typed(document).map(Resource::ChannelMapping),
        "RateLimitPolicy" => typed(document).map(Resource::RateLimitPolicy),
        "SyncSchedule" => typed(document).map(Resource::SyncSchedule),
        _ => typed(document).map(Resource::ErpConnection),
    };
    match resource {
        Ok(resource) => Loaded::Item(Box::new(Item {
            source: document.source.clone(),
            namespace: document
                .value
                .pointer("/metadata/namespace")
                .and_then(Value::as_str)
                .unwrap_or(DEFAULT_NAMESPACE)
                .to_string(),
            name: document.name().to_string(),
            resource,
        })),
        Err((path, message)) => {
            Loaded::Invalid(vec![at(&path, value_at(&document.value, &path), message)])
        }
    }
}

fn typed<T: DeserializeOwned>(document: &Document) -> Result<Box<T>, (String, String)> {
    serde_path_to_error::deserialize(&document.value)
        .map(Box::new)
        .map_err(|e| (e.path().to_string(), e.inner().to_string()))
}

/// The value at a field path (`spec.operations[0].name`), rendered as JSON.
fn value_at(root: &Value, field_path: &str) -> Option<String> {
    if field_path.is_empty() {
        return None;
    }
    let mut node = root;
    for part in field_path.split('.') {
        let (key, indexes) = match part.find('[') {
            Some(i) => (&part[..i], &part[i..]),
            None => (part, ""),
        };
        if !key.is_empty() {
            node = node.get(key)?;
        }
        for index in indexes.split(['[', ']']).filter(|s| !s.is_empty()) {
            node = node.get(index.parse::<usize>().ok()?)?;
        }
    }
    Some(node.to_string())
}

fn quote(s: &str) -> String {
    Value::String(s.to_string()).to_string()
}

/// Names of each kind, per namespace, for reference checks.
struct Index<'a> {
    names: BTreeMap<(&'a str, &'static str), BTreeMap<&'a str, &'a Item>>,
}

impl<'a> Index<'a> {
    fn new(items: &'a [Item]) -> Self {
        let mut names: BTreeMap<(&str, &str), BTreeMap<&str, &Item>> = BTreeMap::new();
        for item in items {
            names
                .entry((item.namespace.as_str(), item.resource.kind()))
                .or_default()
                .insert(&item.name, item);
        }
        Self { names }
    }

    fn get(&self, namespace: &str, kind: &'static str, name: &str) -> Option<&'a Item> {
        self.names
            .get(&(namespace, kind))
            .and_then(|m| m.get(name))
            .copied()
    }
}

/// Checks the resources as a set. Pure: the same items always give the same diagnostics.
pub fn validate_set(items: &[Item]) -> Vec<Diagnostic> {
    let index = Index::new(items);
    let mut out = duplicates(items);
    for item in items {
        match &item.resource {
            Resource::Marketplace(m) => check_marketplace(item, m, &index, &mut out),
            Resource::ChannelMapping(m) => check_channel_mapping(item, m, &mut out),
            Resource::RateLimitPolicy(p) => check_rate_limit_policy(item, p, &mut out),
            Resource::SyncSchedule(s) => check_sync_schedule(item, s, &index, &mut out),
            Resource::ErpConnection(e) => check_erp_connection(item, e, &index, &mut out),
        }
    }
    out
}

fn duplicates(items: &[Item]) -> Vec<Diagnostic> {
    let mut seen: BTreeMap<(&str, &str, &str), &Item> = BTreeMap::new();
    let mut out = Vec::new();
    for item in items {
        let key = (
            item.namespace.as_str(),
            item.resource.kind(),
            item.name.as_str(),
        );
        if let Some(first) = seen.insert(key, item) {
            out.push(item.diagnostic(
                "metadata.name",
                Some(quote(&item.name)),
                format!(
                    "defined twice in namespace {}; first at {}",
                    item.namespace, first.source
                ),
            ));
        }
    }
    out
}

/// Looks up a referenced resource; reports it when missing.
fn resolve<'a>(
    item: &Item,
    index: &Index<'a>,
    field_path: &str,
    kind: &'static str,
    reference: &LocalObjectReference,
    out: &mut Vec<Diagnostic>,
) -> Option<&'a Item> {
    let found = index.get(&item.namespace, kind, &reference.name);
    if found.is_none() {
        out.push(item.diagnostic(
            field_path,
            Some(quote(&reference.name)),
            format!(
                "refers to {kind} {:?}, which is not defined in namespace {}",
                reference.name, item.namespace
            ),
        ));
    }
    found
}

fn check_marketplace(item: &Item, m: &Marketplace, index: &Index, out: &mut Vec<Diagnostic>) {
    let spec = &m.spec;
    let channel = spec.channel;
    for flow in spec.flows.enabled() {
        if !channel.supports(flow) {
            out.push(item.diagnostic(
                &format!("spec.flows.{flow}"),
                None,
                format!(
                    "channel {channel} has no {flow} flow; it supports {}",
                    flow_list(channel)
                ),
            ));
        }
    }
    if let Some(mapping) = resolve(
        item,
        index,
        "spec.channelMappingRef.name",
        "ChannelMapping",
        &spec.channel_mapping_ref,
        out,
    ) && let Resource::ChannelMapping(mapping) = &mapping.resource
        && mapping.spec.channel != channel
    {
        out.push(item.diagnostic(
            "spec.channelMappingRef.name",
            Some(quote(&spec.channel_mapping_ref.name)),
            format!(
                "ChannelMapping is for channel {}, this marketplace is {channel}",
                mapping.spec.channel
            ),
        ));
    }
    if let Some(policy) = resolve(
        item,
        index,
        "spec.rateLimitPolicyRef.name",
        "RateLimitPolicy",
        &spec.rate_limit_policy_ref,
        out,
    ) && let Resource::RateLimitPolicy(policy) = &policy.resource
    {
        if policy.spec.channel != channel {
            out.push(item.diagnostic(
                "spec.rateLimitPolicyRef.name",
                Some(quote(&spec.rate_limit_policy_ref.name)),
                format!(
                    "RateLimitPolicy is for channel {}, this marketplace is {channel}",
                    policy.spec.channel
                ),
            ));
        } else {
            check_replica_share(item, spec.adapter.replicas, policy, out);
        }
    }
    resolve(
        item,
        index,
        "spec.erpConnectionRef.name",
        "ErpConnection",
        &spec.erp_connection_ref,
        out,
    );

    let endpoint = &spec.endpoint;
    let base_url = endpoint.base_url.as_deref();
    match channel {
        ChannelKind::Rest if !base_url.is_some_and(|u| u.starts_with("http")) => out.push(item.diagnostic(
            "spec.endpoint.baseUrl",
            base_url.map(quote),
            "channel rest needs the portal's http(s) base URL",
        )),
        ChannelKind::EdiX12 if !base_url.is_some_and(|u| u.starts_with("sftp://") || u.starts_with("file://")) => {
            out.push(item.diagnostic(
                "spec.endpoint.baseUrl",
                base_url.map(quote),
                "channel edi-x12 needs the partner's transport: sftp://host:port/dir or file:///dir",
            ))
        }
        ChannelKind::Rest | ChannelKind::EdiX12 => {}
        _ if base_url.is_some_and(|u| !u.starts_with("http")) => out.push(item.diagnostic(
            "spec.endpoint.baseUrl",
            base_url.map(quote),
            format!("channel {channel} is reached over http(s)"),
        )),
        _ => {}
    }
    if channel == ChannelKind::EdiX12 {
        if spec.edi.is_none() {
            out.push(item.diagnostic(
                "spec.edi",
                None,
                "channel edi-x12 needs the trading-partner settings: spec.edi.interchangeId at least",
            ));
        }
        if endpoint
            .seller_id
            .as_deref()
            .is_none_or(|id| id.is_empty() || id.len() > 15)
        {
            out.push(item.diagnostic(
                "spec.endpoint.sellerId",
                endpoint.seller_id.as_deref().map(quote),
                "channel edi-x12 needs the partner's interchange id (1 to 15 characters) in spec.endpoint.sellerId",
            ));
        }
    }
    if channel == ChannelKind::Amazon {
        if let Some(region) = &endpoint.region
            && !["na", "eu", "fe"].contains(&region.as_str())
        {
            out.push(item.diagnostic(
                "spec.endpoint.region",
                Some(quote(region)),
                "Amazon regions are na, eu and fe",
            ));
        }
        if endpoint.marketplace_ids.is_empty() {
            out.push(item.diagnostic(
                "spec.endpoint.marketplaceIds",
                None,
                "Amazon needs at least one marketplace id (ATVPDKIKX0DER for amazon.com)",
            ));
        }
        if endpoint.seller_id.is_none() {
            out.push(item.diagnostic(
                "spec.endpoint.sellerId",
                None,
                "Amazon needs the selling partner id",
            ));
        }
    }
    if let Some(orders) = &spec.flows.orders {
        for (i, country) in orders.validation.ship_to_countries.iter().enumerate() {
            if country.len() != 2 || !country.bytes().all(|b| b.is_ascii_uppercase()) {
                out.push(item.diagnostic(
                    &format!("spec.flows.orders.validation.shipToCountries[{i}]"),
                    Some(quote(country)),
                    "not an ISO 3166-1 alpha-2 country code",
                ));
            }
        }
    }
}

/// The channel enforces its quota per seller account, so the replicas together must stay within it: with
/// `PerReplica` each replica has the whole limit; with `DivideAmongReplicas` each has `limit / replicas` rounded
/// down but at least one token, which exceeds the quota when there are more replicas than tokens.
fn check_replica_share(
    item: &Item,
    replicas: i32,
    policy: &RateLimitPolicy,
    out: &mut Vec<Diagnostic>,
) {
    let replicas = u64::try_from(replicas).unwrap_or(0);
    if replicas <= 1 {
        return;
    }
    let share = |value: u64| match policy.spec.replica_sharing {
        ReplicaSharing::PerReplica => value * replicas,
        ReplicaSharing::DivideAmongReplicas => (value / replicas).max(1) * replicas,
    };
    for op in &policy.spec.operations {
        let (Some(bucket), Some(published)) = (
            &op.token_bucket,
            policy
                .spec
                .channel
                .operation(&op.name)
                .and_then(|known| known.published),
        ) else {
            continue;
        };
        let per = millis(&bucket.per);
        let requests = share(u64::from(bucket.requests));
        let burst = share(u64::from(bucket.burst));
        if published.is_exceeded_by(requests, per) || burst > published.burst {
            out.push(item.diagnostic(
                "spec.adapter.replicas",
                Some(replicas.to_string()),
                format!(
                    "{replicas} replicas of RateLimitPolicy {:?} ({:?}) together allow {} with burst {burst} for {}, \
                     above its published limit of {} with burst {}",
                    policy.metadata.name.as_deref().unwrap_or_default(),
                    policy.spec.replica_sharing,
                    describe_rate(requests, per),
                    op.name,
                    published.describe_rate(),
                    published.burst
                ),
            ));
        }
    }
}

fn flow_list(channel: ChannelKind) -> String {
    channel
        .supported_flows()
        .iter()
        .map(|f| f.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

fn check_channel_mapping(item: &Item, m: &ChannelMapping, out: &mut Vec<Diagnostic>) {
    let spec = &m.spec;
    let mut flows = BTreeSet::new();
    let maps: BTreeSet<&str> = spec.value_maps.iter().map(|v| v.name.as_str()).collect();
    for (i, flow_mapping) in spec.flows.iter().enumerate() {
        let at = format!("spec.flows[{i}]");
        if !flows.insert(flow_mapping.flow) {
            out.push(item.diagnostic(
                &format!("{at}.flow"),
                Some(quote(flow_mapping.flow.as_str())),
                "flow mapped twice",
            ));
        }
        if !spec.channel.supports(flow_mapping.flow) {
            out.push(item.diagnostic(
                &format!("{at}.flow"),
                Some(quote(flow_mapping.flow.as_str())),
                format!(
                    "channel {} has no such flow; it supports {}",
                    spec.channel,
                    flow_list(spec.channel)
                ),
            ));
        }
        let mut targets = BTreeSet::new();
        for (j, field) in flow_mapping.fields.iter().enumerate() {
            let at = format!("{at}.fields[{j}]");
            if !targets.insert(field.target.as_str()) {
                out.push(item.diagnostic(
                    &format!("{at}.target"),
                    Some(quote(&field.target)),
                    "target mapped twice",
                ));
            }
            if let Err(e) = kube::core::cel::cel::Program::compile(&field.expression) {
                out.push(item.diagnostic(
                    &format!("{at}.expression"),
                    Some(quote(&field.expression)),
                    format!("CEL syntax error: {}", first_line(&e.to_string())),
                ));
            }
            for name in referenced_value_maps(&field.expression) {
                if !maps.contains(name) {
                    out.push(item.diagnostic(
                        &format!("{at}.expression"),
                        Some(quote(&field.expression)),
                        format!("uses value map {name:?}, which spec.valueMaps does not define"),
                    ));
                }
            }
            if let Some(default) = &field.default
                && serde_json::from_str::<Value>(default).is_err()
            {
                out.push(item.diagnostic(
                    &format!("{at}.default"),
                    Some(quote(default)),
                    "not a JSON literal (write strings in double quotes: '\"EA\"')",
                ));
            }
        }
    }
    let mut erp_skus = BTreeSet::new();
    for (i, xref) in spec.sku_cross_reference.iter().enumerate() {
        if !erp_skus.insert(xref.erp_sku.as_str()) {
            out.push(item.diagnostic(
                &format!("spec.skuCrossReference[{i}].erpSku"),
                Some(quote(&xref.erp_sku)),
                "ERP SKU listed twice",
            ));
        }
    }
}

fn first_line(s: &str) -> &str {
    s.lines().next().unwrap_or(s)
}

/// Names used as `maps.<name>` in an expression, outside string literals.
fn referenced_value_maps(expression: &str) -> Vec<&str> {
    let mut names = Vec::new();
    for code in code_outside_strings(expression) {
        names.extend(value_map_names_in(code));
    }
    names
}

/// The stretches of a CEL expression that are not inside '...' or "..." literals.
fn code_outside_strings(expression: &str) -> Vec<&str> {
    let mut parts = Vec::new();
    let mut start = 0;
    let mut quote: Option<char> = None;
    let mut escaped = false;
    for (i, c) in expression.char_indices() {
        match quote {
            Some(_) if escaped => escaped = false,
            Some(_) if c == '\\' => escaped = true,
            Some(q) if c == q => {
                quote = None;
                start = i + c.len_utf8();
            }
            Some(_) => {}
            None if c == '\'' || c == '"' => {
                parts.push(&expression[start..i]);
                quote = Some(c);
            }
            None => {}
        }
    }
    if quote.is_none() {
        parts.push(&expression[start..]);
    }
    parts
}

fn value_map_names_in(code: &str) -> Vec<&str> {
    let mut names = Vec::new();
    let mut rest = code;
    while let Some(at) = rest.find("maps.") {
        let preceded_by_ident = rest[..at]
            .chars()
            .next_back()
            .is_some_and(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.');
        let after = &rest[at + 5..];
        let end = after
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .unwrap_or(after.len());
        if !preceded_by_ident && end > 0 {
            names.push(&after[..end]);
        }
        rest = &after[end..];
    }
    names
}

fn check_rate_limit_policy(item: &Item, p: &RateLimitPolicy, out: &mut Vec<Diagnostic>) {
    let channel = p.spec.channel;
    let mut names = BTreeSet::new();
    for (i, op) in p.spec.operations.iter().enumerate() {
        let at = format!("spec.operations[{i}]");
        if !names.insert(op.name.as_str()) {
            out.push(item.diagnostic(
                &format!("{at}.name"),
                Some(quote(&op.name)),
                "operation listed twice",
            ));
        }
        let Some(known) = channel.operation(&op.name) else {
            let all: Vec<&str> = channel.operations().iter().map(|o| o.name).collect();
            out.push(item.diagnostic(
                &format!("{at}.name"),
                Some(quote(&op.name)),
                format!(
                    "channel {channel} has no such operation; it has {}",
                    all.join(", ")
                ),
            ));
            continue;
        };
        if let Some(bucket) = &op.token_bucket {
            check_bucket(item, &format!("{at}.tokenBucket"), bucket, out);
            if let Some(published) = known.published {
                let per = millis(&bucket.per);
                if bucket.unit != published.unit {
                    out.push(item.diagnostic(
                        &format!("{at}.tokenBucket.unit"),
                        Some(quote(unit_name(bucket.unit))),
                        format!(
                            "{} on {channel} counts {}",
                            op.name,
                            unit_name(published.unit)
                        ),
                    ));
                }
                if published.is_exceeded_by(u64::from(bucket.requests), per) {
                    out.push(item.diagnostic(
                        &format!("{at}.tokenBucket"),
                        Some(format!(
                            "{{\"requests\":{},\"per\":\"{}\"}}",
                            bucket.requests, bucket.per
                        )),
                        format!(
                            "rate {} is above the published limit of {} for {} ({})",
                            describe_rate(u64::from(bucket.requests), per),
                            published.describe_rate(),
                            op.name,
                            published.source
                        ),
                    ));
                }
                if u64::from(bucket.burst) > published.burst {
                    out.push(item.diagnostic(
                        &format!("{at}.tokenBucket.burst"),
                        Some(bucket.burst.to_string()),
                        format!(
                            "burst is above the published burst of {} for {} ({})",
                            published.burst, op.name, published.source
                        ),
                    ));
                }
            }
        }
        if let Some(retry) = &op.retry {
            check_retry(item, &format!("{at}.retry"), retry, out);
        }
    }
    if let Some(bucket) = &p.spec.defaults.token_bucket {
        check_bucket(item, "spec.defaults.tokenBucket", bucket, out);
    }
    check_retry(item, "spec.defaults.retry", &p.spec.defaults.retry, out);
}

fn unit_name(unit: LimitUnit) -> &'static str {
    match unit {
        LimitUnit::Requests => "Requests",
        LimitUnit::CostPoints => "CostPoints",
    }
}

fn millis(duration: &kube::core::Duration) -> u64 {
    let std: std::time::Duration = (*duration).into();
    u64::try_from(std.as_millis()).unwrap_or(u64::MAX)
}

fn check_bucket(item: &Item, at: &str, bucket: &TokenBucket, out: &mut Vec<Diagnostic>) {
    if millis(&bucket.per) == 0 {
        out.push(item.diagnostic(
            &format!("{at}.per"),
            Some(quote(&bucket.per.to_string())),
            "must be positive",
        ));
    }
}

fn check_retry(
    item: &Item,
    at: &str,
    retry: &crate::v1alpha1::RetryPolicy,
    out: &mut Vec<Diagnostic>,
) {
    if millis(&retry.initial_backoff) > millis(&retry.max_backoff) {
        out.push(item.diagnostic(
            &format!("{at}.initialBackoff"),
            Some(quote(&retry.initial_backoff.to_string())),
            format!("is longer than maxBackoff ({})", retry.max_backoff),
        ));
    }
}

fn check_sync_schedule(item: &Item, s: &SyncSchedule, index: &Index, out: &mut Vec<Diagnostic>) {
    let spec = &s.spec;
    if let Some(schedule) = &spec.schedule
        && let Err(e) = parse_cron(schedule)
    {
        out.push(item.diagnostic(
            "spec.schedule",
            Some(quote(schedule)),
            format!("not a cron expression: {e}"),
        ));
    }
    if let Err(e) = parse_time_zone(&spec.time_zone) {
        out.push(item.diagnostic("spec.timeZone", Some(quote(&spec.time_zone)), e));
    }
    if let Some(marketplace) = resolve(
        item,
        index,
        "spec.marketplaceRef.name",
        "Marketplace",
        &spec.marketplace_ref,
        out,
    ) && let Resource::Marketplace(marketplace) = &marketplace.resource
        && !marketplace.spec.flows.enabled().contains(&spec.flow)
    {
        out.push(item.diagnostic(
            "spec.flow",
            Some(quote(spec.flow.as_str())),
            format!(
                "flow is not enabled on Marketplace {:?} (spec.flows.{})",
                spec.marketplace_ref.name, spec.flow
            ),
        ));
    }
}

/// Parses a `SyncSchedule` cron expression (five fields, or six with seconds).
pub fn parse_cron(expression: &str) -> Result<croner::Cron, String> {
    croner::Cron::from_str(expression).map_err(|e| e.to_string())
}

/// Parses an IANA time zone name.
pub fn parse_time_zone(name: &str) -> Result<chrono_tz::Tz, String> {
    chrono_tz::Tz::from_str(name)
        .map_err(|_| "not an IANA time zone name (for example Europe/Paris or UTC)".to_string())
}

fn check_erp_connection(item: &Item, e: &ErpConnection, index: &Index, out: &mut Vec<Diagnostic>) {
    if let Some(rest) = &e.spec.sink.rest
        && let Some(reference) = &rest.rate_limit_policy_ref
        && let Some(policy) = resolve(
            item,
            index,
            "spec.sink.rest.rateLimitPolicyRef.name",
            "RateLimitPolicy",
            reference,
            out,
        )
        && let Resource::RateLimitPolicy(policy) = &policy.resource
        && policy.spec.channel != ChannelKind::Rest
    {
        out.push(item.diagnostic(
            "spec.sink.rest.rateLimitPolicyRef.name",
            Some(quote(&reference.name)),
            format!(
                "an ERP sink needs a RateLimitPolicy with channel rest, this one is for {}",
                policy.spec.channel
            ),
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn value_map_names_are_found_in_expressions() {
        assert_eq!(
            referenced_value_maps("maps.carrier[record.carrier] + maps.unit['EA']"),
            vec!["carrier", "unit"]
        );
        assert!(referenced_value_maps("record.maps.x").is_empty());
        assert!(referenced_value_maps("'see maps.location for details'").is_empty());
        assert_eq!(
            referenced_value_maps(r#""a \" maps.x" + maps.y[record.c]"#),
            vec!["y"]
        );
    }

    #[test]
    fn values_are_found_by_field_path() {
        let v = serde_json::json!({"spec": {"ops": [{"name": "x"}]}});
        assert_eq!(value_at(&v, "spec.ops[0].name").as_deref(), Some("\"x\""));
        assert_eq!(value_at(&v, "spec.missing"), None);
    }
}
