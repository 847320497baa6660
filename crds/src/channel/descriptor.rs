//! What a channel is, as plain `'static` data: its flows, API operations with published limits, Secret keys,
//! endpoint rules and listing revision budget. Each channel's crate states its own
//! (`channel_<name>::DESCRIPTOR`); the crate `channel-registry` lists them. Validation, the operator, the adapter
//! and `twctl up` learn about channels only through a [`Catalogue`] of descriptors, so what a manifest may
//! declare is what the connectors do.

use std::fmt;

use super::{ChannelKind, Direction, Flow, Operation};
use crate::v1alpha1::{Endpoint, MarketplaceSpec};

/// Everything Tradewind knows about one channel.
#[derive(Debug)]
pub struct ChannelDescriptor {
    pub kind: ChannelKind,
    /// The API the connector speaks, in a few words ("Amazon Selling Partner API").
    pub api: &'static str,
    /// The flows the connector runs: a Marketplace may enable these and no other.
    pub flows: &'static [FlowSupport],
    /// Every API operation the connector calls, by the name a `RateLimitPolicy` gives it.
    pub operations: &'static [Operation],
    /// The keys the connector reads from the Marketplace's credentials Secret.
    pub secret_keys: &'static [SecretKey],
    /// What `spec.endpoint` (and `spec.edi`) must and may say.
    pub endpoint: EndpointRules,
    /// How often one listing may be revised in a day, when the channel caps it.
    pub revision_budget: Option<RevisionBudget>,
}

/// A flow a channel's connector runs.
#[derive(Debug)]
pub struct FlowSupport {
    pub flow: Flow,
    /// What the connector does for it, in a few words.
    pub summary: &'static str,
    /// The operations (of [`ChannelDescriptor::operations`]) it calls.
    pub operations: &'static [&'static str],
}

impl FlowSupport {
    /// Which way the flow's records travel.
    pub fn direction(&self) -> Direction {
        self.flow.direction()
    }
}

/// A key of the Marketplace's credentials Secret (mounted as a file of that name).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SecretKey {
    pub name: &'static str,
    pub need: SecretNeed,
    /// What its value is, for docs and for messages that name the key (never the value).
    pub what: &'static str,
}

/// When a Secret key must be present.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SecretNeed {
    /// Always.
    Required,
    /// Read when present.
    Optional,
    /// When `spec.endpoint.baseUrl` has this scheme (EDI's SFTP login; a `file://` folder needs none).
    WithScheme(&'static str),
}

/// What `spec.endpoint` and the channel's own section must say.
#[derive(Debug)]
pub struct EndpointRules {
    pub base_url: BaseUrlRule,
    /// The OAuth token endpoint when `spec.endpoint.tokenUrl` is unset.
    pub token_url: TokenUrl,
    /// Fields the connector cannot run without.
    pub required: &'static [RequiredField],
}

/// `spec.endpoint.baseUrl`: its schemes and its production default.
#[derive(Debug)]
pub struct BaseUrlRule {
    /// What the URL points at ("the partner's transport"), for messages.
    pub what: &'static str,
    /// The URL schemes allowed (`https`, `sftp`, ...).
    pub schemes: &'static [&'static str],
    pub default: DefaultBaseUrl,
}

/// Where a channel is reached when `spec.endpoint.baseUrl` is unset.
#[derive(Debug)]
pub enum DefaultBaseUrl {
    /// Nowhere: the base URL is required (a Mirakl operator's own instance, a portal, an EDI transport).
    Required,
    /// One production host.
    Fixed(&'static str),
    /// One production host per region (`spec.endpoint.region`); the first is the default region's.
    Regional(&'static [RegionalUrl]),
    /// The seller's own host: `https://<sellerId>` when the seller id already ends in `suffix`, else
    /// `https://<sellerId><suffix>` (a Shopify store); without a seller id the base URL is required.
    FromSellerId { suffix: &'static str },
}

/// The production base URL of one region.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RegionalUrl {
    pub region: &'static str,
    pub url: &'static str,
}

/// Where a channel's OAuth token endpoint is when `spec.endpoint.tokenUrl` is unset.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TokenUrl {
    /// The channel has no token endpoint.
    None,
    /// One production URL.
    Fixed(&'static str),
    /// This path under the resolved base URL.
    UnderBaseUrl(&'static str),
}

/// A field the connector needs, and what to tell a user who left it out.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RequiredField {
    pub field: EndpointField,
    /// What the field must hold ("the selling partner id").
    pub what: &'static str,
}

/// The Marketplace fields a channel may require.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EndpointField {
    /// `spec.endpoint.marketplaceIds`, at least one.
    MarketplaceIds,
    /// `spec.endpoint.sellerId`, not empty and at most `max_len` characters.
    SellerId { max_len: Option<usize> },
    /// `spec.edi`, the trading-partner settings.
    EdiSettings,
}

impl EndpointField {
    /// The field's path in a Marketplace.
    pub fn path(self) -> &'static str {
        match self {
            EndpointField::MarketplaceIds => "spec.endpoint.marketplaceIds",
            EndpointField::SellerId { .. } => "spec.endpoint.sellerId",
            EndpointField::EdiSettings => "spec.edi",
        }
    }
}

