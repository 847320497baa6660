//! Wires the controllers: the Marketplace controller owns its adapter objects (deleted out of band: recreated)
//! and watches what Marketplaces reference (a change re-reconciles the dependants); the ChannelMapping
//! controller reports compile errors. A moved reference re-reconciles its old target too
//! (`references::LastReferences`). All stop gracefully when `shutdown` resolves.

use std::sync::Arc;

use crds::v1alpha1::{ChannelMapping, ErpConnection, Marketplace, RateLimitPolicy, SyncSchedule};
use futures::StreamExt;
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{ConfigMap, Secret, Service, ServiceAccount};
use kube::runtime::controller::{Action, Controller};
use kube::runtime::reflector::{ObjectRef, Store};
use kube::runtime::watcher;
use kube::{Api, ResourceExt};

use super::references::LastReferences;
use super::{
    Context, Error, channel_mapping, erp_connection, marketplace, rate_limit_policy, sync_schedule,
};
use crate::metrics::Metrics;

fn dependants(
    store: &Store<Marketplace>,
    kind: &'static str,
    namespace: Option<String>,
    name: &str,
    ctx: &Context,
) -> Vec<ObjectRef<Marketplace>> {
    let settings = ctx.settings_for(namespace.as_deref().unwrap_or_default());
    store
        .state()
        .iter()
        .filter(|mp| {
            mp.namespace() == namespace && marketplace::references(mp, kind, name, &settings)
        })
        .map(|mp| ObjectRef::from_obj(&**mp))
        .collect()
}

/// The ErpConnections of `namespace` that reference `kind`/`name`.
fn connection_dependants(
    store: &Store<ErpConnection>,
    kind: &'static str,
    namespace: Option<String>,
    name: &str,
    ctx: &Context,
) -> Vec<ObjectRef<ErpConnection>> {
    let settings = ctx.settings_for(namespace.as_deref().unwrap_or_default());
    store
        .state()
        .iter()
        .filter(|e| {
            e.namespace() == namespace && erp_connection::references(e, kind, name, &settings)
        })
        .map(|e| ObjectRef::from_obj(&**e))
        .collect()
}

/// A reference to `name` in the namespace of the object that names it.
fn named<K: kube::Resource<DynamicType = ()>>(
    namespace: Option<String>,
    name: Option<String>,
) -> Option<ObjectRef<K>> {
    let name = name?;
    Some(match namespace {
        Some(ns) => ObjectRef::new(&name).within(&ns),
        None => ObjectRef::new(&name),
    })
}

/// The `K`s to re-reconcile when `object` (now referencing `current`) changes: the one it references and, when
/// the reference moved or went away, the one it referenced before, so that one's status drops it at once.
fn moved<K, O>(memory: &LastReferences, object: &O, current: Option<String>) -> Vec<ObjectRef<K>>
where
    K: kube::Resource<DynamicType = ()>,
    O: kube::Resource,
{
    let namespace = object.namespace();
    memory
        .targets(
            namespace.as_deref().unwrap_or_default(),
            &object.name_any(),
            current,
            object.meta().deletion_timestamp.is_some(),
        )
        .into_iter()
        .filter_map(|name| named::<K>(namespace.clone(), Some(name)))
        .collect()
}

/// The RateLimitPolicy of an ErpConnection's REST sink.
fn sink_policy(erp: &ErpConnection) -> Option<String> {
    erp.spec
        .sink
        .rest
        .as_ref()
        .and_then(|r| r.rate_limit_policy_ref.as_ref())
        .map(|r| r.name.clone())
}

/// `reconcile` with its duration recorded under `kind`.
fn timed<K, F, Fut>(
    kind: &'static str,
    metrics: Arc<Metrics>,
    reconcile: F,
) -> impl FnMut(Arc<K>, Arc<Context>) -> futures::future::BoxFuture<'static, Result<Action, Error>>
where
    F: Fn(Arc<K>, Arc<Context>) -> Fut + Clone + Send + 'static,
    Fut: std::future::Future<Output = Result<Action, Error>> + Send + 'static,
    K: Send + Sync + 'static,
{
    move |object, ctx| {
        let (metrics, reconcile) = (metrics.clone(), reconcile.clone());
        Box::pin(async move {
            let started = std::time::Instant::now();
            let result = reconcile(object, ctx).await;
            metrics.observe_duration(kind, started.elapsed());
            result
        })
    }
}

