//! What Qserv 2026.3.3-rc1 needs of the containers and config files, each rule from the line of
//! the release that imposes it. `scripts/qserv-conformance` runs the release's own entrypoint on
//! the same objects; these tests keep the rules in CI, where no Qserv checkout is.

use std::collections::BTreeSet;

use k8s_openapi::api::core::v1::Container;

use pretty_assertions::assert_eq;

use super::*;
use crate::api::qserv_cluster::{DEFAULT_DB_IMAGE, DEFAULT_IMAGE, QSERV_RELEASE};

fn config_file(objects: &[DesiredObject], config_map: &str, file: &str) -> String {
    objects
        .iter()
        .find_map(|o| match o {
            DesiredObject::ConfigMap(c) if o.name() == config_map => {
                c.data.as_ref()?.get(file).cloned()
            }
            _ => None,
        })
        .unwrap_or_else(|| panic!("no {file} in {config_map}"))
}

/// `section -> option -> value` of an INI file.
fn ini(text: &str) -> BTreeMap<String, BTreeMap<String, String>> {
    let mut out: BTreeMap<String, BTreeMap<String, String>> = BTreeMap::new();
    let mut section = String::new();
    for line in text.lines().map(str::trim) {
        if let Some(s) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            section = s.to_string();
        } else if let Some((k, v)) = line.split_once('=')
            && !line.starts_with('#')
        {
            out.entry(section.clone())
                .or_default()
                .insert(k.trim().into(), v.trim().into());
        }
    }
    out
}

fn container<'a>(objects: &'a [DesiredObject], pod: &str, name: &str) -> &'a Container {
    pod_specs(objects)
        .into_iter()
        .find(|(n, _)| *n == pod)
        .and_then(|(_, s)| s.containers.iter().find(|c| c.name == name))
        .unwrap_or_else(|| panic!("no container {pod}/{name}"))
}

fn arg<'a>(c: &'a Container, option: &str) -> Option<&'a str> {
    let prefix = format!("{option}=");
    c.args
        .iter()
        .flatten()
        .find_map(|a| a.strip_prefix(prefix.as_str()))
}

/// The `{{ name }}` variables a template uses.
fn variables(text: &str) -> BTreeSet<String> {
    text.match_indices("{{")
        .map(|(i, _)| {
            let rest = &text[i + 2..];
            rest[..rest.find("}}").unwrap()].trim().to_string()
        })
        .collect()
}

/// The template variables of the `--repl-*` click options (`entrypoint.py` `option_repl_*`).
const REPL_OPTIONS: &[&str] = &[
    "repl_instance_id",
    "repl_auth_key",
    "repl_admin_auth_key",
    "repl_registry_host",
    "repl_registry_port",
    "repl_http_port",
];

/// Every `{{ name }}` of `text` is one of `provided` (StrictUndefined refuses any other).
fn assert_uses_only(text: &str, provided: &[&[&str]]) {
    let provided: BTreeSet<String> = provided
        .iter()
        .flat_map(|p| p.iter())
        .map(|v| v.to_string())
        .collect();
    let used = variables(text);
    assert!(
        used.is_subset(&provided),
        "{:?}",
        used.difference(&provided)
    );
}

#[test]
fn the_default_images_are_the_release_on_ghcr() {
    assert_eq!(QSERV_RELEASE, "2026.3.3-rc1");
    assert_eq!(DEFAULT_IMAGE, "ghcr.io/lsst/qserv:2026.3.3-rc1");
    assert_eq!(DEFAULT_DB_IMAGE, "ghcr.io/lsst/qserv-mariadb:2026.3.3-rc1");
    let objects = built("{reference: {enabled: true}}");
    for (pod, spec) in pod_specs(&objects) {
        for c in &spec.containers {
            let image = c.image.as_deref().unwrap();
            assert!(
                image == DEFAULT_IMAGE || image == DEFAULT_DB_IMAGE,
                "{pod}/{}: {image}",
                c.name
            );
        }
    }
}

