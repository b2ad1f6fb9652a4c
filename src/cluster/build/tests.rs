//! Unit tests of the build stage: properties every built object must have, and how the spec
//! steers them. The full output is pinned by the YAML fixtures in `tests/cluster_fixtures.rs`.

use std::collections::BTreeMap;

use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::api::core::v1::{PodSpec, Service};
use k8s_openapi::api::networking::v1::NetworkPolicy;
use pretty_assertions::assert_eq;

use super::*;
use crate::api::QservCluster;

const UID: &str = "6f1c2a4e-0000-4000-8000-000000000001";

fn cluster(spec_yaml: &str) -> QservCluster {
    let spec = serde_norway::from_str(spec_yaml).unwrap();
    let mut c = QservCluster::new("qserv-ci", spec);
    c.metadata.namespace = Some("ci".into());
    c.metadata.uid = Some(UID.into());
    c
}

fn test_secrets() -> GeneratedSecrets {
    GeneratedSecrets {
        mariadb_root_password: "rootPw0123456789".into(),
        qsmaster_password: "qsmasterPw012345".into(),
        replication_auth_key: "authKey012345678".into(),
        replication_admin_auth_key: "adminKey01234567".into(),
        mysql_monitor_password: "monitorPw0123456".into(),
    }
}

fn built(spec_yaml: &str) -> Vec<DesiredObject> {
    build(&cluster(spec_yaml), &test_secrets()).unwrap()
}

fn statefulset<'a>(objects: &'a [DesiredObject], name: &str) -> &'a StatefulSet {
    objects
        .iter()
        .find_map(|o| match o {
            DesiredObject::StatefulSet(s) if o.name() == name => Some(s),
            _ => None,
        })
        .unwrap_or_else(|| panic!("no StatefulSet {name}"))
}

fn service<'a>(objects: &'a [DesiredObject], name: &str) -> &'a Service {
    objects
        .iter()
        .find_map(|o| match o {
            DesiredObject::Service(s) if o.name() == name => Some(s),
            _ => None,
        })
        .unwrap_or_else(|| panic!("no Service {name}"))
}

fn pod_specs(objects: &[DesiredObject]) -> Vec<(&str, &PodSpec)> {
    objects
        .iter()
        .filter_map(|o| {
            let spec = match o {
                DesiredObject::StatefulSet(s) => s.spec.as_ref()?.template.spec.as_ref()?,
                DesiredObject::Deployment(d) => d.spec.as_ref()?.template.spec.as_ref()?,
                _ => return None,
            };
            Some((o.name(), spec))
        })
        .collect()
}

fn names(objects: &[DesiredObject]) -> Vec<String> {
    objects
        .iter()
        .map(|o| format!("{}/{}", o.kind(), o.name()))
        .collect()
}