fn error_policy<K>(_: Arc<K>, error: &Error, _: Arc<Context>) -> Action {
    tracing::warn!(%error, "reconcile failed; retrying");
    Action::requeue(std::time::Duration::from_secs(10))
}

/// Runs every controller until `shutdown` resolves.
pub async fn run(
    ctx: Arc<Context>,
    metrics: Arc<Metrics>,
    shutdown: adapter_runtime::flow::Shutdown,
) {
    run_in(ctx, metrics, shutdown, None).await
}

/// Every controller for the namespaces in `namespaces` (each its own set of watches, as a namespaced Role
/// allows), or for the whole cluster when it is empty; until `shutdown` resolves.
pub async fn run_namespaces(
    ctx: Arc<Context>,
    metrics: Arc<Metrics>,
    shutdown: adapter_runtime::flow::Shutdown,
    namespaces: &[String],
) {
    if namespaces.is_empty() {
        return run(ctx, metrics, shutdown).await;
    }
    futures::future::join_all(namespaces.iter().map(|ns| {
        run_in(
            ctx.clone(),
            metrics.clone(),
            shutdown.clone(),
            Some(ns.as_str()),
        )
    }))
    .await;
}

/// The API of `K` in `namespace`, or in every namespace.
fn scoped<K>(client: &kube::Client, namespace: Option<&str>) -> Api<K>
where
    K: kube::Resource<Scope = k8s_openapi::NamespaceResourceScope, DynamicType = ()>,
{
    match namespace {
        Some(ns) => Api::namespaced(client.clone(), ns),
        None => Api::all(client.clone()),
    }
}

