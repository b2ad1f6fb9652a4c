//! Which objects are built, and how the spec shapes them.

use pretty_assertions::assert_eq;

use super::*;

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
        replication: {storage: {size: 1Gi, storageClassName: slow}, controllerStorage: {size: 2Gi}}
        reference: {enabled: true, storage: {size: 7Gi}}
        "#,
    );
    for (name, size, class) in [
        ("qserv-ci-czar", "3Gi", Some("fast")),
        ("qserv-ci-worker", "50Gi", None),
        ("qserv-ci-repl-db", "1Gi", Some("slow")),
        ("qserv-ci-repl-ctl", "2Gi", None),
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
    // The redirector is stateless: no claim.
    let xrootd = statefulset(&objects, "qserv-ci-xrootd")
        .spec
        .as_ref()
        .unwrap();
    assert_eq!(xrootd.volume_claim_templates, None);
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
    assert_eq!(count(&objects), 5);
    assert_eq!(
        count(&built(
            "{networkPolicies: true, reference: {enabled: true}}"
        )),
        6
    );
    // The workers' MariaDB (qsmaster:CHANGEME) is open only to the instance and the operator.
    let operator = objects
        .iter()
        .find_map(|o| match o {
            DesiredObject::NetworkPolicy(p) if o.name() == "qserv-ci-operator" => p.spec.clone(),
            _ => None,
        })
        .unwrap();
    let rule = &operator.ingress.unwrap()[0];
    let peer = &rule.from.as_ref().unwrap()[0];
    assert_eq!(
        peer.pod_selector
            .as_ref()
            .unwrap()
            .match_labels
            .as_ref()
            .unwrap()["app.kubernetes.io/name"],
        "qserv-operator"
    );
    assert!(peer.namespace_selector.is_some(), "any namespace");
    let selected = operator.pod_selector.unwrap().match_expressions.unwrap();
    assert_eq!(
        selected[0].values.as_deref().unwrap(),
        ["worker", "replication-registry"]
    );
    let ports: Vec<_> = rule
        .ports
        .iter()
        .flatten()
        .map(|p| p.port.clone().unwrap())
        .collect();
    use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString::Int;
    assert_eq!(ports, [Int(3306), Int(8080)]);
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
fn an_invalid_spec_builds_nothing() {
    let err = build(&cluster("{workers: {replicas: 0}}"), &test_secrets()).unwrap_err();
    assert_eq!(err.metric_label(), "invalid_spec");
    assert!(
        err.to_string()
            .contains("spec.workers.replicas: must be >= 1"),
        "{err}"
    );
}

#[test]
fn claims_are_deleted_with_the_statefulsets_only_with_storage_retention_delete() {
    for (retention, when_deleted) in [("Retain", "Retain"), ("Delete", "Delete")] {
        let objects = built(&format!(
            "{{storageRetention: {retention}, reference: {{enabled: true}}}}"
        ));
        for name in [
            "qserv-ci-czar",
            "qserv-ci-worker",
            "qserv-ci-repl-db",
            "qserv-ci-reference",
        ] {
            let policy = statefulset(&objects, name)
                .spec
                .as_ref()
                .unwrap()
                .persistent_volume_claim_retention_policy
                .clone()
                .unwrap();
            assert_eq!(policy.when_deleted.as_deref(), Some(when_deleted), "{name}");
            assert_eq!(policy.when_scaled.as_deref(), Some("Retain"), "{name}");
        }
    }
}

#[test]
fn endpoints_name_the_built_services() {
    let c = cluster("{reference: {enabled: true}}");
    let ctx = Ctx::new(&c).unwrap();
    let e = services::endpoints(&ctx);
    assert_eq!(e.query, "qserv-ci-query.ci.svc:4040");
    assert_eq!(e.replication, "http://qserv-ci-repl.ci.svc:8080");
    assert_eq!(
        e.reference.as_deref(),
        Some("qserv-ci-reference.ci.svc:3306")
    );
    let objects = built("{reference: {enabled: true}}");
    for (name, port) in [
        ("qserv-ci-query", 4040),
        ("qserv-ci-repl", 8080),
        ("qserv-ci-reference", 3306),
    ] {
        let ports = service(&objects, name).spec.clone().unwrap().ports.unwrap();
        assert_eq!(ports[0].port, port, "{name}");
    }
    let c = cluster("{}");
    assert_eq!(services::endpoints(&Ctx::new(&c).unwrap()).reference, None);
}