/// `entrypoint proxy` renders the czar config with its click options (`targs`, named after the
/// options: `Q@2026.3.3-rc1:python/lsst/qserv/admin/cli/entrypoint.py:551-618`) plus five
/// values of its own (`script.py:603-613`), under StrictUndefined (`template.py:94-96`).
#[test]
fn the_czar_config_uses_only_what_entrypoint_proxy_provides() {
    let objects = built("{}");
    let text = config_file(&objects, "qserv-ci-config-czar", "qserv-czar.cnf");
    assert_uses_only(
        &text,
        &[
            &["xrootd_manager"],
            REPL_OPTIONS,
            &[
                "proxy_backend_address",
                "mysqld_user_qserv_password",
                "czar_db_host",
                "czar_db_port",
                "czar_db_socket",
            ],
        ],
    );
    // Gone from the templates in 2024.5 (commit f12512410): StrictUndefined would refuse it.
    assert!(!text.contains("empty_chunk_path") && !text.contains("[partitioner]"));
}

/// The czar's loader throws without `replication.registry_host` or with `registry_port` 0
/// (`Q@2026.3.3-rc1:src/cconfig/CzarConfig.cc:97-103`); the values come from the proxy's
/// `--repl-*` options, which must name the registry.
#[test]
fn the_czar_registers_with_the_registry() {
    let objects = built("{}");
    let settings = ini(&config_file(
        &objects,
        "qserv-ci-config-czar",
        "qserv-czar.cnf",
    ));
    let replication = &settings["replication"];
    for (key, var) in [
        ("registry_host", "repl_registry_host"),
        ("registry_port", "repl_registry_port"),
        ("instance_id", "repl_instance_id"),
        ("auth_key", "repl_auth_key"),
        ("admin_auth_key", "repl_admin_auth_key"),
        ("http_port", "repl_http_port"),
    ] {
        assert_eq!(replication[key], format!("{{{{ {var} }}}}"), "{key}");
    }
    assert_eq!(replication["registry_heartbeat_ival_sec"], "1");
    let proxy = container(&objects, "qserv-ci-czar", "proxy");
    assert_eq!(
        arg(proxy, "--repl-registry-host"),
        Some("qserv-ci-repl-registry")
    );
    assert_eq!(arg(proxy, "--repl-registry-port"), Some("8080"));
    assert_eq!(arg(proxy, "--repl-instance-id"), Some("qserv-ci"));
    assert_eq!(
        arg(proxy, "--repl-auth-key"),
        Some("$(QSERV_REPL_AUTH_KEY)")
    );
}

/// `WorkerConfig` requires `replication.registry_host`, `registry_port` and `http_port`
/// (`Q@2026.3.3-rc1:src/wconfig/WorkerConfig.h:315-321`, thrown at `WorkerConfig.cc:84-86`),
/// both in xrootd and in cmsd, which load the same plugin; `worker-cmsd` renders the file with
/// its click options and the database address only (`script.py:367-372`).
#[test]
fn the_worker_config_has_the_required_keys_from_what_both_entrypoints_provide() {
    let objects = built("{}");
    let text = config_file(&objects, "qserv-ci-config-worker", "xrdssi.cf");
    let settings = ini(&text);
    for key in ["registry_host", "registry_port", "http_port"] {
        assert!(settings["replication"].contains_key(key), "{key}");
    }
    assert_eq!(settings["results"]["dirname"], "{{ results_dirname }}");
    assert!(
        !settings.contains_key("memman"),
        "memman left Qserv in 2025.6"
    );
    assert_uses_only(
        &text,
        &[
            &["db_host", "db_port", "db_socket", "results_dirname"],
            REPL_OPTIONS,
        ],
    );
    for name in ["xrootd", "cmsd"] {
        let c = container(&objects, "qserv-ci-worker", name);
        assert_eq!(
            arg(c, "--repl-registry-host"),
            Some("qserv-ci-repl-registry")
        );
        assert_eq!(arg(c, "--repl-registry-port"), Some("8080"));
        assert_eq!(arg(c, "--results-dirname"), Some("/qserv/data/results"));
        // Two processes of one pod network: a fixed management port would be bound twice.
        assert_eq!(arg(c, "--repl-http-port"), None);
    }
}

