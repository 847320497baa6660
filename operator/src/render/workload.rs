//! Pieces shared by every Deployment the operator renders (adapters, ERP bridges): the hardened security
//! context, probes, the metrics port and volumes from Secrets.

use std::collections::BTreeMap;

use k8s_openapi::api::apps::v1::{Deployment, DeploymentSpec, DeploymentStrategy};
use k8s_openapi::api::core::v1::{
    Capabilities, ConfigMapVolumeSource, Container, ContainerPort, HTTPGetAction,
    PodSecurityContext, PodSpec, PodTemplateSpec, Probe, ResourceRequirements, SeccompProfile,
    SecretVolumeSource, SecurityContext, Service, ServiceAccount, ServicePort, ServiceSpec, Volume,
    VolumeMount,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta};

use super::hash::CONFIG_HASH_ANNOTATION;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

/// Port of `/metrics`, `/healthz` and `/readyz` in adapter and bridge containers.
pub const METRICS_PORT: i32 = 9090;
/// Name of that port (the Service and probes refer to it by name).
pub const METRICS_PORT_NAME: &str = "metrics";
/// The non-root user of the image (distroless `nonroot`).
const NON_ROOT_UID: i64 = 65532;

/// Pod-level: non-root, the runtime's default seccomp profile.
pub fn pod_security_context() -> PodSecurityContext {
    PodSecurityContext {
        run_as_non_root: Some(true),
        run_as_user: Some(NON_ROOT_UID),
        run_as_group: Some(NON_ROOT_UID),
        fs_group: Some(NON_ROOT_UID),
        seccomp_profile: Some(SeccompProfile {
            type_: "RuntimeDefault".into(),
            ..Default::default()
        }),
        ..Default::default()
    }
}

/// Container-level: read-only root, no privilege escalation, every capability dropped.
pub fn container_security_context() -> SecurityContext {
    SecurityContext {
        allow_privilege_escalation: Some(false),
        read_only_root_filesystem: Some(true),
        run_as_non_root: Some(true),
        privileged: Some(false),
        capabilities: Some(Capabilities {
            drop: Some(vec!["ALL".into()]),
            ..Default::default()
        }),
        seccomp_profile: Some(SeccompProfile {
            type_: "RuntimeDefault".into(),
            ..Default::default()
        }),
        ..Default::default()
    }
}

fn http_probe(path: &str, period: i32, failures: i32) -> Probe {
    Probe {
        http_get: Some(HTTPGetAction {
            path: Some(path.into()),
            port: IntOrString::String(METRICS_PORT_NAME.into()),
            ..Default::default()
        }),
        period_seconds: Some(period),
        failure_threshold: Some(failures),
        timeout_seconds: Some(2),
        ..Default::default()
    }
}

/// `/healthz`: restart a process that stopped answering.
pub fn liveness_probe() -> Probe {
    http_probe("/healthz", 10, 3)
}

/// `/readyz`: ready once connected to NATS with streams and consumers ensured.
pub fn readiness_probe() -> Probe {
    http_probe("/readyz", 5, 2)
}

pub fn metrics_port() -> ContainerPort {
    ContainerPort {
        name: Some(METRICS_PORT_NAME.into()),
        container_port: METRICS_PORT,
        protocol: Some("TCP".into()),
        ..Default::default()
    }
}

/// A Secret mounted read-only at `path`, each key a file (mode 0400).
pub fn secret_volume(volume: &str, secret: &str, path: &str) -> (Volume, VolumeMount) {
    (
        Volume {
            name: volume.into(),
            secret: Some(SecretVolumeSource {
                secret_name: Some(secret.into()),
                default_mode: Some(0o400),
                ..Default::default()
            }),
            ..Default::default()
        },
        VolumeMount {
            name: volume.into(),
            mount_path: path.into(),
            read_only: Some(true),
            ..Default::default()
        },
    )
}

/// The ServiceAccount of a workload that never talks to the Kubernetes API (its token is not mounted).
pub fn service_account(metadata: ObjectMeta) -> ServiceAccount {
    ServiceAccount {
        metadata,
        automount_service_account_token: Some(false),
        ..Default::default()
    }
}

/// The Service exposing the `metrics` port of the pods selected by `selector`.
pub fn metrics_service(metadata: ObjectMeta, selector: BTreeMap<String, String>) -> Service {
    Service {
        metadata,
        spec: Some(ServiceSpec {
            selector: Some(selector),
            ports: Some(vec![ServicePort {
                name: Some(METRICS_PORT_NAME.into()),
                port: METRICS_PORT,
                target_port: Some(IntOrString::String(METRICS_PORT_NAME.into())),
                protocol: Some("TCP".into()),
                ..Default::default()
            }]),
            ..Default::default()
        }),
        ..Default::default()
    }
}

