//! The resolved configuration of one bridge, rendered by the operator (or the local mode) like the adapter's:
//! the `ErpConnection`, the marketplaces that reference it, NATS, and where the referenced Secrets are
//! mounted. No credential is ever in it: Secrets are files under `secrets_dir/<secret name>/<key>`.

use std::path::{Path, PathBuf};

use adapter_runtime::config::NatsSettings;
use crds::v1alpha1::{ErpConnectionSpec, RateLimitPolicySpec, SecretKeySelector};
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct BridgeConfig {
    /// Namespace of the `ErpConnection`; every subject carries it.
    pub namespace: String,
    /// Name of the `ErpConnection`.
    pub erp_connection: String,
    pub spec: ErpConnectionSpec,
    /// The marketplaces whose orders this ERP receives.
    pub marketplaces: Vec<String>,
    /// The sink's `RateLimitPolicy` (`spec.sink.rest.rateLimitPolicyRef`), resolved.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sink_rate_limits: Option<RateLimitPolicySpec>,
    pub nats: NatsSettings,
    /// Where referenced Secrets are mounted, one folder per Secret.
    #[serde(default = "default_secrets_dir")]
    pub secrets_dir: PathBuf,
    /// Where `/metrics`, `/healthz` and `/readyz` (and the webhook source) are served.
    #[serde(default = "default_http_address")]
    pub http_address: String,
}

fn default_secrets_dir() -> PathBuf {
    PathBuf::from("/var/run/secrets/tradewind")
}

fn default_http_address() -> String {
    "0.0.0.0:8080".into()
}

impl BridgeConfig {
    /// Reads a configuration file (YAML or JSON); errors name the field.
    pub fn load(path: &Path) -> Result<BridgeConfig, String> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        let deserializer = serde_yaml_ng::Deserializer::from_str(&text);
        serde_path_to_error::deserialize(deserializer)
            .map_err(|e| format!("{}: {}: {}", path.display(), e.path(), e.inner()))
    }

    /// The value of a referenced Secret key. The error names the Secret and key, never a value.
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