#[test]
fn every_object_has_the_labels_namespace_and_controller_owner() {
    let objects = built("{networkPolicies: true, reference: {enabled: true}}");
    for o in &objects {
        let meta = o.metadata();
        let labels = meta.labels.as_ref().unwrap();
        let component = o.component().unwrap_or_else(|| panic!("{}", o.name()));
        assert_eq!(
            labels,
            &BTreeMap::from([
                (
                    "app.kubernetes.io/component".into(),
                    component.label().into()
                ),
                ("app.kubernetes.io/instance".into(), "qserv-ci".into()),
                (
                    "app.kubernetes.io/managed-by".into(),
                    "qserv-operator".into()
                ),
                ("app.kubernetes.io/name".into(), "qserv".into()),
                ("app.kubernetes.io/part-of".into(), "qserv".into()),
            ]),
            "{}",
            o.name()
        );
        assert!(o.name().starts_with("qserv-ci-"), "{}", o.name());
        assert_eq!(meta.namespace.as_deref(), Some("ci"));
        let owners = meta.owner_references.as_ref().unwrap();
        assert_eq!(owners.len(), 1);
        assert_eq!(owners[0].kind, "QservCluster");
        assert_eq!(owners[0].api_version, "qserv.in2p3.fr/v1alpha1");
        assert_eq!(owners[0].name, "qserv-ci");
        assert_eq!(owners[0].uid, UID);
        assert_eq!(owners[0].controller, Some(true));
        // The apply stage finds every object with this selector.
        for pair in owned_selector("qserv-ci").split(',') {
            let (k, v) = pair.split_once('=').unwrap();
            assert_eq!(labels.get(k).map(String::as_str), Some(v), "{}", o.name());
        }
        let json = serde_json::to_value(o).unwrap();
        assert_eq!(json["apiVersion"], o.api_version());
        assert_eq!(json["kind"], o.kind());
    }
    // Pod templates carry the labels their selector matches.
    for o in &objects {
        if let DesiredObject::StatefulSet(s) = o {
            let spec = s.spec.as_ref().unwrap();
            let pod_labels = spec.template.metadata.as_ref().unwrap().labels.as_ref();
            for (k, v) in spec.selector.match_labels.as_ref().unwrap() {
                assert_eq!(pod_labels.unwrap().get(k), Some(v), "{}", o.name());
            }
        }
    }
}

#[test]
fn the_object_list_is_complete_and_in_apply_order() {
    assert_eq!(
        names(&built("{}")),
        vec![
            "Secret/qserv-ci-secrets",
            "ConfigMap/qserv-ci-config-czar",
            "ConfigMap/qserv-ci-config-worker",
            "ConfigMap/qserv-ci-config-replication",
            "Service/qserv-ci-czar",
            "Service/qserv-ci-worker",
            "Service/qserv-ci-xrootd",
            "Service/qserv-ci-repl-ctl",
            "Service/qserv-ci-repl-db",
            "Service/qserv-ci-query",
            "Service/qserv-ci-repl",
            "Service/qserv-ci-repl-registry",
            "StatefulSet/qserv-ci-repl-db",
            "StatefulSet/qserv-ci-czar",
            "StatefulSet/qserv-ci-worker",
            "StatefulSet/qserv-ci-xrootd",
            "Deployment/qserv-ci-repl-registry",
            "StatefulSet/qserv-ci-repl-ctl",
        ]
    );
}

#[test]
fn worker_replicas_follow_the_spec() {
    for replicas in [1, 4, 100] {
        let objects = built(&format!("{{workers: {{replicas: {replicas}}}}}"));
        let workers = statefulset(&objects, "qserv-ci-worker")
            .spec
            .as_ref()
            .unwrap();
        assert_eq!(workers.replicas, Some(replicas));
        assert_eq!(workers.pod_management_policy.as_deref(), Some("Parallel"));
        // The cmsd manager waits for that many workers.
        let xrootd = statefulset(&objects, "qserv-ci-xrootd");
        let cmsd = &xrootd
            .spec
            .as_ref()
            .unwrap()
            .template
            .spec
            .as_ref()
            .unwrap()
            .containers[1];
        assert!(
            cmsd.args
                .as_ref()
                .unwrap()
                .contains(&format!("--cms-delay-servers={replicas}"))
        );
    }
}