/// A channel's cap on revisions of one listing per calendar day (eBay: 250). The outbound flows pace a
/// listing's updates so that its budget lasts the day.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RevisionBudget {
    /// Most revisions of one listing in one calendar day.
    pub per_listing_per_day: u32,
    /// Whose calendar day.
    pub day: CalendarDay,
    /// The operations whose successful calls revise a listing.
    pub operations: &'static [&'static str],
    /// Where the figure comes from.
    pub source: &'static str,
}

/// Where a calendar day starts and ends.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CalendarDay {
    Utc,
    /// In the time zone of the channel's marketplace (the site the listing is on).
    MarketplaceTimeZone,
}

/// Where validation, the operator and the adapter look channels up: the registry (crate `channel-registry`),
/// or in tests a slice of descriptors.
pub trait Catalogue: Sync {
    /// The descriptor of `kind`, `None` when this build has no such channel.
    fn descriptor(&self, kind: ChannelKind) -> Option<&'static ChannelDescriptor>;
}

impl Catalogue for [&'static ChannelDescriptor] {
    fn descriptor(&self, kind: ChannelKind) -> Option<&'static ChannelDescriptor> {
        self.iter().copied().find(|d| d.kind == kind)
    }
}

/// A flow a Marketplace or ChannelMapping declares that its channel does not run.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("channel {channel} has no {flow} flow; it supports {supported}")]
pub struct UnsupportedFlow {
    pub channel: ChannelKind,
    pub flow: Flow,
    /// The channel's flows, comma-separated.
    pub supported: String,
}

/// Something in a Marketplace's spec its channel cannot run with: the field, the value when there is one, why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SpecProblem {
    pub field_path: String,
    /// The offending value, rendered as JSON.
    pub value: Option<String>,
    pub message: String,
}

impl fmt::Display for SpecProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.field_path, self.message)
    }
}

impl ChannelDescriptor {
    pub fn supports(&self, flow: Flow) -> bool {
        self.flows.iter().any(|f| f.flow == flow)
    }

