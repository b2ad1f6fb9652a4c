//! Secrets stay in the Secret; pods run unprivileged.

use pretty_assertions::assert_eq;

use super::*;

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
        // The one password the release hard-codes (the workers' qsmaster, script.py:59,452)
        // appears only as that, only on the worker's own loopback or in its xrdssi `[mysql]`.
        let allowed = ["qsmaster:CHANGEME@127.0.0.1:3306", "password = CHANGEME"];
        let mut rest = text.clone();
        for a in allowed {
            rest = rest.replace(a, "");
        }
        assert!(!rest.contains("CHANGEME"), "{}: {text}", o.name());
        let worker = o.component() == Some(Component::Worker)
            && matches!(
                o,
                DesiredObject::StatefulSet(_) | DesiredObject::ConfigMap(_)
            );
        assert_eq!(text.contains("CHANGEME"), worker, "{}", o.name());
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