#[test]
fn pvc_sizes_and_storage_classes_follow_the_spec() {
    let objects = built(
        r#"
        czar: {storage: {size: 3Gi, storageClassName: fast}}
        workers: {storage: {size: 50Gi}}
        replication: {storage: {size: 1Gi, storageClassName: slow}}
        reference: {enabled: true, storage: {size: 7Gi}}
        "#,
    );
    for (name, size, class) in [
        ("qserv-ci-czar", "3Gi", Some("fast")),
        ("qserv-ci-worker", "50Gi", None),
        ("qserv-ci-repl-db", "1Gi", Some("slow")),
        ("qserv-ci-reference", "7Gi", None),
    ] {
        let sts = statefulset(&objects, name).spec.as_ref().unwrap();
        let templates = sts.volume_claim_templates.as_ref().unwrap();
        assert_eq!(templates.len(), 1, "{name}");
        let pvc = templates[0].spec.as_ref().unwrap();
        let requests = pvc.resources.as_ref().unwrap().requests.as_ref().unwrap();
        assert_eq!(requests["storage"].0, size, "{name}");
        assert_eq!(pvc.storage_class_name.as_deref(), class, "{name}");
        let labels = templates[0].metadata.labels.as_ref().unwrap();
        assert_eq!(labels["app.kubernetes.io/instance"], "qserv-ci");
    }
    // Stateless parts have no claims.
    for name in ["qserv-ci-xrootd", "qserv-ci-repl-ctl"] {
        let sts = statefulset(&objects, name).spec.as_ref().unwrap();
        assert_eq!(sts.volume_claim_templates, None, "{name}");
    }
}

/// The objects as JSON, keyed by kind/name.
fn as_json(objects: &[DesiredObject]) -> BTreeMap<String, serde_json::Value> {
    objects
        .iter()
        .map(|o| {
            (
                format!("{}/{}", o.kind(), o.name()),
                serde_json::to_value(o).unwrap(),
            )
        })
        .collect()
}

fn changed(before: &[DesiredObject], after: &[DesiredObject]) -> Vec<String> {
    let (before, after) = (as_json(before), as_json(after));
    assert_eq!(
        before.keys().collect::<Vec<_>>(),
        after.keys().collect::<Vec<_>>()
    );
    before
        .keys()
        .filter(|k| before[*k] != after[*k])
        .cloned()
        .collect()
}

fn without_hash(mut v: serde_json::Value) -> serde_json::Value {
    v["spec"]["template"]["metadata"]["annotations"]
        .as_object_mut()
        .unwrap()
        .remove(CONFIG_HASH_ANNOTATION)
        .unwrap();
    v
}

#[test]
fn a_config_override_changes_its_config_map_and_pod_hash_and_nothing_else() {
    let before = built("{}");
    for (component, key, file, line) in [
        (
            "czar",
            "tuning.xrootdSpread",
            "qserv-czar.cnf",
            "xrootdSpread = 4",
        ),
        (
            "worker",
            "scheduler.group_size",
            "xrdssi.cf",
            "group_size = 4",
        ),
    ] {
        let after = built(&format!("{{config: {{{component}: {{{key}: '4'}}}}}}"));
        let sts = format!("StatefulSet/qserv-ci-{component}");
        let cm = format!("ConfigMap/qserv-ci-config-{component}");
        assert_eq!(changed(&before, &after), vec![cm.clone(), sts.clone()]);

        let (b, a) = (as_json(&before), as_json(&after));
        let file_text = a[&cm]["data"][file].as_str().unwrap();
        assert!(file_text.contains(line), "{file_text}");
        let annotation = |v: &serde_json::Value| {
            v["spec"]["template"]["metadata"]["annotations"][CONFIG_HASH_ANNOTATION].clone()
        };
        assert_ne!(annotation(&b[&sts]), annotation(&a[&sts]));
        assert_eq!(without_hash(b[&sts].clone()), without_hash(a[&sts].clone()));
    }
}

#[test]
fn a_controller_setting_rolls_the_controller_only() {
    let before = built("{}");
    let after = built("{config: {replication: {controller.job-timeout-sec: '57600'}}}");
    assert_eq!(
        changed(&before, &after),
        vec![
            "ConfigMap/qserv-ci-config-replication",
            "StatefulSet/qserv-ci-repl-ctl"
        ]
    );
    // A worker setting reaches the replication workers (and the controller, which reads all).
    let after = built("{config: {replication: {worker.ingest-num-retries: '3'}}}");
    assert_eq!(
        changed(&before, &after),
        vec![
            "ConfigMap/qserv-ci-config-replication",
            "StatefulSet/qserv-ci-repl-ctl",
            "StatefulSet/qserv-ci-worker"
        ]
    );
}

