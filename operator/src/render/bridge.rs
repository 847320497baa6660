//! The ERP bridge of an `ErpConnection`: the resolved `BridgeConfig` in a ConfigMap, the `tradewind-bridge`
//! Deployment (hardened like the adapter's, see [`super::workload`]), its ServiceAccount and metrics Service.
//!
//! Secrets are mounted, never copied: each Secret the connection references is mounted read-only at
//! `/var/run/secrets/tradewind/erp/<secret name>/` (one file per key), which is what
//! `BridgeConfig::secret` reads; NATS's credentials and CA at the same paths as in adapter pods.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use adapter_runtime::bridge_config::BridgeConfig;
use crds::channel::ChannelKind;
use crds::v1alpha1::{ErpConnection, ErpConnectionSpec, RateLimitPolicy};
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{ConfigMap, Service, ServiceAccount};
use kube::ResourceExt;

use super::hash::config_hash;
use super::workload;
use super::{RenderError, child_meta, object_name};
use crate::labels::standard_labels;
use crate::settings::RenderSettings;

/// Component label (and name suffix) of bridge objects.
pub const COMPONENT: &str = "erp-bridge";
/// The bridge binary in the image.
pub const BINARY: &str = "/usr/local/bin/tradewind-bridge";
/// Key of the configuration file in the ConfigMap.
pub const CONFIG_KEY: &str = "bridge.yaml";
/// Where the ConfigMap is mounted.
pub const CONFIG_DIR: &str = "/etc/tradewind";
/// Where the connection's Secrets are mounted, one folder per Secret (`BridgeConfig.secrets_dir`). Apart from
/// NATS's folders, so a Secret named `nats` cannot shadow them.
pub const SECRETS_DIR: &str = "/var/run/secrets/tradewind/erp";

/// Everything an ErpConnection's rendering reads.
#[derive(Clone, Debug)]
pub struct BridgeInputs<'a> {
    pub connection: &'a ErpConnection,
    /// Names of the Marketplaces of the namespace whose `spec.erpConnectionRef` names this connection.
    pub marketplaces: Vec<String>,
    /// The RateLimitPolicy named by `spec.sink.rest.rateLimitPolicyRef`, when it exists.
    pub sink_rate_limits: Option<&'a RateLimitPolicy>,
    /// `resourceVersion` of each Secret the bridge mounts, `None` when it does not exist (yet).
    pub secret_versions: BTreeMap<String, Option<String>>,
}

/// The desired state of one ErpConnection.
#[derive(Clone, Debug)]
pub struct RenderedBridge {
    pub config: BridgeConfig,
    /// `config` as written in the ConfigMap.
    pub config_yaml: String,
    pub config_hash: String,
    pub config_map: ConfigMap,
    pub service_account: ServiceAccount,
    pub deployment: Deployment,
    pub service: Service,
}

/// The connection's own Secrets (DSN, HMAC key, API token), sorted, without NATS's.
pub fn connection_secrets(spec: &ErpConnectionSpec) -> Vec<String> {
    let source = &spec.source;
    let sink = &spec.sink;
    let names: BTreeSet<String> = [
        source
            .postgres_outbox
            .as_ref()
            .map(|s| &s.dsn_secret_ref.name),
        source.webhook.as_ref().map(|s| &s.hmac_secret_ref.name),
        sink.rest
            .as_ref()
            .and_then(|s| s.token_secret_ref.as_ref())
            .map(|s| &s.name),
        sink.postgres.as_ref().map(|s| &s.dsn_secret_ref.name),
    ]
    .into_iter()
    .flatten()
    .cloned()
    .collect();
    names.into_iter().collect()
}

/// Names of every Secret the bridge mounts: the connection's and NATS's. The keys of
/// [`BridgeInputs::secret_versions`], and what the controller watches.
pub fn referenced_secrets(connection: &ErpConnection, settings: &RenderSettings) -> Vec<String> {
    let mut names = connection_secrets(&connection.spec);
    names.extend(settings.nats.credentials_secret.clone());
    names.extend(settings.nats.tls_ca_secret.clone());
    names.sort();
    names.dedup();
    names
}

