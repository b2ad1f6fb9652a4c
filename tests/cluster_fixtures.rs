//! The build stage's full output, pinned as YAML fixtures: one file per component under
//! `tests/fixtures/cluster/<case>/`, for `examples/qservcluster-ci.yaml` and
//! `tests/fixtures/cluster/large.input.yaml`. A change to the builders shows up as a fixture
//! diff to review: `UPDATE_FIXTURES=1 cargo test --test cluster_fixtures` rewrites them.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use k8s_openapi::api::apps::v1::{Deployment, StatefulSet};
use k8s_openapi::api::core::v1::{ConfigMap, Secret, Service};
use k8s_openapi::api::networking::v1::NetworkPolicy;
use qserv_operator::api::QservCluster;
use qserv_operator::cluster::build::{DesiredObject, GeneratedSecrets, build};

const CASES: &[(&str, &str)] = &[
    ("ci", "examples/qservcluster-ci.yaml"),
    ("large", "tests/fixtures/cluster/large.input.yaml"),
];

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The manifest as the API server would hand it to the controller: namespace and uid set.
fn load(path: &str) -> QservCluster {
    let text = std::fs::read_to_string(root().join(path)).unwrap();
    let mut cluster: QservCluster = serde_norway::from_str(&text).unwrap();
    cluster.metadata.namespace = Some("qserv".into());
    cluster.metadata.uid = Some("00000000-0000-4000-8000-0000000000a1".into());
    cluster
}

/// Fixed, recognisable values: the fixtures show where each one goes (only into the Secret).
fn fixture_secrets() -> GeneratedSecrets {
    GeneratedSecrets {
        mariadb_root_password: "FixtureRootPassword0000000000000".into(),
        qsmaster_password: "FixtureQsmasterPassword000000000".into(),
        replication_auth_key: "FixtureAuthKey000000000000000000".into(),
        replication_admin_auth_key: "FixtureAdminAuthKey0000000000000".into(),
    }
}

/// Objects grouped by component, each group one multi-document YAML file.
fn render(objects: &[DesiredObject]) -> BTreeMap<String, String> {
    let mut files: BTreeMap<String, String> = BTreeMap::new();
    for o in objects {
        let component = o.component().expect("component label").label();
        let file = files.entry(format!("{component}.yaml")).or_default();
        file.push_str("---\n");
        file.push_str(&serde_norway::to_string(o).unwrap());
    }
    files
}

fn check_case(case: &str, input: &str, update: bool) -> Vec<String> {
    let objects = build(&load(input), &fixture_secrets()).unwrap();
    let actual = render(&objects);
    let dir = root().join("tests/fixtures/cluster").join(case);
    let existing: BTreeMap<String, String> = std::fs::read_dir(&dir)
        .into_iter()
        .flatten()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .map(|p| {
            let name = p.file_name().unwrap().to_string_lossy().into_owned();
            (name, std::fs::read_to_string(&p).unwrap())
        })
        .collect();
    if update {
        std::fs::create_dir_all(&dir).unwrap();
        for name in existing.keys().filter(|n| !actual.contains_key(*n)) {
            std::fs::remove_file(dir.join(name)).unwrap();
        }
        for (name, text) in &actual {
            std::fs::write(dir.join(name), text).unwrap();
        }
        return vec![];
    }
    let mut problems = vec![];
    for name in existing
        .keys()
        .chain(actual.keys())
        .collect::<std::collections::BTreeSet<_>>()
    {
        let path = Path::new("tests/fixtures/cluster").join(case).join(name);
        match (existing.get(name), actual.get(name)) {
            (Some(want), Some(got)) if want == got => {}
            (Some(want), Some(got)) => problems.push(format!(
                "{} differs:\n{}",
                path.display(),
                line_diff(want, got)
            )),
            (Some(_), None) => problems.push(format!("{} is no longer built", path.display())),
            (None, _) => problems.push(format!("{} is missing", path.display())),
        }
    }
    problems
}

/// A short diff: the lines between the common head and tail, `-` fixture and `+` built, with
/// line numbers (an inserted line shows as one `+`, not as every line after it changing).
fn line_diff(want: &str, got: &str) -> String {
    let (w, g): (Vec<_>, Vec<_>) = (want.lines().collect(), got.lines().collect());
    let head = w.iter().zip(&g).take_while(|(a, b)| a == b).count();
    let tail = w[head..]
        .iter()
        .rev()
        .zip(g[head..].iter().rev())
        .take_while(|(a, b)| a == b)
        .count();
    let mut out = String::new();
    let side = |out: &mut String, lines: &[&str], sign: char| {
        for (i, line) in lines[head..lines.len() - tail].iter().enumerate().take(15) {
            out.push_str(&format!("  {:>5} {sign} {line}\n", head + i + 1));
        }
        if lines.len() - tail - head > 15 {
            out.push_str("        ...\n");
        }
    };
    side(&mut out, &w, '-');
    side(&mut out, &g, '+');
    out
}

#[test]
fn built_objects_match_the_committed_fixtures() {
    let update = std::env::var_os("UPDATE_FIXTURES").is_some_and(|v| v == "1");
    let problems: Vec<String> = CASES
        .iter()
        .flat_map(|(case, input)| check_case(case, input, update))
        .collect();
    assert!(
        problems.is_empty(),
        "{}\n\nIf the change is intended, run `UPDATE_FIXTURES=1 cargo test --test \
         cluster_fixtures` and review the fixture diff.",
        problems.join("\n")
    );
}

/// Each object parses back as its k8s-openapi type, unchanged: what is applied is what the API
/// server's schema describes.
#[test]
fn every_object_round_trips_through_its_kubernetes_type() {
    fn round_trip<T: serde::de::DeserializeOwned + serde::Serialize>(v: &serde_json::Value) {
        let typed: T = serde_json::from_value(v.clone()).unwrap();
        assert_eq!(&serde_json::to_value(&typed).unwrap(), v);
    }
    for (_, input) in CASES {
        for o in build(&load(input), &fixture_secrets()).unwrap() {
            let v = serde_json::to_value(&o).unwrap();
            assert_eq!(v["kind"], o.kind());
            match o.kind() {
                "Secret" => round_trip::<Secret>(&v),
                "ConfigMap" => round_trip::<ConfigMap>(&v),
                "Service" => round_trip::<Service>(&v),
                "StatefulSet" => round_trip::<StatefulSet>(&v),
                "Deployment" => round_trip::<Deployment>(&v),
                "NetworkPolicy" => round_trip::<NetworkPolicy>(&v),
                other => panic!("unexpected kind {other}"),
            }
        }
    }
}

/// Names are DNS-1123 (lowercase alphanumerics and '-', at most 63 characters per label).
#[test]
fn every_name_is_a_dns_1123_label() {
    for (_, input) in CASES {
        for o in build(&load(input), &fixture_secrets()).unwrap() {
            let name = o.name();
            assert!(!name.is_empty() && name.len() <= 63, "{name}");
            assert!(
                name.bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-'),
                "{name}"
            );
            assert!(!name.starts_with('-') && !name.ends_with('-'), "{name}");
        }
    }
}