#[test]
fn the_config_hash_is_the_config_maps() {
    let objects = built("{}");
    let ctx_cluster = cluster("{}");
    let ctx = Ctx::new(&ctx_cluster).unwrap();
    let configs = config::render_configs(&ctx).unwrap();
    let sts = statefulset(&objects, "qserv-ci-czar");
    let annotations = sts
        .spec
        .as_ref()
        .unwrap()
        .template
        .metadata
        .as_ref()
        .unwrap();
    assert_eq!(
        annotations.annotations.as_ref().unwrap()[CONFIG_HASH_ANNOTATION],
        configs.czar.hash
    );
    assert_eq!(configs.czar.hash.len(), 64);
    assert_ne!(configs.czar.hash, configs.worker.hash);
}

#[test]
fn a_replication_override_reaches_the_applications_that_read_it() {
    let objects = built(
        "{config: {replication: {controller.job-timeout-sec: '57600', worker.ingest-num-retries: '3'}}}",
    );
    let args = |name: &str, container: usize| {
        let specs = pod_specs(&objects);
        let (_, spec) = specs.iter().find(|(n, _)| *n == name).unwrap();
        spec.containers[container].args.clone().unwrap()
    };
    let controller = args("qserv-ci-repl-ctl", 0);
    assert!(controller.contains(&"--controller-job-timeout-sec=57600".to_string()));
    assert!(controller.contains(&"--worker-ingest-num-retries=3".to_string()));
    assert!(controller.contains(&"--controller-http-server-port=8080".to_string()));
    let worker_repl = args("qserv-ci-worker", 3);
    assert!(worker_repl.contains(&"--worker-ingest-num-retries=3".to_string()));
    assert!(!worker_repl.iter().any(|a| a.starts_with("--controller-")));
    let registry = args("qserv-ci-repl-registry", 0);
    assert!(registry.contains(&"--registry-port=8080".to_string()));
    assert!(!registry.iter().any(|a| a.starts_with("--worker-")));
}

#[test]
fn overrides_the_operator_cannot_honour_are_refused() {
    let err = |yaml: &str| build(&cluster(yaml), &test_secrets()).unwrap_err();
    assert_eq!(
        err("{config: {replication: {controller.http-server-port: '9090'}}}"),
        BuildError::ReservedConfigKey {
            component: "replication",
            key: "controller.http-server-port".into()
        }
    );
    assert!(matches!(
        err("{config: {czar: {tuning.x: '{{ evil }}'}}}"),
        BuildError::InvalidConfig {
            component: "czar",
            ..
        }
    ));
    assert!(matches!(
        err("{config: {worker: {'bad key.x': '1'}}}"),
        BuildError::InvalidConfig {
            component: "worker",
            ..
        }
    ));
    let e = err("{config: {worker: {a.b: \"1\\n[mysql]\"}}}");
    assert_eq!(e.metric_label(), "invalid_config");
    assert!(e.to_string().contains("single line"), "{e}");
}

