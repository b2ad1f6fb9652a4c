//! NetworkPolicies, when `spec.networkPolicies`: the pods of a cluster accept connections from
//! each other only, except for the client endpoints — the query proxy (4040) and the
//! replication REST API (8080) from anywhere, and the worker ingest port (25004) and the
//! reference database (3306) from this operator's Jobs (pods labelled
//! `app.kubernetes.io/part-of: qserv` in the namespace), which load and check catalogs, and the
//! workers' MariaDB (3306) and the replication registry (8080) from the operator's own pod, in
//! whatever namespace it runs: the scale-down guard asks the workers for chunks, and a worker
//! scaled away is deleted from the registry (`cluster/scale.rs`).
//!
//! The workers' qsmaster password is the release's hard-coded `CHANGEME`
//! (`Q@2026.3.3-rc1:python/lsst/qserv/admin/cli/script.py:59,452`), so worker 3306 is on no
//! open path: only the instance's own pods and the operator reach it.

use std::collections::BTreeMap;

use k8s_openapi::api::networking::v1::{
    NetworkPolicy, NetworkPolicyIngressRule, NetworkPolicyPeer, NetworkPolicyPort,
    NetworkPolicySpec,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, LabelSelectorRequirement};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

use super::meta::{Component, Ctx};
use super::ports::{MARIADB_PORT, PROXY_PORT, REPLICATION_HTTP_PORT, WORKER_HTTP_LOADER_PORT};

/// `app.kubernetes.io/name` of the operator's pod (the chart's `qserv-operator.selectorLabels`,
/// `charts/qserv-operator/templates/_helpers.tpl`; a `nameOverride` changes it).
pub const OPERATOR_POD_NAME: &str = "qserv-operator";

fn labels(pairs: &[(&str, &str)]) -> LabelSelector {
    LabelSelector {
        match_labels: Some(
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect::<BTreeMap<_, _>>(),
        ),
        ..LabelSelector::default()
    }
}

fn tcp(port: i32) -> NetworkPolicyPort {
    NetworkPolicyPort {
        port: Some(IntOrString::Int(port)),
        protocol: Some("TCP".into()),
        ..NetworkPolicyPort::default()
    }
}

fn policy(
    ctx: &Ctx,
    suffix: &str,
    pods: LabelSelector,
    from: Option<Vec<NetworkPolicyPeer>>,
    ports: Option<Vec<NetworkPolicyPort>>,
) -> NetworkPolicy {
    NetworkPolicy {
        metadata: ctx.meta(ctx.named(suffix), Component::Cluster),
        spec: Some(NetworkPolicySpec {
            pod_selector: Some(pods),
            policy_types: Some(vec!["Ingress".into()]),
            ingress: Some(vec![NetworkPolicyIngressRule { from, ports }]),
            ..NetworkPolicySpec::default()
        }),
    }
}

/// The cluster's NetworkPolicies; empty unless `spec.networkPolicies`.
pub fn network_policies(ctx: &Ctx) -> Vec<NetworkPolicy> {
    if !ctx.cluster.spec.network_policies {
        return vec![];
    }
    let instance = [
        ("app.kubernetes.io/name", "qserv"),
        ("app.kubernetes.io/instance", ctx.name),
    ];
    let component = |c: Component| {
        let mut pairs = instance.to_vec();
        pairs.push(("app.kubernetes.io/component", c.label()));
        labels(&pairs)
    };
    let operator_jobs = vec![NetworkPolicyPeer {
        pod_selector: Some(labels(&[("app.kubernetes.io/part-of", "qserv")])),
        ..NetworkPolicyPeer::default()
    }];

    let mut out = vec![
        // Selecting every pod of the instance isolates them; this rule lets them talk.
        policy(
            ctx,
            "internal",
            labels(&instance),
            Some(vec![NetworkPolicyPeer {
                pod_selector: Some(labels(&instance)),
                ..NetworkPolicyPeer::default()
            }]),
            None,
        ),
        policy(
            ctx,
            "query-clients",
            component(Component::Czar),
            None,
            Some(vec![tcp(PROXY_PORT)]),
        ),
        policy(
            ctx,
            "replication-clients",
            component(Component::ReplicationController),
            None,
            Some(vec![tcp(REPLICATION_HTTP_PORT)]),
        ),
        policy(
            ctx,
            "ingest-clients",
            component(Component::Worker),
            Some(operator_jobs.clone()),
            Some(vec![tcp(WORKER_HTTP_LOADER_PORT)]),
        ),
    ];
    let mut workers_and_registry = labels(&instance);
    workers_and_registry.match_expressions = Some(vec![LabelSelectorRequirement {
        key: "app.kubernetes.io/component".into(),
        operator: "In".into(),
        values: Some(vec![
            Component::Worker.label().into(),
            Component::ReplicationRegistry.label().into(),
        ]),
    }]);
    out.push(NetworkPolicy {
        metadata: ctx.meta(ctx.named("operator"), Component::Cluster),
        spec: Some(NetworkPolicySpec {
            pod_selector: Some(workers_and_registry),
            policy_types: Some(vec!["Ingress".into()]),
            ingress: Some(vec![NetworkPolicyIngressRule {
                from: Some(vec![NetworkPolicyPeer {
                    // An empty namespace selector: the operator's pod in any namespace.
                    namespace_selector: Some(LabelSelector::default()),
                    pod_selector: Some(labels(&[("app.kubernetes.io/name", OPERATOR_POD_NAME)])),
                    ..NetworkPolicyPeer::default()
                }]),
                ports: Some(vec![tcp(MARIADB_PORT), tcp(REPLICATION_HTTP_PORT)]),
            }]),
            ..NetworkPolicySpec::default()
        }),
    });
    if ctx.cluster.spec.reference.enabled {
        out.push(policy(
            ctx,
            "reference-clients",
            component(Component::Reference),
            Some(operator_jobs),
            Some(vec![tcp(MARIADB_PORT)]),
        ));
    }
    out
}