/// The czar's migration creates qsmaster with the password of the proxy's `--db-uri`
/// (`script.py:603-621`, `schema/migrations/czar/migrate-None-to-17.sql.jinja:5-6`), so the
/// proxy, its config and the check Jobs must all use that one, the Secret's `qsmaster-password`.
#[test]
fn the_czar_logins_are_the_one_its_migration_creates() {
    let objects = built("{}");
    let proxy = container(&objects, "qserv-ci-czar", "proxy");
    assert_eq!(
        arg(proxy, "--db-uri"),
        Some("mysql://qsmaster:$(QSERV_QSMASTER_PASSWORD)@127.0.0.1:3306")
    );
    let env = proxy.env.iter().flatten();
    let pw = env
        .clone()
        .find(|e| e.name == "QSERV_QSMASTER_PASSWORD")
        .and_then(|e| e.value_from.as_ref()?.secret_key_ref.as_ref())
        .unwrap();
    assert_eq!(pw.key, SecretKey::QsmasterPassword.key());
    let settings = ini(&config_file(
        &objects,
        "qserv-ci-config-czar",
        "qserv-czar.cnf",
    ));
    for (section, user, password) in [
        ("css", "username", "password"),
        ("resultdb", "user", "passwd"),
        ("qmeta", "user", "passwd"),
        ("qstatus", "user", "passwd"),
    ] {
        assert_eq!(settings[section][user], "qsmaster", "{section}");
        assert_eq!(
            settings[section][password], "{{ mysqld_user_qserv_password }}",
            "{section}"
        );
    }
}

/// A worker's qsmaster is created with the hard-coded `CHANGEME` whatever the URIs say
/// (`script.py:59,452`, `schema/migrations/worker/migrate-None-to-3.sql.jinja:5-6`): every worker
/// login as qsmaster uses it, over the pod's loopback.
#[test]
fn the_worker_logins_are_the_release_s_hard_coded_one() {
    let objects = built("{}");
    let expected = "mysql://qsmaster:CHANGEME@127.0.0.1:3306";
    for name in ["xrootd", "cmsd"] {
        let c = container(&objects, "qserv-ci-worker", name);
        assert_eq!(arg(c, "--db-uri"), Some(expected), "{name}");
        assert_eq!(
            arg(c, "--vnid-config"),
            Some(format!("@/usr/local/lib64/libreplica.so {expected}/qservw_worker 0 0").as_str()),
            "{name}"
        );
    }
    let settings = ini(&config_file(
        &objects,
        "qserv-ci-config-worker",
        "xrdssi.cf",
    ));
    assert_eq!(settings["mysql"]["username"], "qsmaster");
    assert_eq!(settings["mysql"]["password"], "CHANGEME");
}

/// The MariaDB image initialises a new data directory with networking off before it listens
/// (`Q@2026.3.3-rc1:deploy/docker/mariadb/Dockerfile:44-45`: scisql's init script too): every
/// MariaDB container gets a startup probe long enough for that before liveness may kill it.
#[test]
fn every_mariadb_may_initialise_for_ten_minutes_before_liveness_applies() {
    let objects = built("{reference: {enabled: true}}");
    let mut seen = 0;
    for (pod, spec) in pod_specs(&objects) {
        for c in spec.containers.iter().filter(|c| c.name == "mariadb") {
            let probe = c.startup_probe.as_ref().unwrap_or_else(|| panic!("{pod}"));
            let allowed = probe.period_seconds.unwrap() * probe.failure_threshold.unwrap();
            assert!(allowed >= 600, "{pod}: {allowed} s");
            assert!(probe.tcp_socket.is_some(), "{pod}");
            seen += 1;
        }
    }
    // czar, workers, replication database, reference.
    assert_eq!(seen, 4);
}
