//! A `Marketplace`'s adapter: the resolved `AdapterConfig` in a ConfigMap, the `tradewind-adapter` Deployment,
//! its ServiceAccount and metrics Service, and the JetStream topology.

use std::collections::BTreeMap;
use std::path::PathBuf;

use adapter_runtime::config::{AdapterConfig, Named};
use crds::v1alpha1::{ChannelMapping, Marketplace, RateLimitPolicy};
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{ConfigMap, Service, ServiceAccount};
use kube::ResourceExt;

use super::hash::config_hash;
use super::jetstream::{Topology, marketplace_topology};
use super::workload;
use super::{RenderError, child_meta, object_name};
use crate::labels::standard_labels;
use crate::settings::RenderSettings;

/// Component label of adapter objects.
pub const COMPONENT: &str = "adapter";
/// The adapter binary in the image.
pub const BINARY: &str = "/usr/local/bin/tradewind-adapter";
/// Key of the configuration file in the ConfigMap.
pub const CONFIG_KEY: &str = "adapter.yaml";
/// Where the ConfigMap is mounted.
pub const CONFIG_DIR: &str = "/etc/tradewind";
/// Where the marketplace's credentials Secret is mounted (`AdapterConfig.credentials_dir`).
pub const CREDENTIALS_DIR: &str = "/var/run/secrets/tradewind/credentials";

/// Everything a Marketplace's rendering reads.
#[derive(Clone, Debug)]
pub struct MarketplaceInputs<'a> {
    pub marketplace: &'a Marketplace,
    /// The referenced ChannelMapping, when it exists (the adapter then sends canonical JSON).
    pub mapping: Option<&'a ChannelMapping>,
    /// The referenced RateLimitPolicy (required).
    pub rate_limits: Option<&'a RateLimitPolicy>,
    /// `resourceVersion` of each Secret the adapter mounts, `None` when it does not exist (yet).
    pub secret_versions: BTreeMap<String, Option<String>>,
}

/// The desired state of one Marketplace.
#[derive(Clone, Debug)]
pub struct RenderedMarketplace {
    pub config: AdapterConfig,
    /// `config` as written in the ConfigMap.
    pub config_yaml: String,
    pub config_hash: String,
    pub config_map: ConfigMap,
    pub service_account: ServiceAccount,
    pub deployment: Deployment,
    pub service: Service,
    pub topology: Topology,
}

/// Names of the Secrets the adapter of `marketplace` mounts (its credentials and, when configured, NATS's):
/// the keys of [`MarketplaceInputs::secret_versions`], and what the controller watches.
pub fn referenced_secrets(marketplace: &Marketplace, settings: &RenderSettings) -> Vec<String> {
    let mut names = vec![marketplace.spec.credentials_secret_ref.name.clone()];
    names.extend(settings.nats.credentials_secret.clone());
    names.extend(settings.nats.tls_ca_secret.clone());
    names.sort();
    names.dedup();
    names
}

/// Renders the adapter of a Marketplace. Errors name the field of the Marketplace at fault (a missing
/// RateLimitPolicy, a namespace-less object).
pub fn render_marketplace(
    inputs: &MarketplaceInputs<'_>,
    settings: &RenderSettings,
) -> Result<RenderedMarketplace, RenderError> {
    let mp = inputs.marketplace;
    let name = mp.name_any();
    let namespace = mp
        .namespace()
        .ok_or_else(|| RenderError::new("metadata.namespace", "must be set"))?;
    let spec = &mp.spec;
    let rate_limits = inputs.rate_limits.ok_or_else(|| {
        RenderError::new(
            "spec.rateLimitPolicyRef.name",
            format!(
                "RateLimitPolicy {:?} not found in namespace {namespace}",
                spec.rate_limit_policy_ref.name
            ),
        )
    })?;
    if rate_limits.spec.channel != spec.channel {
        return Err(RenderError::new(
            "spec.rateLimitPolicyRef.name",
            format!(
                "RateLimitPolicy {:?} is for channel {}, this marketplace is {}",
                spec.rate_limit_policy_ref.name, rate_limits.spec.channel, spec.channel
            ),
        ));
    }
    for flow in spec.flows.enabled() {
        if !spec.channel.supports(flow) {
            return Err(RenderError::new(
                format!("spec.flows.{flow}"),
                format!("channel {} has no {flow} flow", spec.channel),
            ));
        }
    }

    let config = AdapterConfig {
        namespace: namespace.clone(),
        marketplace: name.clone(),
        spec: spec.clone(),
        mapping: inputs.mapping.map(|m| Named {
            name: m.name_any(),
            spec: m.spec.clone(),
        }),
        rate_limits: Named {
            name: rate_limits.name_any(),
            spec: rate_limits.spec.clone(),
        },
        nats: settings.nats.to_runtime(),
        credentials_dir: PathBuf::from(CREDENTIALS_DIR),
        ack_wait: adapter_runtime::topology::DEFAULT_ACK_WAIT,
        http_address: format!("0.0.0.0:{}", workload::METRICS_PORT),
    };
    let config_yaml = serde_yaml_ng::to_string(&config).map_err(|e| {
        RenderError::new("spec", format!("cannot serialize the configuration: {e}"))
    })?;
    let hash = config_hash(&config_yaml, &inputs.secret_versions);
    let labels = standard_labels("Marketplace", &name, COMPONENT);
    let object = object_name(&name, COMPONENT);

    let config_map = ConfigMap {
        metadata: child_meta(mp, object.clone(), labels.clone()),
        data: Some(BTreeMap::from([(
            CONFIG_KEY.to_string(),
            config_yaml.clone(),
        )])),
        ..Default::default()
    };
    // The adapter never talks to the Kubernetes API.
    let service_account = workload::service_account(child_meta(mp, object.clone(), labels.clone()));
    let service = workload::metrics_service(
        child_meta(mp, object.clone(), labels.clone()),
        labels.clone(),
    );
    let deployment = adapter_deployment(mp, &object, &labels, &hash, settings);
    let topology = marketplace_topology(&namespace, &name, spec, config.ack_wait);
    Ok(RenderedMarketplace {
        config,
        config_yaml,
        config_hash: hash,
        config_map,
        service_account,
        deployment,
        service,
        topology,
    })
}