#[test]
fn no_pod_holds_a_secret_value_and_secret_env_vars_come_from_the_secret() {
    let secrets = test_secrets();
    let objects = built("{reference: {enabled: true}, networkPolicies: true}");
    for o in &objects {
        if matches!(o, DesiredObject::Secret(_)) {
            continue;
        }
        let text = serde_json::to_string(o).unwrap();
        for key in SecretKey::ALL {
            assert!(
                !text.contains(secrets.get(key)),
                "{} contains the {}",
                o.name(),
                key.key()
            );
        }
        assert!(!text.contains("CHANGEME"), "{}", o.name());
    }
    for (name, spec) in pod_specs(&objects) {
        for c in &spec.containers {
            for env in c.env.iter().flatten() {
                let secret_like = ["PASSWORD", "AUTH_KEY"]
                    .iter()
                    .any(|s| env.name.contains(s));
                if secret_like {
                    assert_eq!(env.value, None, "{name}/{}: {}", c.name, env.name);
                    let r = env
                        .value_from
                        .as_ref()
                        .unwrap()
                        .secret_key_ref
                        .as_ref()
                        .unwrap();
                    assert_eq!(r.name, "qserv-ci-secrets");
                }
            }
            // Every `$(VAR)` in the arguments is declared, so the kubelet expands it.
            for arg in c.args.iter().flatten() {
                for (i, _) in arg.match_indices("$(") {
                    let var = &arg[i + 2..i + arg[i..].find(')').unwrap()];
                    assert!(
                        c.env.iter().flatten().any(|e| e.name == var),
                        "{name}/{}: {arg}",
                        c.name
                    );
                }
            }
        }
    }
    let secret = objects
        .iter()
        .find_map(|o| match o {
            DesiredObject::Secret(s) => Some(s),
            _ => None,
        })
        .unwrap();
    assert_eq!(GeneratedSecrets::from_secret(secret), Some(secrets));
}

#[test]
fn pods_run_as_non_root_with_probes_on_their_ports() {
    for (name, spec) in pod_specs(&built("{reference: {enabled: true}}")) {
        let pod = spec.security_context.as_ref().unwrap();
        assert_eq!(pod.run_as_non_root, Some(true), "{name}");
        for c in &spec.containers {
            let sc = c.security_context.as_ref().unwrap();
            assert!(sc.run_as_user.unwrap() > 0, "{name}/{}", c.name);
            assert_eq!(sc.allow_privilege_escalation, Some(false));
            // Probes name a port the container declares.
            for probe in [&c.readiness_probe, &c.liveness_probe]
                .into_iter()
                .flatten()
            {
                let port = probe
                    .tcp_socket
                    .as_ref()
                    .map(|t| &t.port)
                    .or(probe.http_get.as_ref().map(|h| &h.port))
                    .unwrap();
                let k8s_openapi::apimachinery::pkg::util::intstr::IntOrString::String(port) = port
                else {
                    panic!("{name}/{}: numeric probe port", c.name)
                };
                assert!(
                    c.ports
                        .iter()
                        .flatten()
                        .any(|p| p.name.as_deref() == Some(port)),
                    "{name}/{}: probe on undeclared port {port}",
                    c.name
                );
            }
        }
    }
}

#[test]
fn network_policies_only_when_enabled() {
    let count = |objects: &[DesiredObject]| {
        objects
            .iter()
            .filter(|o| matches!(o, DesiredObject::NetworkPolicy(_)))
            .count()
    };
    assert_eq!(count(&built("{}")), 0);
    assert_eq!(count(&built("{networkPolicies: false}")), 0);
    let objects = built("{networkPolicies: true}");
    assert_eq!(count(&objects), 4);
    assert_eq!(
        count(&built(
            "{networkPolicies: true, reference: {enabled: true}}"
        )),
        5
    );
    // Clients reach exactly 4040 on the czar and 8080 on the controller.
    let open: Vec<(String, Vec<i32>)> = objects
        .iter()
        .filter_map(|o| match o {
            DesiredObject::NetworkPolicy(NetworkPolicy { spec: Some(s), .. }) => {
                let rule = &s.ingress.as_ref().unwrap()[0];
                rule.from.is_none().then(|| {
                    let component = s
                        .pod_selector
                        .as_ref()
                        .unwrap()
                        .match_labels
                        .as_ref()
                        .unwrap()["app.kubernetes.io/component"]
                        .clone();
                    let ports = rule
                        .ports
                        .iter()
                        .flatten()
                        .map(|p| match p.port.as_ref().unwrap() {
                            k8s_openapi::apimachinery::pkg::util::intstr::IntOrString::Int(i) => *i,
                            other => panic!("{other:?}"),
                        })
                        .collect();
                    (component, ports)
                })
            }
            _ => None,
        })
        .collect();
    assert_eq!(
        open,
        vec![
            ("czar".to_string(), vec![4040]),
            ("replication-controller".to_string(), vec![8080])
        ]
    );
}