    pub fn flow(&self, flow: Flow) -> Option<&'static FlowSupport> {
        self.flows.iter().find(|f| f.flow == flow)
    }

    /// `Ok` when the connector runs `flow`, else the error every check reports.
    pub fn check_flow(&self, flow: Flow) -> Result<(), UnsupportedFlow> {
        if self.supports(flow) {
            return Ok(());
        }
        Err(UnsupportedFlow {
            channel: self.kind,
            flow,
            supported: self
                .flows
                .iter()
                .map(|f| f.flow.as_str())
                .collect::<Vec<_>>()
                .join(", "),
        })
    }

    pub fn operation(&self, name: &str) -> Option<&'static Operation> {
        self.operations.iter().find(|op| op.name == name)
    }

    pub fn secret_key(&self, name: &str) -> Option<&'static SecretKey> {
        self.secret_keys.iter().find(|k| k.name == name)
    }

    /// Everything in `spec` this channel cannot run: flows it does not have, then the endpoint's problems.
    /// Pure; validation reports each as a diagnostic, the operator the first as the Marketplace's status.
    pub fn check_marketplace(&self, spec: &MarketplaceSpec) -> Vec<SpecProblem> {
        let mut problems: Vec<SpecProblem> = spec
            .flows
            .enabled()
            .into_iter()
            .filter_map(|flow| self.check_flow(flow).err())
            .map(|e| SpecProblem {
                field_path: format!("spec.flows.{}", e.flow),
                value: None,
                message: e.to_string(),
            })
            .collect();
        problems.extend(self.check_endpoint(spec));
        problems
    }

    fn check_endpoint(&self, spec: &MarketplaceSpec) -> Vec<SpecProblem> {
        let mut problems = Vec::new();
        let endpoint = &spec.endpoint;
        let rules = &self.endpoint;
        let kind = self.kind;
        let problem = |field_path: &str, value: Option<&str>, message: String| SpecProblem {
            field_path: field_path.to_string(),
            value: value.map(quote),
            message,
        };
        let base_url = endpoint.base_url.as_deref();
        let base_url_needed = match rules.base_url.default {
            DefaultBaseUrl::Required => true,
            DefaultBaseUrl::FromSellerId { .. } => endpoint.seller_id.is_none(),
            DefaultBaseUrl::Fixed(_) | DefaultBaseUrl::Regional(_) => false,
        };
        let wrong_scheme =
            base_url.is_some_and(|url| !rules.base_url.schemes.contains(&scheme(url).as_str()));
        if wrong_scheme || (base_url.is_none() && base_url_needed) {
            let or_seller = match rules.base_url.default {
                DefaultBaseUrl::FromSellerId { suffix } if base_url.is_none() => {
                    format!(", or the seller's <name>{suffix} domain in spec.endpoint.sellerId")
                }
                _ => String::new(),
            };
            problems.push(problem(
                "spec.endpoint.baseUrl",
                base_url,
                format!(
                    "channel {kind} needs {} (scheme {}){or_seller}",
                    rules.base_url.what,
                    rules.base_url.schemes.join(" or ")
                ),
            ));
        }
        if let (DefaultBaseUrl::Regional(regions), Some(region)) =
            (&rules.base_url.default, endpoint.region.as_deref())
            && !regions.iter().any(|r| r.region == region)
        {
            let names: Vec<&str> = regions.iter().map(|r| r.region).collect();
            problems.push(problem(
                "spec.endpoint.region",
                Some(region),
                format!(
                    "channel {kind} has no region {region:?}; its regions are {}",
                    names.join(", ")
                ),
            ));
        }
        for required in rules.required {
            let missing = match required.field {
                EndpointField::MarketplaceIds => endpoint.marketplace_ids.is_empty(),
                EndpointField::SellerId { max_len } => {
                    endpoint.seller_id.as_deref().is_none_or(|id| {
                        id.is_empty() || max_len.is_some_and(|max| id.chars().count() > max)
                    })
                }
                EndpointField::EdiSettings => spec.edi.is_none(),
            };
            if missing {
                let value = match required.field {
                    EndpointField::SellerId { .. } => endpoint.seller_id.as_deref(),
                    _ => None,
                };
                problems.push(problem(
                    required.field.path(),
                    value,
                    format!("channel {kind} needs {}", required.what),
                ));
            }
        }
        problems
    }

    /// The base URL the connector calls: `spec.endpoint.baseUrl` when set (without a trailing `/`), else the
    /// production default for the endpoint's region or seller. The error names the field to set.
    pub fn base_url(&self, endpoint: &Endpoint) -> Result<String, String> {
        if let Some(url) = &endpoint.base_url {
            return Ok(url.trim_end_matches('/').to_string());
        }
        let kind = self.kind;
        let what = self.endpoint.base_url.what;
        match &self.endpoint.base_url.default {
            DefaultBaseUrl::Required => Err(format!(
                "spec.endpoint.baseUrl is required for channel {kind}: {what}, there is no production default"
            )),
            DefaultBaseUrl::Fixed(url) => Ok((*url).to_string()),
            DefaultBaseUrl::Regional(regions) => {
                let found = match endpoint.region.as_deref() {
                    Some(region) => regions.iter().find(|r| r.region == region),
                    None => regions.first(),
                };
                found.map(|r| r.url.to_string()).ok_or_else(|| {
                    let names: Vec<&str> = regions.iter().map(|r| r.region).collect();
                    format!(
                        "spec.endpoint.region: channel {kind} has no region {:?}; its regions are {}",
                        endpoint.region.as_deref().unwrap_or_default(),
                        names.join(", ")
                    )
                })
            }
            DefaultBaseUrl::FromSellerId { suffix } => match endpoint.seller_id.as_deref() {
                Some(seller) if seller.ends_with(suffix) => Ok(format!("https://{seller}")),
                Some(seller) => Ok(format!("https://{seller}{suffix}")),
                None => Err(format!(
                    "spec.endpoint.sellerId (<name>{suffix}) or spec.endpoint.baseUrl is required for channel {kind}"
                )),
            },
        }
    }

    /// The OAuth token endpoint: `spec.endpoint.tokenUrl` when set, else the channel's default for `base_url`
    /// (the resolved one). `None` when the channel has no token endpoint.
    pub fn token_url(&self, endpoint: &Endpoint, base_url: &str) -> Option<String> {
        if let Some(url) = &endpoint.token_url {
            return Some(url.clone());
        }
        match self.endpoint.token_url {
            TokenUrl::None => None,
            TokenUrl::Fixed(url) => Some(url.to_string()),
            TokenUrl::UnderBaseUrl(path) => {
                Some(format!("{}{path}", base_url.trim_end_matches('/')))
            }
        }
    }

    /// The descriptor's own consistency: every operation a flow or the revision budget names exists, names are
    /// unique, no flow is listed twice, limits are positive. The registry's test runs it on every channel.
    pub fn inconsistencies(&self) -> Vec<String> {
        let kind = self.kind;
        let mut out = Vec::new();
        let mut names: Vec<&str> = self.operations.iter().map(|op| op.name).collect();
        names.sort_unstable();
        for pair in names.windows(2) {
            if pair[0] == pair[1] {
                out.push(format!("{kind}: operation {} listed twice", pair[0]));
            }
        }
        let mut flows: Vec<Flow> = self.flows.iter().map(|f| f.flow).collect();
        flows.sort_unstable();
        for pair in flows.windows(2) {
            if pair[0] == pair[1] {
                out.push(format!("{kind}: flow {} listed twice", pair[0]));
            }
        }
        let named = self
            .flows
            .iter()
            .flat_map(|f| f.operations.iter().map(move |op| (f.flow.as_str(), *op)))
            .chain(
                self.revision_budget
                    .iter()
                    .flat_map(|b| b.operations.iter().map(|op| ("revision budget", *op))),
            );
        for (by, name) in named {
            if self.operation(name).is_none() {
                out.push(format!(
                    "{kind}: {by} names operation {name}, which is not listed"
                ));
            }
        }
        for op in self.operations {
            if let Some(limit) = op.published
                && (limit.requests == 0 || limit.per_millis == 0 || limit.burst == 0)
            {
                out.push(format!(
                    "{kind}: {} has a zero in its published limit",
                    op.name
                ));
            }
            if op.max_batch == Some(0) {
                out.push(format!("{kind}: {} has a batch of zero records", op.name));
            }
        }
        if let DefaultBaseUrl::Regional([]) = self.endpoint.base_url.default {
            out.push(format!("{kind}: regional endpoints without a region"));
        }
        out
    }
}