/// Renders the bridge of an ErpConnection. Errors name the field at fault (a missing or foreign sink
/// RateLimitPolicy, a namespace-less object).
pub fn render_bridge(
    inputs: &BridgeInputs<'_>,
    settings: &RenderSettings,
) -> Result<RenderedBridge, RenderError> {
    let erp = inputs.connection;
    let name = erp.name_any();
    let namespace = erp
        .namespace()
        .ok_or_else(|| RenderError::new("metadata.namespace", "must be set"))?;
    let spec = &erp.spec;
    let sink_rate_limits = match spec
        .sink
        .rest
        .as_ref()
        .and_then(|r| r.rate_limit_policy_ref.as_ref())
    {
        None => None,
        Some(reference) => {
            let field = "spec.sink.rest.rateLimitPolicyRef.name";
            let policy = inputs.sink_rate_limits.ok_or_else(|| {
                RenderError::new(
                    field,
                    format!(
                        "RateLimitPolicy {:?} not found in namespace {namespace}",
                        reference.name
                    ),
                )
            })?;
            if policy.spec.channel != ChannelKind::Rest {
                return Err(RenderError::new(
                    field,
                    format!(
                        "RateLimitPolicy {:?} is for channel {}, an ERP REST sink needs channel rest",
                        reference.name, policy.spec.channel
                    ),
                ));
            }
            Some(policy.spec.clone())
        }
    };
    let mut marketplaces = inputs.marketplaces.clone();
    marketplaces.sort();
    marketplaces.dedup();
    let config = BridgeConfig {
        namespace,
        erp_connection: name.clone(),
        spec: spec.clone(),
        marketplaces,
        sink_rate_limits,
        nats: settings.nats.to_runtime(),
        secrets_dir: PathBuf::from(SECRETS_DIR),
        http_address: format!("0.0.0.0:{}", workload::METRICS_PORT),
    };
    let config_yaml = serde_yaml_ng::to_string(&config).map_err(|e| {
        RenderError::new("spec", format!("cannot serialize the configuration: {e}"))
    })?;
    let hash = config_hash(&config_yaml, &inputs.secret_versions);
    let labels = standard_labels("ErpConnection", &name, COMPONENT);
    let object = object_name(&name, COMPONENT);

    let config_map = ConfigMap {
        metadata: child_meta(erp, object.clone(), labels.clone()),
        data: Some(BTreeMap::from([(
            CONFIG_KEY.to_string(),
            config_yaml.clone(),
        )])),
        ..Default::default()
    };
    // The bridge never talks to the Kubernetes API.
    let service_account =
        workload::service_account(child_meta(erp, object.clone(), labels.clone()));
    let service = workload::metrics_service(
        child_meta(erp, object.clone(), labels.clone()),
        labels.clone(),
    );

    let mut volumes = vec![workload::config_volume(&object, CONFIG_DIR)];
    for (i, secret) in connection_secrets(spec).iter().enumerate() {
        volumes.push(workload::secret_volume(
            &format!("erp-secret-{i}"),
            secret,
            &format!("{SECRETS_DIR}/{secret}"),
        ));
    }
    volumes.extend(workload::nats_volumes(&settings.nats));
    let deployment = workload::deployment(workload::Workload {
        metadata: child_meta(erp, object.clone(), labels.clone()),
        labels: &labels,
        pod_labels: BTreeMap::new(),
        config_hash: &hash,
        container: COMPONENT,
        image: &settings.bridge_image,
        command: BINARY,
        args: vec!["--config".into(), format!("{CONFIG_DIR}/{CONFIG_KEY}")],
        // Suspended: no pod reads the ERP or posts to it; records wait in JetStream.
        replicas: if spec.suspend {
            0
        } else {
            spec.bridge.replicas
        },
        resources: spec.bridge.resources.clone(),
        volumes,
        service_account: object.clone(),
    });
    Ok(RenderedBridge {
        config,
        config_yaml,
        config_hash: hash,
        config_map,
        service_account,
        deployment,
        service,
    })
}

