//! The xrootd redirector: the czar sends chunk queries to it and it routes them to the worker
//! holding the chunk. Each pod runs the xrootd manager (1094) and the cmsd manager (2131).
//!
//! Commands follow the `manager-xrootd` and `manager-cmsd` services of lsst/qserv
//! `admin/local/docker/compose/docker-compose.yml` and lsst/qserv-operator
//! `configmap/xrootd-redirector/start/start.sh` and `configmap/cmsd-redirector/start/start.sh`.

use k8s_openapi::api::apps::v1::{StatefulSet, StatefulSetSpec};
use k8s_openapi::api::core::v1::{PodSpec, PodTemplateSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

use super::meta::{Component, Ctx};
use super::pod::{empty_dir, mount, pod_security_context, port, qserv_container, tcp_probes};
use super::ports::{CMSD_PORT, XROOTD_PORT};

const ADMIN_VOLUME: &str = "xrootd-adminpath";
const ADMIN_PATH: &str = "/var/run/xrootd";

/// The redirector StatefulSet `<cluster>-xrootd`, `spec.xrootd.replicas` pods.
pub fn xrootd_statefulset(ctx: &Ctx) -> StatefulSet {
    let spec = &ctx.cluster.spec;
    let component = Component::Xrootd;
    let name = ctx.object_name(component);

    let mut xrootd = qserv_container(
        ctx,
        "xrootd",
        vec![
            // The current entrypoint takes the manager name only (the Go operator's
            // `--cmsd-manager-count` is gone from lsst/qserv `entrypoint.py`).
            "xrootd-manager".into(),
            format!("--cmsd-manager-name={name}"),
        ],
    );
    let (readiness, liveness) = tcp_probes("xrootd");
    xrootd.ports = Some(vec![port("xrootd", XROOTD_PORT)]);
    xrootd.readiness_probe = Some(readiness);
    xrootd.liveness_probe = Some(liveness);
    xrootd.volume_mounts = Some(vec![mount(ADMIN_VOLUME, ADMIN_PATH)]);

    // "cms-delay-servers must match the number of workers being launched" (docker-compose
    // file): the manager waits for that many workers before serving, so a worker scale rolls
    // the redirector too.
    let mut cmsd = qserv_container(
        ctx,
        "cmsd",
        vec![
            "cmsd-manager".into(),
            format!("--cms-delay-servers={}", spec.workers.replicas),
        ],
    );
    let (readiness, liveness) = tcp_probes("cmsd");
    cmsd.ports = Some(vec![port("cmsd", CMSD_PORT)]);
    cmsd.readiness_probe = Some(readiness);
    cmsd.liveness_probe = Some(liveness);
    cmsd.volume_mounts = Some(vec![mount(ADMIN_VOLUME, ADMIN_PATH)]);

    StatefulSet {
        metadata: ctx.meta(name.clone(), component),
        spec: Some(StatefulSetSpec {
            replicas: Some(spec.xrootd.replicas),
            service_name: Some(name),
            pod_management_policy: Some("Parallel".into()),
            selector: ctx.selector(component),
            template: PodTemplateSpec {
                metadata: Some(ObjectMeta {
                    labels: Some(ctx.labels(component)),
                    ..ObjectMeta::default()
                }),
                spec: Some(PodSpec {
                    containers: vec![xrootd, cmsd],
                    volumes: Some(vec![empty_dir(ADMIN_VOLUME)]),
                    security_context: Some(pod_security_context()),
                    ..PodSpec::default()
                }),
            },
            ..StatefulSetSpec::default()
        }),
        ..StatefulSet::default()
    }
}
