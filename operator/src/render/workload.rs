//! Pieces shared by every Deployment the operator renders (adapters, ERP bridges): the hardened security
//! context, probes, the metrics port and volumes from Secrets.

use k8s_openapi::api::core::v1::{
    Capabilities, ContainerPort, HTTPGetAction, PodSecurityContext, Probe, SeccompProfile,
    SecretVolumeSource, SecurityContext, Volume, VolumeMount,
};
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
