//! The adapter's configuration: everything the operator resolved for one `Marketplace` (its spec, mapping and
//! rate limits, where NATS is), rendered into a ConfigMap and mounted as a file. Credentials are never in it:
//! they are files in `credentialsDir`, mounted from the Secret.

use std::path::{Path, PathBuf};

use crds::v1alpha1::{ChannelMappingSpec, MarketplaceSpec, RateLimitPolicySpec};
use serde::{Deserialize, Serialize};

/// A resolved adapter configuration.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AdapterConfig {
    /// Namespace of the `Marketplace`; every subject and stream of this adapter carries it.
    pub namespace: String,
    /// Name of the `Marketplace`.
    pub marketplace: String,
    /// Its spec, as applied.
    pub spec: MarketplaceSpec,
    /// The referenced `ChannelMapping`, when it exists.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mapping: Option<Named<ChannelMappingSpec>>,
    /// The referenced `RateLimitPolicy`.
    pub rate_limits: Named<RateLimitPolicySpec>,
    pub nats: NatsSettings,
    /// Folder holding the credentials Secret's keys as files.
    #[serde(default = "default_credentials_dir")]
    pub credentials_dir: PathBuf,
    /// How long a message may stay unacknowledged before JetStream gives it to another replica (default 30 s):
    /// the recovery time after a replica is killed.
    #[serde(default = "default_ack_wait", with = "humantime_duration")]
    pub ack_wait: std::time::Duration,
    /// Where `/metrics`, `/healthz` and `/readyz` are served.
    #[serde(default = "default_http_address")]
    pub http_address: String,
}

/// A referenced resource with its name.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Named<T> {
    pub name: String,
    pub spec: T,
}

/// How to reach NATS.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NatsSettings {
    /// Server URLs, comma-separated (`nats://nats.tradewind.svc:4222`).
    pub url: String,
    /// A NATS credentials file (JWT and seed), mounted from a Secret.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credentials_file: Option<PathBuf>,
    /// A CA bundle to verify the server's TLS certificate.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls_ca_file: Option<PathBuf>,
}

fn default_credentials_dir() -> PathBuf {
    PathBuf::from("/var/run/secrets/tradewind/credentials")
}

fn default_ack_wait() -> std::time::Duration {
    crate::topology::DEFAULT_ACK_WAIT
}

/// Durations as Go-style strings (`30s`, `1m30s`), like the custom resources.
mod humantime_duration {
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    pub fn serialize<S: Serializer>(
        value: &std::time::Duration,
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        kube::core::Duration::from(*value).serialize(serializer)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<std::time::Duration, D::Error> {
        let duration = kube::core::Duration::deserialize(deserializer)?;
        if duration.is_negative() {
            return Err(serde::de::Error::custom("must not be negative"));
        }
        Ok(duration.into())
    }
}

fn default_http_address() -> String {
    "0.0.0.0:9090".into()
}

/// A configuration file that cannot be used, with the field at fault.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read {path}: {message}")]
    Read { path: String, message: String },
    #[error("{path}: {field}: {message}")]
    Invalid {
        path: String,
        field: String,
        message: String,
    },
}

impl AdapterConfig {
    /// Reads and checks a configuration file (YAML or JSON).
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        Self::parse(&path.display().to_string(), &read(path)?)
    }

    /// Parses a configuration and checks the embedded specs against their CRD schemas and CEL rules, as the API
    /// server would have: a hand-written configuration (local mode) gets the same checks as a resource.
    pub fn parse(origin: &str, text: &str) -> Result<Self, ConfigError> {
        parse_checked(
            origin,
            text,
            &[
                EmbeddedSpec {
                    at: "spec",
                    kind: "Marketplace",
                    pointer: "/spec",
                },
                EmbeddedSpec {
                    at: "mapping.spec",
                    kind: "ChannelMapping",
                    pointer: "/mapping/spec",
                },
                EmbeddedSpec {
                    at: "rateLimits.spec",
                    kind: "RateLimitPolicy",
                    pointer: "/rateLimits/spec",
                },
            ],
        )
    }
}

/// A resource spec embedded in a rendered configuration, checked against its CRD schema.
#[derive(Clone, Copy, Debug)]
pub struct EmbeddedSpec<'a> {
    /// Its field path in the configuration, as errors name it (`mapping.spec`).
    pub at: &'a str,
    /// The resource kind whose schema applies (`ChannelMapping`).
    pub kind: &'a str,
    /// Where it is, as a JSON pointer (`/mapping/spec`); an absent spec is not checked.
    pub pointer: &'a str,
}

/// The text of a configuration file; the error names the file.
pub fn read(path: &Path) -> Result<String, ConfigError> {
    std::fs::read_to_string(path).map_err(|e| ConfigError::Read {
        path: path.display().to_string(),
        message: e.to_string(),
    })
}

