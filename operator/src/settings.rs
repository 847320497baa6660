//! The operator's own settings (flags and environment, set from the chart's values): which images to run and
//! how adapters and bridges reach NATS. Pure data; [`crate::render`] reads it.

use std::path::PathBuf;

/// Where the NATS client credentials (a `.creds` file) and CA bundle are mounted in adapter and bridge pods.
pub const NATS_CREDENTIALS_DIR: &str = "/var/run/secrets/tradewind/nats";
/// Key of the NATS credentials Secret holding the `.creds` file.
pub const NATS_CREDENTIALS_KEY: &str = "nats.creds";
/// Where the CA bundle Secret is mounted.
pub const NATS_TLS_DIR: &str = "/var/run/secrets/tradewind/nats-tls";
/// Key of the CA bundle Secret.
pub const NATS_TLS_CA_KEY: &str = "ca.crt";

/// How adapters and bridges of a namespace reach NATS. Credentials are named Secrets (in the workload's
/// namespace), never values: the rendered ConfigMap only holds the paths they are mounted at.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NatsConnection {
    /// Server URLs, comma-separated.
    pub url: String,
    /// Secret holding `nats.creds` (JWT and seed), when NATS requires authentication.
    pub credentials_secret: Option<String>,
    /// Secret holding `ca.crt`, when the server's certificate is signed by a private CA.
    pub tls_ca_secret: Option<String>,
}

impl NatsConnection {
    /// The adapter-runtime settings pointing at the mounted files.
    pub fn to_runtime(&self) -> adapter_runtime::config::NatsSettings {
        adapter_runtime::config::NatsSettings {
            url: self.url.clone(),
            credentials_file: self
                .credentials_secret
                .as_ref()
                .map(|_| PathBuf::from(NATS_CREDENTIALS_DIR).join(NATS_CREDENTIALS_KEY)),
            tls_ca_file: self
                .tls_ca_secret
                .as_ref()
                .map(|_| PathBuf::from(NATS_TLS_DIR).join(NATS_TLS_CA_KEY)),
        }
    }
}

/// What the renderer needs from the operator's configuration.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RenderSettings {
    /// Image of `tradewind-adapter` (and, until the bridge has its own, of `tradewind-bridge`).
    pub adapter_image: String,
    /// Image of `tradewind-bridge`.
    pub bridge_image: String,
    /// NATS settings for this namespace (the chart's default or the namespace's override).
    pub nats: NatsConnection,
}

impl RenderSettings {
    /// Fixed settings for golden tests and `twctl render`: no cluster-specific value.
    pub fn example() -> Self {
        Self {
            adapter_image: "ghcr.io/tradewind-dev/tradewind:latest".into(),
            bridge_image: "ghcr.io/tradewind-dev/tradewind:latest".into(),
            nats: NatsConnection {
                url: "nats://nats.tradewind-system.svc:4222".into(),
                credentials_secret: Some("tradewind-nats".into()),
                tls_ca_secret: None,
            },
        }
    }
}

/// NATS settings per namespace: the chart's default and each namespace's override, read from the file the
/// chart mounts (`nats.yaml`, `TRADEWIND_NATS_OVERRIDES`). Only URLs and Secret names, never credentials.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NatsOverrides {
    /// The default; absent in the file, the operator's `--nats-*` flags apply.
    #[serde(default)]
    pub default: Option<NatsEntry>,
    /// By namespace.
    #[serde(default)]
    pub namespaces: std::collections::BTreeMap<String, NatsEntry>,
}

/// One entry of the overrides file.
#[derive(Clone, Debug, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NatsEntry {
    pub url: String,
    #[serde(default)]
    pub credentials_secret: Option<String>,
    #[serde(default)]
    pub tls_ca_secret: Option<String>,
}

impl From<&NatsEntry> for NatsConnection {
    fn from(e: &NatsEntry) -> Self {
        // An empty name means "none" (a Helm value left blank), never a Secret called "".
        let named = |s: &Option<String>| s.clone().filter(|s| !s.is_empty());
        Self {
            url: e.url.clone(),
            credentials_secret: named(&e.credentials_secret),
            tls_ca_secret: named(&e.tls_ca_secret),
        }
    }
}

impl NatsOverrides {
    /// Parses the overrides file; errors name the field.
    pub fn parse(text: &str) -> Result<Self, String> {
        serde_yaml_ng::from_str(text).map_err(|e| format!("NATS overrides: {e}"))
    }

    /// The NATS settings of `namespace`: its override, else the file's default, else `fallback`.
    pub fn for_namespace(&self, namespace: &str, fallback: &NatsConnection) -> NatsConnection {
        self.namespaces
            .get(namespace)
            .or(self.default.as_ref())
            .map(NatsConnection::from)
            .unwrap_or_else(|| fallback.clone())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn a_namespace_override_wins_and_others_keep_the_default() {
        // The shape the chart's templates/configmap.yaml writes.
        let file = NatsOverrides::parse(
            "default:\n  url: \"tls://nats:4222\"\n  credentialsSecret: \"tradewind-nats\"\nnamespaces:\n  shop-eu:\n    url: \"tls://nats.eu:4222\"\n    tlsCaSecret: \"\"\n",
        )
        .unwrap();
        let flags = RenderSettings::example().nats;
        let eu = file.for_namespace("shop-eu", &flags);
        assert_eq!(eu.url, "tls://nats.eu:4222");
        assert_eq!(eu.credentials_secret, None);
        assert_eq!(eu.tls_ca_secret, None, "an empty name is no Secret");
        let us = file.for_namespace("shop-us", &flags);
        assert_eq!(us.credentials_secret.as_deref(), Some("tradewind-nats"));
        assert_eq!(
            NatsOverrides::default().for_namespace("x", &flags),
            flags,
            "no file: the flags"
        );
    }

    #[test]
    fn a_misspelt_key_is_refused_naming_it() {
        let error =
            NatsOverrides::parse("namespaces:\n  a:\n    url: x\n    credentialSecret: y\n")
                .unwrap_err();
        assert!(error.contains("credentialSecret"), "{error}");
    }

    #[test]
    fn the_chart_renders_an_empty_namespaces_map_as_braces() {
        let file =
            NatsOverrides::parse("default:\n  url: \"nats://n:4222\"\nnamespaces: {}\n").unwrap();
        assert!(file.namespaces.is_empty());
    }
}