/// The objects of one rendered bridge as a YAML stream: ConfigMap, ServiceAccount, Deployment, Service.
pub fn to_yaml(rendered: &RenderedBridge) -> Result<String, serde_yaml_ng::Error> {
    let documents = [
        serde_yaml_ng::to_string(&rendered.config_map)?,
        serde_yaml_ng::to_string(&rendered.service_account)?,
        serde_yaml_ng::to_string(&rendered.deployment)?,
        serde_yaml_ng::to_string(&rendered.service)?,
    ];
    Ok(documents.join("---\n"))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::render::hash::CONFIG_HASH_ANNOTATION;

    fn connection(extra_sink: &str) -> ErpConnection {
        serde_yaml_ng::from_str(&format!(
            r#"
apiVersion: tradewind.dev/v1alpha1
kind: ErpConnection
metadata: {{name: erp, namespace: demo, uid: u-1}}
spec:
  source:
    postgresOutbox: {{dsnSecretRef: {{name: erp-db, key: dsn}}}}
  sink:
    rest: {{baseUrl: "http://erp:8080", tokenSecretRef: {{name: erp-api, key: token}}{extra_sink}}}
"#
        ))
        .unwrap()
    }

    fn policy(channel: &str) -> RateLimitPolicy {
        serde_yaml_ng::from_str(&format!(
            "apiVersion: tradewind.dev/v1alpha1\nkind: RateLimitPolicy\nmetadata: {{name: erp-limits, namespace: demo}}\nspec: {{channel: {channel}}}\n"
        ))
        .unwrap()
    }

    fn inputs<'a>(
        erp: &'a ErpConnection,
        rl: Option<&'a RateLimitPolicy>,
        version: &str,
    ) -> BridgeInputs<'a> {
        BridgeInputs {
            connection: erp,
            marketplaces: vec!["walmart".into(), "amazon".into()],
            sink_rate_limits: rl,
            secret_versions: BTreeMap::from([
                ("erp-api".to_string(), Some(version.to_string())),
                ("erp-db".to_string(), Some("1".to_string())),
            ]),
        }
    }

    #[test]
    fn the_configuration_reads_back_as_the_bridge_reads_it() {
        let erp = connection("");
        let rendered = render_bridge(&inputs(&erp, None, "1"), &RenderSettings::example()).unwrap();
        let reread = BridgeConfig::parse("rendered", &rendered.config_yaml).unwrap();
        assert_eq!(reread, rendered.config);
        assert_eq!(rendered.config.marketplaces, vec!["amazon", "walmart"]);
        assert_eq!(rendered.config.secrets_dir, PathBuf::from(SECRETS_DIR));
    }

    #[test]
    fn each_secret_is_mounted_where_the_bridge_reads_it() {
        let erp = connection("");
        let rendered = render_bridge(&inputs(&erp, None, "1"), &RenderSettings::example()).unwrap();
        let pod = rendered.deployment.spec.unwrap().template.spec.unwrap();
        let mounts = pod.containers[0].volume_mounts.clone().unwrap();
        let paths: Vec<&str> = mounts.iter().map(|m| m.mount_path.as_str()).collect();
        assert!(
            paths.contains(&"/var/run/secrets/tradewind/erp/erp-db"),
            "{paths:?}"
        );
        assert!(
            paths.contains(&"/var/run/secrets/tradewind/erp/erp-api"),
            "{paths:?}"
        );
        assert!(
            paths.contains(&crate::settings::NATS_CREDENTIALS_DIR),
            "{paths:?}"
        );
        assert_eq!(pod.containers[0].command, Some(vec![BINARY.to_string()]));
    }

    #[test]
    fn a_secret_rotation_rolls_the_pods_and_an_image_change_does_not() {
        let erp = connection("");
        let settings = RenderSettings::example();
        let base = render_bridge(&inputs(&erp, None, "1"), &settings).unwrap();
        let rotated = render_bridge(&inputs(&erp, None, "2"), &settings).unwrap();
        assert_ne!(base.config_hash, rotated.config_hash);
        let upgraded = RenderSettings {
            bridge_image: "ghcr.io/tradewind-dev/tradewind:next".into(),
            ..settings.clone()
        };
        let same = render_bridge(&inputs(&erp, None, "1"), &upgraded).unwrap();
        assert_eq!(base.config_hash, same.config_hash);
        let template = base.deployment.spec.unwrap().template.metadata.unwrap();
        assert_eq!(
            template.annotations.unwrap().get(CONFIG_HASH_ANNOTATION),
            Some(&base.config_hash)
        );
    }

    #[test]
    fn the_sink_policy_must_exist_and_be_a_rest_policy() {
        let erp = connection(", rateLimitPolicyRef: {name: erp-limits}");
        let settings = RenderSettings::example();
        let missing = render_bridge(&inputs(&erp, None, "1"), &settings).unwrap_err();
        assert_eq!(missing.field, "spec.sink.rest.rateLimitPolicyRef.name");
        let amazon = policy("amazon");
        let foreign = render_bridge(&inputs(&erp, Some(&amazon), "1"), &settings).unwrap_err();
        assert!(foreign.message.contains("amazon"), "{foreign}");
        let rest = policy("rest");
        let ok = render_bridge(&inputs(&erp, Some(&rest), "1"), &settings).unwrap();
        assert!(ok.config.sink_rate_limits.is_some());
    }

    #[test]
    fn a_suspended_connection_runs_no_pod() {
        let mut erp = connection("");
        erp.spec.suspend = true;
        let rendered = render_bridge(&inputs(&erp, None, "1"), &RenderSettings::example()).unwrap();
        assert_eq!(rendered.deployment.spec.unwrap().replicas, Some(0));
        assert_eq!(
            rendered.config_map.metadata.owner_references.unwrap()[0].name,
            "erp"
        );
    }
}