/// What distinguishes one rendered Deployment (adapter or bridge) from another; the rest (hardening, probes,
/// metrics port, the config-hash annotation on the Deployment and its pods) is the same for all.
pub struct Workload<'a> {
    /// Metadata of the Deployment (name, namespace, labels, owner reference).
    pub metadata: ObjectMeta,
    /// The selector's labels, also on the pods.
    pub labels: &'a BTreeMap<String, String>,
    /// Extra pod labels (the selector's win).
    pub pod_labels: BTreeMap<String, String>,
    pub config_hash: &'a str,
    pub container: &'a str,
    pub image: &'a str,
    /// The binary in the image (the image's entrypoint is the operator).
    pub command: &'a str,
    pub args: Vec<String>,
    pub replicas: i32,
    pub resources: Option<ResourceRequirements>,
    pub volumes: Vec<(Volume, VolumeMount)>,
    /// Also the ServiceAccount's name.
    pub service_account: String,
}

/// The Deployment of `w`.
pub fn deployment(w: Workload<'_>) -> Deployment {
    let mut pod_labels = w.pod_labels;
    // The selector's labels win over user pod labels, so that the Deployment always finds its pods.
    pod_labels.extend(w.labels.clone());
    let annotations = BTreeMap::from([(
        CONFIG_HASH_ANNOTATION.to_string(),
        w.config_hash.to_string(),
    )]);
    let (volumes, mounts): (Vec<Volume>, Vec<VolumeMount>) = w.volumes.into_iter().unzip();
    let container = Container {
        name: w.container.into(),
        image: Some(w.image.into()),
        command: Some(vec![w.command.into()]),
        args: Some(w.args),
        ports: Some(vec![metrics_port()]),
        liveness_probe: Some(liveness_probe()),
        readiness_probe: Some(readiness_probe()),
        resources: w.resources,
        security_context: Some(container_security_context()),
        volume_mounts: Some(mounts),
        ..Default::default()
    };
    Deployment {
        metadata: ObjectMeta {
            annotations: Some(annotations.clone()),
            ..w.metadata
        },
        spec: Some(DeploymentSpec {
            replicas: Some(w.replicas),
            selector: LabelSelector {
                match_labels: Some(w.labels.clone()),
                ..Default::default()
            },
            strategy: Some(DeploymentStrategy {
                type_: Some("RollingUpdate".into()),
                ..Default::default()
            }),
            template: PodTemplateSpec {
                metadata: Some(ObjectMeta {
                    labels: Some(pod_labels),
                    annotations: Some(annotations),
                    ..Default::default()
                }),
                spec: Some(PodSpec {
                    service_account_name: Some(w.service_account),
                    automount_service_account_token: Some(false),
                    security_context: Some(pod_security_context()),
                    containers: vec![container],
                    volumes: Some(volumes),
                    termination_grace_period_seconds: Some(45),
                    ..Default::default()
                }),
            },
            ..Default::default()
        }),
        ..Default::default()
    }
}

/// A ConfigMap with the file `key` mounted read-only at `dir`.
pub fn config_volume(config_map: &str, dir: &str) -> (Volume, VolumeMount) {
    (
        Volume {
            name: "config".into(),
            config_map: Some(ConfigMapVolumeSource {
                name: config_map.to_string(),
                ..Default::default()
            }),
            ..Default::default()
        },
        VolumeMount {
            name: "config".into(),
            mount_path: dir.into(),
            read_only: Some(true),
            ..Default::default()
        },
    )
}

/// The NATS credentials and CA Secrets, mounted where [`crate::settings::NatsConnection::to_runtime`] points.
pub fn nats_volumes(nats: &crate::settings::NatsConnection) -> Vec<(Volume, VolumeMount)> {
    let mut out = Vec::new();
    if let Some(secret) = &nats.credentials_secret {
        out.push(secret_volume(
            "nats-credentials",
            secret,
            crate::settings::NATS_CREDENTIALS_DIR,
        ));
    }
    if let Some(secret) = &nats.tls_ca_secret {
        out.push(secret_volume(
            "nats-tls",
            secret,
            crate::settings::NATS_TLS_DIR,
        ));
    }
    out
}