/// Parses a rendered configuration (YAML or JSON) as `T`, naming the field of a type error, then checks each
/// embedded spec against its CRD schema and CEL rules, as the API server would have. Shared by the adapter's
/// and the ERP bridge's configurations.
pub fn parse_checked<T: serde::de::DeserializeOwned>(
    origin: &str,
    text: &str,
    embedded: &[EmbeddedSpec<'_>],
) -> Result<T, ConfigError> {
    let invalid = |field: String, message: String| ConfigError::Invalid {
        path: origin.to_string(),
        field,
        message,
    };
    let raw: serde_json::Value =
        serde_yaml_ng::from_str(text).map_err(|e| invalid(String::new(), e.to_string()))?;
    let config: T = serde_path_to_error::deserialize(&raw)
        .map_err(|e| invalid(e.path().to_string(), e.inner().to_string()))?;
    let schemas =
        crds::schema::SchemaSet::generated().map_err(|e| invalid(String::new(), e.to_string()))?;
    for spec in embedded {
        let Some(value) = raw.pointer(spec.pointer) else {
            continue;
        };
        let document = serde_json::json!({
            "apiVersion": crds::v1alpha1::API_VERSION,
            "kind": spec.kind,
            "metadata": {"name": "config"},
            "spec": value,
        });
        if let Some(problem) = schemas.check(spec.kind, &document).into_iter().next() {
            let field = problem
                .field_path
                .strip_prefix("spec")
                .unwrap_or(&problem.field_path);
            return Err(invalid(format!("{}{field}", spec.at), problem.message));
        }
    }
    Ok(config)
}

/// The adapter configuration of Marketplace `name` in `namespace`, resolved from a validated set of resources
/// (its ChannelMapping when present, its RateLimitPolicy), for the local mode and tests; the operator resolves
/// the same from the cluster. Errors name the missing reference.
pub fn resolve_from_items(
    items: &[crds::validation::Item],
    namespace: &str,
    name: &str,
    nats: NatsSettings,
    credentials_dir: PathBuf,
) -> Result<AdapterConfig, String> {
    use crds::validation::Resource;
    let find = |kind: &str, wanted: &str| {
        items
            .iter()
            .find(|i| i.namespace == namespace && i.name == wanted && i.resource.kind() == kind)
    };
    let Some(Resource::Marketplace(marketplace)) = find("Marketplace", name).map(|i| &i.resource)
    else {
        return Err(format!("Marketplace {namespace}/{name}: not found"));
    };
    let spec = marketplace.spec.clone();
    let mapping = match find("ChannelMapping", &spec.channel_mapping_ref.name).map(|i| &i.resource)
    {
        Some(Resource::ChannelMapping(m)) => Some(Named {
            name: spec.channel_mapping_ref.name.clone(),
            spec: m.spec.clone(),
        }),
        _ => None,
    };
    let rate_limits = match find("RateLimitPolicy", &spec.rate_limit_policy_ref.name)
        .map(|i| &i.resource)
    {
        Some(Resource::RateLimitPolicy(p)) => Named {
            name: spec.rate_limit_policy_ref.name.clone(),
            spec: p.spec.clone(),
        },
        _ => {
            return Err(format!(
                "Marketplace {namespace}/{name}: spec.rateLimitPolicyRef: RateLimitPolicy {} not found",
                spec.rate_limit_policy_ref.name
            ));
        }
    };
    Ok(AdapterConfig {
        namespace: namespace.to_string(),
        marketplace: name.to_string(),
        spec,
        mapping,
        rate_limits,
        nats,
        credentials_dir,
        ack_wait: default_ack_wait(),
        http_address: "127.0.0.1:0".to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const MINIMAL: &str = r#"
namespace: demo
marketplace: portal
spec:
  channel: rest
  endpoint: {baseUrl: "http://127.0.0.1:1"}
  credentialsSecretRef: {name: portal}
  erpConnectionRef: {name: erp}
  channelMappingRef: {name: portal}
  rateLimitPolicyRef: {name: portal}
  currency: USD
  flows: {inventory: {}}
rateLimits:
  name: portal
  spec: {channel: rest}
nats: {url: "nats://127.0.0.1:4222"}
"#;

    #[test]
    fn a_minimal_configuration_takes_defaults() {
        let config = AdapterConfig::parse("inline", MINIMAL).unwrap();
        assert_eq!(config.http_address, "0.0.0.0:9090");
        assert_eq!(config.spec.adapter.replicas, 1);
    }

    #[test]
    fn errors_name_the_field() {
        let broken = MINIMAL.replace("currency: USD", "currency: USD\n  flows2: {}");
        let error = AdapterConfig::parse("inline", &broken)
            .unwrap_err()
            .to_string();
        assert!(error.starts_with("inline: spec"), "{error}");
        assert!(error.contains("flows2"), "{error}");
    }
}
