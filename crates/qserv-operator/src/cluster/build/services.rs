//! Services: a headless one per StatefulSet (stable pod host names, and the short names the
//! components use to find each other), the query Service on 4040, the replication API on 8080
//! and the registry.

use k8s_openapi::api::core::v1::{Service, ServicePort, ServiceSpec};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

use super::meta::{Component, Ctx};
use super::ports::{
    CMSD_PORT, MARIADB_PORT, PROXY_PORT, REPLICATION_HTTP_PORT, WORKER_HTTP_LOADER_PORT,
    XROOTD_PORT,
};
use crate::api::qserv_cluster::{Endpoints, ServiceType};

fn service_port(name: &str, port: i32) -> ServicePort {
    ServicePort {
        name: Some(name.into()),
        port,
        target_port: Some(IntOrString::String(name.into())),
        protocol: Some("TCP".into()),
        ..ServicePort::default()
    }
}

/// The headless Service governing a StatefulSet. Not-ready pods are published: workers and
/// redirectors must resolve each other while they start.
fn headless(ctx: &Ctx, component: Component, ports: Vec<ServicePort>) -> Service {
    Service {
        metadata: ctx.meta(ctx.object_name(component), component),
        spec: Some(ServiceSpec {
            cluster_ip: Some("None".into()),
            selector: Some(ctx.selector_labels(component)),
            ports: Some(ports),
            publish_not_ready_addresses: Some(true),
            ..ServiceSpec::default()
        }),
        ..Service::default()
    }
}

/// Every Service of the cluster, in a fixed order.
pub fn services(ctx: &Ctx) -> Vec<Service> {
    let spec = &ctx.cluster.spec;
    let mut out = vec![
        headless(
            ctx,
            Component::Czar,
            vec![
                service_port("mariadb", MARIADB_PORT),
                service_port("proxy", PROXY_PORT),
            ],
        ),
        headless(
            ctx,
            Component::Worker,
            vec![
                service_port("mariadb", MARIADB_PORT),
                service_port("xrootd", XROOTD_PORT),
                service_port("repl-http", WORKER_HTTP_LOADER_PORT),
            ],
        ),
        headless(
            ctx,
            Component::Xrootd,
            vec![
                service_port("xrootd", XROOTD_PORT),
                service_port("cmsd", CMSD_PORT),
            ],
        ),
        headless(
            ctx,
            Component::ReplicationController,
            vec![service_port("http", REPLICATION_HTTP_PORT)],
        ),
        headless(
            ctx,
            Component::ReplicationDb,
            vec![service_port("mariadb", MARIADB_PORT)],
        ),
        query_service(ctx),
        cluster_ip(
            ctx,
            ctx.named("repl"),
            Component::ReplicationController,
            service_port("http", REPLICATION_HTTP_PORT),
        ),
        cluster_ip(
            ctx,
            ctx.object_name(Component::ReplicationRegistry),
            Component::ReplicationRegistry,
            service_port("http", REPLICATION_HTTP_PORT),
        ),
    ];
    if spec.reference.enabled {
        out.push(headless(
            ctx,
            Component::Reference,
            vec![service_port("mariadb", MARIADB_PORT)],
        ));
    }
    out
}

fn cluster_ip(ctx: &Ctx, name: String, component: Component, port: ServicePort) -> Service {
    Service {
        metadata: ctx.meta(name, component),
        spec: Some(ServiceSpec {
            type_: Some("ClusterIP".into()),
            selector: Some(ctx.selector_labels(component)),
            ports: Some(vec![port]),
            ..ServiceSpec::default()
        }),
        ..Service::default()
    }
}

/// The query Service `<cluster>-query`: the czar proxy's MySQL protocol on 4040, exposed as
/// `spec.queryService.type`; `nodePort` only with type NodePort.
pub fn query_service(ctx: &Ctx) -> Service {
    let query = &ctx.cluster.spec.query_service;
    let mut port = service_port("proxy", PROXY_PORT);
    if query.type_ == ServiceType::NodePort {
        port.node_port = query.node_port;
    }
    let type_ = match query.type_ {
        ServiceType::ClusterIP => "ClusterIP",
        ServiceType::NodePort => "NodePort",
        ServiceType::LoadBalancer => "LoadBalancer",
    };
    Service {
        metadata: ctx.meta(ctx.named("query"), Component::Czar),
        spec: Some(ServiceSpec {
            type_: Some(type_.into()),
            selector: Some(ctx.selector_labels(Component::Czar)),
            ports: Some(vec![port]),
            ..ServiceSpec::default()
        }),
        ..Service::default()
    }
}

/// `status.endpoints`: where clients reach the cluster, by the in-cluster DNS names of the
/// Services built here (pure, so the status stage and the tests agree on them).
pub fn endpoints(ctx: &Ctx) -> Endpoints {
    let host = |name: String| format!("{name}.{}.svc", ctx.namespace);
    Endpoints {
        query: format!("{}:{PROXY_PORT}", host(ctx.named("query"))),
        replication: format!("http://{}:{REPLICATION_HTTP_PORT}", host(ctx.named("repl"))),
        reference: ctx.cluster.spec.reference.enabled.then(|| {
            format!(
                "{}:{MARIADB_PORT}",
                host(ctx.object_name(Component::Reference))
            )
        }),
    }
}