/// The scheme of a URL (`https` of `https://...`), lowercased; empty when there is none.
fn scheme(url: &str) -> String {
    url.split_once("://")
        .map(|(scheme, _)| scheme.to_ascii_lowercase())
        .unwrap_or_default()
}

fn quote(s: &str) -> String {
    serde_json::Value::String(s.to_string()).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::channel::op;

    static REGIONAL: ChannelDescriptor = ChannelDescriptor {
        kind: ChannelKind::Amazon,
        api: "test",
        flows: &[
            FlowSupport {
                flow: Flow::Inventory,
                summary: "",
                operations: &["put"],
            },
            FlowSupport {
                flow: Flow::Orders,
                summary: "",
                operations: &["list"],
            },
        ],
        operations: &[op("put", "", None, Some(10)), op("list", "", None, None)],
        secret_keys: &[],
        endpoint: EndpointRules {
            base_url: BaseUrlRule {
                what: "the host",
                schemes: &["https"],
                default: DefaultBaseUrl::Regional(&[
                    RegionalUrl {
                        region: "na",
                        url: "https://na.test",
                    },
                    RegionalUrl {
                        region: "eu",
                        url: "https://eu.test",
                    },
                ]),
            },
            token_url: TokenUrl::UnderBaseUrl("/token"),
            required: &[RequiredField {
                field: EndpointField::SellerId { max_len: Some(3) },
                what: "a seller",
            }],
        },
        revision_budget: None,
    };

    static PER_SELLER: ChannelDescriptor = ChannelDescriptor {
        kind: ChannelKind::Shopify,
        api: "test",
        flows: &[],
        operations: &[],
        secret_keys: &[],
        endpoint: EndpointRules {
            base_url: BaseUrlRule {
                what: "the store",
                schemes: &["https", "http"],
                default: DefaultBaseUrl::FromSellerId {
                    suffix: ".shop.test",
                },
            },
            token_url: TokenUrl::None,
            required: &[],
        },
        revision_budget: None,
    };

    fn spec(yaml: &str) -> MarketplaceSpec {
        let base = "channel: amazon\ncredentialsSecretRef: {name: c}\nerpConnectionRef: {name: e}\n\
                    channelMappingRef: {name: m}\nrateLimitPolicyRef: {name: r}\ncurrency: USD\n";
        match serde_yaml_ng::from_str(&format!("{base}{yaml}")) {
            Ok(spec) => spec,
            Err(e) => panic!("{e}"),
        }
    }

    fn fields(problems: &[SpecProblem]) -> Vec<&str> {
        problems.iter().map(|p| p.field_path.as_str()).collect()
    }

    #[test]
    fn a_flow_the_channel_does_not_run_is_named_with_the_ones_it_does() {
        let problems = REGIONAL.check_marketplace(&spec(
            "endpoint: {sellerId: abc}\nflows: {inventory: {}, returns: {}}\n",
        ));
        assert_eq!(fields(&problems), ["spec.flows.returns"]);
        assert_eq!(
            problems[0].message,
            "channel amazon has no returns flow; it supports inventory, orders"
        );
        assert!(REGIONAL.check_flow(Flow::Orders).is_ok());
    }

    #[test]
    fn endpoint_rules_name_the_field_and_value() {
        let problems = REGIONAL.check_marketplace(&spec(
            "endpoint: {baseUrl: 'sftp://x', region: us, sellerId: abcd}\nflows: {inventory: {}}\n",
        ));
        assert_eq!(
            fields(&problems),
            [
                "spec.endpoint.baseUrl",
                "spec.endpoint.region",
                "spec.endpoint.sellerId"
            ]
        );
        assert_eq!(problems[0].value.as_deref(), Some("\"sftp://x\""));
        assert_eq!(
            problems[1].message,
            "channel amazon has no region \"us\"; its regions are na, eu"
        );
        assert_eq!(problems[2].message, "channel amazon needs a seller");
        assert!(
            REGIONAL
                .check_marketplace(&spec(
                    "endpoint: {baseUrl: 'HTTPS://x', sellerId: abc}\nflows: {}\n"
                ))
                .is_empty()
        );
    }

    #[test]
    fn a_store_needs_its_seller_id_or_a_base_url() {
        let problems = PER_SELLER.check_marketplace(&spec("flows: {}\n"));
        assert_eq!(fields(&problems), ["spec.endpoint.baseUrl"]);
        assert!(
            problems[0].message.contains("spec.endpoint.sellerId"),
            "{}",
            problems[0].message
        );
        assert!(
            PER_SELLER
                .check_marketplace(&spec("endpoint: {sellerId: acme}\nflows: {}\n"))
                .is_empty()
        );
    }

    #[test]
    fn base_and_token_urls_default_to_production() {
        let endpoint = |yaml: &str| spec(&format!("{yaml}\nflows: {{}}\n")).endpoint;
        assert_eq!(
            REGIONAL.base_url(&endpoint("endpoint: {}")).as_deref(),
            Ok("https://na.test")
        );
        assert_eq!(
            REGIONAL
                .base_url(&endpoint("endpoint: {region: eu}"))
                .as_deref(),
            Ok("https://eu.test")
        );
        assert!(
            REGIONAL
                .base_url(&endpoint("endpoint: {region: us}"))
                .is_err_and(|e| e.contains("spec.endpoint.region"))
        );
        assert_eq!(
            REGIONAL
                .base_url(&endpoint("endpoint: {baseUrl: 'http://127.0.0.1:9/'}"))
                .as_deref(),
            Ok("http://127.0.0.1:9")
        );
        assert_eq!(
            REGIONAL.token_url(&endpoint("endpoint: {}"), "https://eu.test/"),
            Some("https://eu.test/token".to_string())
        );
        assert_eq!(
            PER_SELLER
                .base_url(&endpoint("endpoint: {sellerId: acme}"))
                .as_deref(),
            Ok("https://acme.shop.test")
        );
        assert_eq!(
            PER_SELLER
                .base_url(&endpoint("endpoint: {sellerId: acme.shop.test}"))
                .as_deref(),
            Ok("https://acme.shop.test")
        );
        assert_eq!(PER_SELLER.token_url(&endpoint("endpoint: {}"), "x"), None);
    }

    #[test]
    fn inconsistencies_are_found() {
        static BROKEN: ChannelDescriptor = ChannelDescriptor {
            kind: ChannelKind::Rest,
            api: "test",
            flows: &[FlowSupport {
                flow: Flow::Inventory,
                summary: "",
                operations: &["missing"],
            }],
            operations: &[op("a", "", None, Some(0)), op("a", "", None, None)],
            secret_keys: &[],
            endpoint: EndpointRules {
                base_url: BaseUrlRule {
                    what: "",
                    schemes: &["https"],
                    default: DefaultBaseUrl::Required,
                },
                token_url: TokenUrl::None,
                required: &[],
            },
            revision_budget: None,
        };
        let problems = BROKEN.inconsistencies();
        assert_eq!(problems.len(), 3, "{problems:#?}");
        assert!(REGIONAL.inconsistencies().is_empty());
    }
}