#[test]
fn reference_objects_only_when_enabled() {
    let reference = |objects: &[DesiredObject]| {
        objects
            .iter()
            .filter(|o| o.component() == Some(Component::Reference))
            .map(|o| format!("{}/{}", o.kind(), o.name()))
            .collect::<Vec<_>>()
    };
    assert!(reference(&built("{}")).is_empty());
    assert_eq!(
        reference(&built("{reference: {enabled: true}}")),
        vec![
            "Service/qserv-ci-reference",
            "StatefulSet/qserv-ci-reference"
        ]
    );
}

#[test]
fn node_port_only_with_type_node_port() {
    let port = |yaml: &str| {
        let objects = built(yaml);
        let spec = service(&objects, "qserv-ci-query").spec.clone().unwrap();
        (spec.type_.unwrap(), spec.ports.unwrap()[0].node_port)
    };
    assert_eq!(port("{}"), ("ClusterIP".into(), None));
    assert_eq!(
        port("{queryService: {type: NodePort, nodePort: 30040}}"),
        ("NodePort".into(), Some(30040))
    );
    assert_eq!(
        port("{queryService: {type: NodePort}}"),
        ("NodePort".into(), None)
    );
    // A nodePort with another type is an invalid spec: nothing is built.
    let err = build(
        &cluster("{queryService: {type: LoadBalancer, nodePort: 30040}}"),
        &test_secrets(),
    )
    .unwrap_err();
    assert!(matches!(err, BuildError::InvalidSpec(_)), "{err}");
    let query = service(&built("{}"), "qserv-ci-query").clone();
    assert_eq!(query.spec.unwrap().ports.unwrap()[0].port, 4040);
}

#[test]
fn names_the_api_server_would_refuse_are_build_errors() {
    let mut c = cluster("{}");
    c.metadata.name = Some("x".repeat(50));
    let err = build(&c, &test_secrets()).unwrap_err();
    assert!(
        matches!(
            &err,
            BuildError::InvalidName {
                kind: "Service",
                ..
            }
        ),
        "{err}"
    );
    c.metadata.name = Some("1abc".into());
    let err = build(&c, &test_secrets()).unwrap_err();
    assert!(
        err.to_string()
            .contains("must start with a lowercase letter"),
        "{err}"
    );
    c.metadata.name = Some("abc".into());
    c.metadata.uid = None;
    assert_eq!(
        build(&c, &test_secrets()).unwrap_err(),
        BuildError::MissingMetadata("uid")
    );
}

#[test]
fn generated_secrets_are_alphanumeric_distinct_and_redacted() {
    let mut state = 0x9e37_79b9_7f4a_7c15_u64;
    let mut next = || {
        // xorshift64: a fixed, reproducible sequence
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let a = generate_secrets(&mut next);
    let b = generate_secrets(&mut next);
    assert_ne!(a, b);
    for key in SecretKey::ALL {
        let v = a.get(key);
        assert_eq!(v.len(), secrets::SECRET_LEN);
        assert!(v.bytes().all(|c| c.is_ascii_alphanumeric()), "{v}");
    }
    assert_ne!(a.mariadb_root_password, a.qsmaster_password);
    assert_eq!(format!("{a:?}"), "GeneratedSecrets { <redacted> }");
    // Same input, same output: the function is pure.
    assert_eq!(generate_secrets(|| 42), generate_secrets(|| 42));
}

#[test]
fn an_invalid_spec_builds_nothing() {
    let err = build(&cluster("{workers: {replicas: 0}}"), &test_secrets()).unwrap_err();
    assert_eq!(err.metric_label(), "invalid_spec");
    assert!(
        err.to_string()
            .contains("spec.workers.replicas: must be >= 1"),
        "{err}"
    );
}