/// Every controller, watching `namespace` or (None) the whole cluster.
async fn run_in(
    ctx: Arc<Context>,
    metrics: Arc<Metrics>,
    shutdown: adapter_runtime::flow::Shutdown,
    namespace: Option<&str>,
) {
    let client = ctx.client.clone();
    let labelled =
        watcher::Config::default().labels("app.kubernetes.io/managed-by=tradewind-operator");
    let controller = Controller::new(
        scoped::<Marketplace>(&client, namespace),
        watcher::Config::default(),
    );
    let store = controller.store();
    let (s1, s2, s3, s4) = (store.clone(), store.clone(), store.clone(), store.clone());
    let (c1, c2, c3, c4) = (ctx.clone(), ctx.clone(), ctx.clone(), ctx.clone());
    let marketplaces = controller
        .owns(scoped::<Deployment>(&client, namespace), labelled.clone())
        .owns(scoped::<ConfigMap>(&client, namespace), labelled.clone())
        .owns(scoped::<Service>(&client, namespace), labelled.clone())
        .owns(scoped::<ServiceAccount>(&client, namespace), labelled)
        .watches(
            scoped::<ChannelMapping>(&client, namespace),
            watcher::Config::default(),
            move |o| dependants(&s1, "ChannelMapping", o.namespace(), &o.name_any(), &c1),
        )
        .watches(
            scoped::<RateLimitPolicy>(&client, namespace),
            watcher::Config::default(),
            move |o| dependants(&s2, "RateLimitPolicy", o.namespace(), &o.name_any(), &c2),
        )
        .watches(
            scoped::<ErpConnection>(&client, namespace),
            watcher::Config::default(),
            move |o| dependants(&s3, "ErpConnection", o.namespace(), &o.name_any(), &c3),
        )
        .watches(
            scoped::<Secret>(&client, namespace),
            watcher::Config::default(),
            move |o| dependants(&s4, "Secret", o.namespace(), &o.name_any(), &c4),
        )
        // A schedule's SLO is read into the marketplace's Degraded condition.
        .watches(
            scoped::<SyncSchedule>(&client, namespace),
            watcher::Config::default(),
            |s| named::<Marketplace>(s.namespace(), Some(s.spec.marketplace_ref.name.clone())),
        )
        .graceful_shutdown_on(stopped(shutdown.clone()))
        .run(
            timed("Marketplace", metrics.clone(), marketplace::reconcile),
            error_policy,
            ctx.clone(),
        )
        .for_each(|result| {
            metrics.observe("Marketplace", result.is_ok());
            async {}
        });
    let mappings = Controller::new(
        scoped::<ChannelMapping>(&client, namespace),
        watcher::Config::default(),
    )
    .graceful_shutdown_on(stopped(shutdown.clone()))
    .run(
        timed(
            "ChannelMapping",
            metrics.clone(),
            channel_mapping::reconcile,
        ),
        error_policy,
        ctx.clone(),
    )
    .for_each(|result| {
        metrics.observe("ChannelMapping", result.is_ok());
        async {}
    });

    // ErpConnections own their bridge objects and follow the Marketplaces that use them (the bridge's
    // configuration lists them), their sink's RateLimitPolicy and their Secrets.
    let labelled =
        watcher::Config::default().labels("app.kubernetes.io/managed-by=tradewind-operator");
    let controller = Controller::new(
        scoped::<ErpConnection>(&client, namespace),
        watcher::Config::default(),
    );
    let store = controller.store();
    let (e1, e2) = (store.clone(), store);
    let (c1, c2) = (ctx.clone(), ctx.clone());
    let connections = controller
        .owns(scoped::<Deployment>(&client, namespace), labelled.clone())
        .owns(scoped::<ConfigMap>(&client, namespace), labelled.clone())
        .owns(scoped::<Service>(&client, namespace), labelled.clone())
        .owns(scoped::<ServiceAccount>(&client, namespace), labelled)
        .watches(
            scoped::<Marketplace>(&client, namespace),
            watcher::Config::default(),
            {
                let memory = LastReferences::default();
                move |m| {
                    moved::<ErpConnection, _>(
                        &memory,
                        &m,
                        Some(m.spec.erp_connection_ref.name.clone()),
                    )
                }
            },
        )
        .watches(
            scoped::<RateLimitPolicy>(&client, namespace),
            watcher::Config::default(),
            move |o| {
                connection_dependants(&e1, "RateLimitPolicy", o.namespace(), &o.name_any(), &c1)
            },
        )
        .watches(
            scoped::<Secret>(&client, namespace),
            watcher::Config::default(),
            move |o| connection_dependants(&e2, "Secret", o.namespace(), &o.name_any(), &c2),
        )
        .graceful_shutdown_on(stopped(shutdown.clone()))
        .run(
            timed("ErpConnection", metrics.clone(), erp_connection::reconcile),
            error_policy,
            ctx.clone(),
        )
        .for_each(|result| {
            metrics.observe("ErpConnection", result.is_ok());
            async {}
        });

    // RateLimitPolicies report who references them: a Marketplace or ErpConnection change re-reconciles the
    // policy it names.
    let policies = Controller::new(
        scoped::<RateLimitPolicy>(&client, namespace),
        watcher::Config::default(),
    )
    .watches(
        scoped::<Marketplace>(&client, namespace),
        watcher::Config::default(),
        {
            let memory = LastReferences::default();
            move |m| {
                moved::<RateLimitPolicy, _>(
                    &memory,
                    &m,
                    Some(m.spec.rate_limit_policy_ref.name.clone()),
                )
            }
        },
    )
    .watches(
        scoped::<ErpConnection>(&client, namespace),
        watcher::Config::default(),
        {
            let memory = LastReferences::default();
            move |e| moved::<RateLimitPolicy, _>(&memory, &e, sink_policy(&e))
        },
    )
    .graceful_shutdown_on(stopped(shutdown.clone()))
    .run(
        timed(
            "RateLimitPolicy",
            metrics.clone(),
            rate_limit_policy::reconcile,
        ),
        error_policy,
        ctx.clone(),
    )
    .for_each(|result| {
        metrics.observe("RateLimitPolicy", result.is_ok());
        async {}
    });

    // SyncSchedules requeue themselves at their next due time; a change of their Marketplace (created,
    // flows changed) re-validates them.
    let controller = Controller::new(
        scoped::<SyncSchedule>(&client, namespace),
        watcher::Config::default(),
    );
    let store = controller.store();
    let schedules = controller
        .watches(
            scoped::<Marketplace>(&client, namespace),
            watcher::Config::default(),
            move |m| {
                store
                    .state()
                    .iter()
                    .filter(|s| {
                        s.namespace() == m.namespace()
                            && s.spec.marketplace_ref.name == m.name_any()
                    })
                    .map(|s| ObjectRef::from_obj(&**s))
                    .collect::<Vec<_>>()
            },
        )
        .graceful_shutdown_on(stopped(shutdown))
        .run(
            timed("SyncSchedule", metrics.clone(), sync_schedule::reconcile),
            error_policy,
            ctx,
        )
        .for_each(|result| {
            metrics.observe("SyncSchedule", result.is_ok());
            async {}
        });
    futures::join!(marketplaces, mappings, connections, policies, schedules);
}

async fn stopped(shutdown: adapter_runtime::flow::Shutdown) {
    shutdown.triggered().await
}
