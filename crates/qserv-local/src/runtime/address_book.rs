//! Builds the address map (see [`qserv_operator::connect_to`]) from the pods' live ports and the
//! Services:
//! - `<pod>.<subdomain>:<containerPort>` for every port a running container of a pod with
//!   `spec.subdomain` serves (StatefulSet pods get their `serviceName` as subdomain), whether
//!   or not a Service object exists;
//! - `<pod>.<service>:<port>` for each port of a Service selecting the pod, when the pod's
//!   subdomain is that Service (headless-Service DNS);
//! - `<service>:<port>` → the first ready selected pod by name (any running one with
//!   `publishNotReadyAddresses`), `targetPort` resolved by number or container port name.
//!
//! Names carry no namespace: the map assumes pod and Service names are unique across
//! namespaces (true for one QservCluster per namespace).

use std::collections::BTreeMap;
use std::net::SocketAddr;

use k8s_openapi::api::core::v1::{Pod, Service};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use kube::ResourceExt;

use super::context::{Ctx, PodLive};
use qserv_operator::connect_to::AddressMap;

pub fn compute(ctx: &Ctx) -> AddressMap {
    let live = ctx.live().clone();
    let pods = ctx.stores.pods.state();
    let services = ctx.stores.services.state();
    build(
        &pods.iter().map(|p| p.as_ref()).collect::<Vec<_>>(),
        &services.iter().map(|s| s.as_ref()).collect::<Vec<_>>(),
        &live,
    )
}

fn build(
    pods: &[&Pod],
    services: &[&Service],
    live: &BTreeMap<(String, String), PodLive>,
) -> AddressMap {
    let mut map = AddressMap::default();
    let live_of = |p: &Pod| {
        let l = live.get(&(p.namespace().unwrap_or_default(), p.name_any()))?;
        (Some(l.uid.as_str()) == p.metadata.uid.as_deref()).then_some(l)
    };
    for p in pods {
        let (Some(l), Some(sub)) = (live_of(p), subdomain(p)) else {
            continue;
        };
        for (port, addr) in &l.ports {
            map.insert(&format!("{}.{sub}", p.name_any()), *port, *addr);
        }
    }
    for svc in services {
        let Some(spec) = &svc.spec else { continue };
        let Some(selector) = spec.selector.as_ref().filter(|s| !s.is_empty()) else {
            continue;
        };
        let svc_name = svc.name_any();
        let not_ready_ok = spec.publish_not_ready_addresses == Some(true);
        let mut selected: Vec<(&Pod, &PodLive)> = pods
            .iter()
            .filter(|p| p.namespace() == svc.namespace())
            .filter(|p| selector.iter().all(|(k, v)| p.labels().get(k) == Some(v)))
            .filter_map(|p| Some((*p, live_of(p)?)))
            .collect();
        selected.sort_by_key(|(p, _)| p.name_any());
        for port in spec.ports.iter().flatten() {
            for (p, l) in &selected {
                if let Some(addr) = target(p, l, port.target_port.as_ref(), port.port)
                    && subdomain(p).as_deref() == Some(svc_name.as_str())
                {
                    map.insert(
                        &format!("{}.{svc_name}", p.name_any()),
                        port.port as u16,
                        addr,
                    );
                }
            }
            let chosen = selected
                .iter()
                .filter(|(_, l)| l.ready || not_ready_ok)
                .find_map(|(p, l)| target(p, l, port.target_port.as_ref(), port.port));
            if let Some(addr) = chosen {
                map.insert(&svc_name, port.port as u16, addr);
            }
        }
    }
    map
}

fn subdomain(p: &Pod) -> Option<String> {
    p.spec.as_ref()?.subdomain.clone().filter(|s| !s.is_empty())
}

/// The loopback address serving a Service port's `targetPort` on pod `p`.
fn target(p: &Pod, l: &PodLive, target: Option<&IntOrString>, port: i32) -> Option<SocketAddr> {
    let number = match target {
        None => port,
        Some(IntOrString::Int(n)) => *n,
        Some(IntOrString::String(name)) => {
            p.spec
                .as_ref()?
                .containers
                .iter()
                .flat_map(|c| c.ports.iter().flatten())
                .find(|cp| cp.name.as_deref() == Some(name.as_str()))?
                .container_port
        }
    };
    l.ports.get(&(number as u16)).copied()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn pod_and_service_names_map_to_live_ports() {
        let pod = |name: &str, uid: &str| -> Pod {
            serde_json::from_value(json!({
                "metadata": {"name": name, "namespace": "q", "uid": uid, "labels": {"app": "w"}},
                "spec": {"subdomain": "w", "containers": [{"name": "db",
                         "ports": [{"name": "mariadb", "containerPort": 3306}]}]}
            }))
            .unwrap()
        };
        let (p0, p1) = (pod("w-0", "u0"), pod("w-1", "u1"));
        let svc: Service = serde_json::from_value(json!({
            "metadata": {"name": "w", "namespace": "q"},
            "spec": {"selector": {"app": "w"},
                     "ports": [{"name": "db", "port": 3307, "targetPort": "mariadb"}]}
        }))
        .unwrap();
        let a0: SocketAddr = "127.0.0.1:41000".parse().unwrap();
        let a1: SocketAddr = "127.0.0.1:41001".parse().unwrap();
        let live = BTreeMap::from([
            (
                ("q".into(), "w-0".into()),
                PodLive {
                    uid: "u0".into(),
                    ready: false,
                    ports: BTreeMap::from([(3306, a0)]),
                    ..Default::default()
                },
            ),
            (
                ("q".into(), "w-1".into()),
                PodLive {
                    uid: "u1".into(),
                    ready: true,
                    ports: BTreeMap::from([(3306, a1)]),
                    ..Default::default()
                },
            ),
        ]);
        let map = build(&[&p0, &p1], &[&svc], &live);
        assert_eq!(map.get("w-0.w", 3306), Some(a0));
        assert_eq!(map.get("w-1.w", 3306), Some(a1));
        assert_eq!(map.get("w-0.w", 3307), Some(a0));
        // The Service name goes to a ready pod only.
        assert_eq!(map.get("w", 3307), Some(a1));
        assert_eq!(map.get("w", 3306), None);
    }
}