fn adapter_deployment(
    mp: &Marketplace,
    object: &str,
    labels: &BTreeMap<String, String>,
    hash: &str,
    settings: &RenderSettings,
) -> Deployment {
    let spec = &mp.spec;
    let mut volumes = vec![
        workload::config_volume(object, CONFIG_DIR),
        workload::secret_volume(
            "credentials",
            &spec.credentials_secret_ref.name,
            CREDENTIALS_DIR,
        ),
    ];
    volumes.extend(workload::nats_volumes(&settings.nats));
    workload::deployment(workload::Workload {
        metadata: child_meta(mp, object.to_string(), labels.clone()),
        labels,
        pod_labels: spec.adapter.pod_labels.clone(),
        config_hash: hash,
        container: COMPONENT,
        image: &settings.adapter_image,
        command: BINARY,
        args: vec!["--config".into(), format!("{CONFIG_DIR}/{CONFIG_KEY}")],
        replicas: spec.adapter.replicas,
        resources: spec.adapter.resources.clone(),
        volumes,
        service_account: object.to_string(),
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::render::hash::CONFIG_HASH_ANNOTATION;

    fn marketplace() -> Marketplace {
        serde_yaml_ng::from_str(
            r#"
apiVersion: tradewind.dev/v1alpha1
kind: Marketplace
metadata: {name: portal, namespace: demo}
spec:
  channel: rest
  endpoint: {baseUrl: "http://127.0.0.1:1"}
  credentialsSecretRef: {name: portal-creds}
  erpConnectionRef: {name: erp}
  channelMappingRef: {name: portal}
  rateLimitPolicyRef: {name: portal}
  currency: USD
  flows: {inventory: {}}
"#,
        )
        .unwrap()
    }

    fn policy(channel: &str) -> RateLimitPolicy {
        serde_yaml_ng::from_str(&format!(
            "apiVersion: tradewind.dev/v1alpha1\nkind: RateLimitPolicy\nmetadata: {{name: portal, namespace: demo}}\nspec: {{channel: {channel}}}\n"
        ))
        .unwrap()
    }

    fn inputs<'a>(
        mp: &'a Marketplace,
        rl: Option<&'a RateLimitPolicy>,
        version: &str,
    ) -> MarketplaceInputs<'a> {
        MarketplaceInputs {
            marketplace: mp,
            mapping: None,
            rate_limits: rl,
            secret_versions: BTreeMap::from([(
                "portal-creds".to_string(),
                Some(version.to_string()),
            )]),
        }
    }

    #[test]
    fn a_missing_rate_limit_policy_names_the_reference() {
        let mp = marketplace();
        let error =
            render_marketplace(&inputs(&mp, None, "1"), &RenderSettings::example()).unwrap_err();
        assert_eq!(error.field, "spec.rateLimitPolicyRef.name");
        assert!(error.message.contains("\"portal\""), "{error}");
    }

    #[test]
    fn a_policy_of_another_channel_is_refused() {
        let mp = marketplace();
        let rl = policy("amazon");
        let error = render_marketplace(&inputs(&mp, Some(&rl), "1"), &RenderSettings::example())
            .unwrap_err();
        assert!(error.message.contains("amazon"), "{error}");
    }

    #[test]
    fn the_hash_follows_secrets_and_spec_but_not_the_image() {
        let mp = marketplace();
        let rl = policy("rest");
        let settings = RenderSettings::example();
        let base = render_marketplace(&inputs(&mp, Some(&rl), "1"), &settings).unwrap();
        let rotated = render_marketplace(&inputs(&mp, Some(&rl), "2"), &settings).unwrap();
        assert_ne!(base.config_hash, rotated.config_hash);
        let upgraded = RenderSettings {
            adapter_image: "ghcr.io/tradewind-dev/tradewind:next".into(),
            ..settings.clone()
        };
        let same = render_marketplace(&inputs(&mp, Some(&rl), "1"), &upgraded).unwrap();
        assert_eq!(base.config_hash, same.config_hash);
        let mut changed = mp.clone();
        changed.spec.currency = "EUR".into();
        let other = render_marketplace(&inputs(&changed, Some(&rl), "1"), &settings).unwrap();
        assert_ne!(base.config_hash, other.config_hash);
        let template = base.deployment.spec.unwrap().template.metadata.unwrap();
        assert_eq!(
            template.annotations.unwrap().get(CONFIG_HASH_ANNOTATION),
            Some(&base.config_hash)
        );
    }

    #[test]
    fn objects_read_from_files_carry_no_owner_reference() {
        let mp = marketplace();
        let rl = policy("rest");
        let rendered =
            render_marketplace(&inputs(&mp, Some(&rl), "1"), &RenderSettings::example()).unwrap();
        assert!(rendered.config_map.metadata.owner_references.is_none());
    }
}
