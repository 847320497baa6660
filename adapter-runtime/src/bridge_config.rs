//! The ERP bridge's configuration: everything the operator (or the local mode) resolved for one
//! `ErpConnection` — its spec, the marketplaces whose orders it receives, the sink's rate limits, where NATS is —
//! rendered into a ConfigMap and mounted as a file. No credential is ever in it: the referenced Secrets are
//! mounted as files under `secrets_dir/<secret name>/<key>`.

use std::path::{Path, PathBuf};

use crds::v1alpha1::{ErpConnectionSpec, RateLimitPolicySpec, SecretKeySelector};
use serde::{Deserialize, Serialize};

use crate::config::{ConfigError, EmbeddedSpec, NatsSettings, parse_checked, read};

/// A resolved bridge configuration.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct BridgeConfig {
    /// Namespace of the `ErpConnection`; every subject and stream of this bridge carries it.
    pub namespace: String,
    /// Name of the `ErpConnection`.
    pub erp_connection: String,
    /// Its spec, as applied.
    pub spec: ErpConnectionSpec,
    /// Names of the marketplaces (same namespace) whose `spec.erpConnectionRef` names this connection: their
    /// orders, returns and settlements go to this ERP.
    #[serde(default)]
    pub marketplaces: Vec<String>,
    /// The sink's `RateLimitPolicy` spec (`spec.sink.rest.rateLimitPolicyRef`), resolved; none when the sink
    /// references none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sink_rate_limits: Option<RateLimitPolicySpec>,
    pub nats: NatsSettings,
    /// Where the referenced Secrets are mounted, one folder per Secret, one file per key.
    #[serde(default = "default_secrets_dir")]
    pub secrets_dir: PathBuf,
    /// Where `/metrics`, `/healthz`, `/readyz` (and the webhook source) are served.
    #[serde(default = "default_http_address")]
    pub http_address: String,
}

/// The folder the operator mounts Secrets under in the bridge Pod.
pub fn default_secrets_dir() -> PathBuf {
    PathBuf::from("/var/run/secrets/tradewind")
}

fn default_http_address() -> String {
    "0.0.0.0:8080".into()
}

impl BridgeConfig {
    /// Reads and checks a configuration file (YAML or JSON).
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        Self::parse(&path.display().to_string(), &read(path)?)
    }

    /// Parses a configuration and checks the embedded specs against their CRD schemas and CEL rules, as the API
    /// server would have. Errors name the field.
    pub fn parse(origin: &str, text: &str) -> Result<Self, ConfigError> {
        parse_checked(
            origin,
            text,
            &[
                EmbeddedSpec {
                    at: "spec",
                    kind: "ErpConnection",
                    pointer: "/spec",
                },
                EmbeddedSpec {
                    at: "sinkRateLimits",
                    kind: "RateLimitPolicy",
                    pointer: "/sinkRateLimits",
                },
            ],
        )
    }

    /// The value of a referenced Secret key, trimmed. The error names the Secret and the key, never a value.
    pub fn secret(&self, selector: &SecretKeySelector) -> Result<String, String> {
        let path = self.secrets_dir.join(&selector.name).join(&selector.key);
        match std::fs::read_to_string(&path) {
            Ok(value) if !value.trim().is_empty() => Ok(value.trim().to_string()),
            Ok(_) => Err(format!(
                "Secret {}, key {:?} is empty",
                selector.name, selector.key
            )),
            Err(e) => Err(format!(
                "Secret {}, key {:?} is not mounted at {}: {e}",
                selector.name,
                selector.key,
                path.display()
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MINIMAL: &str = r#"
namespace: demo
erpConnection: erp
spec:
  source:
    postgresOutbox: {dsnSecretRef: {name: erp-db, key: dsn}}
  sink:
    rest: {baseUrl: "http://127.0.0.1:1"}
marketplaces: [portal]
nats: {url: "nats://127.0.0.1:4222"}
"#;

    #[test]
    fn a_minimal_configuration_takes_defaults() {
        let config = BridgeConfig::parse("inline", MINIMAL).unwrap();
        assert_eq!(config.http_address, "0.0.0.0:8080");
        assert_eq!(config.secrets_dir, default_secrets_dir());
        let outbox = config.spec.source.postgres_outbox.unwrap();
        assert_eq!(outbox.table, "tradewind_outbox");
        assert_eq!(config.marketplaces, vec!["portal".to_string()]);
    }

    #[test]
    fn errors_name_the_field() {
        let broken = MINIMAL.replace("marketplaces:", "marketplace:");
        let error = BridgeConfig::parse("inline", &broken)
            .unwrap_err()
            .to_string();
        assert!(error.contains("marketplace"), "{error}");
    }

    #[test]
    fn two_sources_are_refused_by_the_schema_rule() {
        let broken = MINIMAL.replace(
            "postgresOutbox:",
            "nats: {subject: erp.>}\n    postgresOutbox:",
        );
        let error = BridgeConfig::parse("inline", &broken)
            .unwrap_err()
            .to_string();
        assert!(error.contains("spec.source"), "{error}");
    }

    #[test]
    fn a_secret_error_names_the_key_not_the_value() {
        let dir = std::env::temp_dir().join(format!("bridge-config-{}", std::process::id()));
        std::fs::create_dir_all(dir.join("erp-db")).unwrap();
        std::fs::write(dir.join("erp-db/dsn"), "postgres://secret@x/y\n").unwrap();
        let mut config = BridgeConfig::parse("inline", MINIMAL).unwrap();
        config.secrets_dir = dir.clone();
        let dsn = SecretKeySelector {
            name: "erp-db".into(),
            key: "dsn".into(),
        };
        assert_eq!(config.secret(&dsn).unwrap(), "postgres://secret@x/y");
        let missing = SecretKeySelector {
            name: "erp-db".into(),
            key: "token".into(),
        };
        let error = config.secret(&missing).unwrap_err();
        assert!(error.contains("\"token\""), "{error}");
        assert!(!error.contains("secret@"), "{error}");
        let _ = std::fs::remove_dir_all(dir);
    }
}
