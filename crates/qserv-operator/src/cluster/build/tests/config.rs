//! Rendered config, overrides, and what a config change rolls.

use pretty_assertions::assert_eq;

use super::*;

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
    let configs = crate::cluster::build::config::render_configs(&ctx).unwrap();
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
