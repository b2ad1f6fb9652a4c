//! Rendered Qserv configuration, one ConfigMap per component, with `spec.config` overrides
//! (`section.option: value`) applied and a sha256 of the result for the pod templates.
//!
//! - czar: `qserv-czar.cnf`, given to `entrypoint proxy --czar-cfg-file`. The entrypoint renders
//!   that file as a Jinja template, so the values it owns (database host, port and socket, the
//!   xrootd manager) stay as the `{{ ... }}` expressions of Qserv's own template (lsst/qserv
//!   `src/admin/templates/proxy/etc/qserv-czar.cnf.jinja`); everything else is concrete.
//! - worker: `xrdssi.cf`, given to `entrypoint worker-xrootd|worker-cmsd --xrdssi-cfg-file`, from
//!   lsst/qserv `src/admin/templates/xrootd/etc/xrdssi.cf.jinja` the same way.
//! - replication: `replication.cnf`, the replication system's parameters. Qserv's replication
//!   applications take them on the command line as `--<section>-<option>=<value>` (as the Go
//!   operator passes `--controller-http-server-port`, `--registry-host`, `--xrootd-host`:
//!   lsst/qserv-operator `configmap/repl-ctl/start/start.sh`), so [`RenderedConfig::args`] turns
//!   the rendered file into those arguments and the file documents what the pods run with.
//! - Each ConfigMap also holds `log.cnf` (log4cxx, to the console, for `--log-cfg-file`) and
//!   `my.cnf` for the component's MariaDB.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use k8s_openapi::api::core::v1::ConfigMap;
use sha2::{Digest, Sha256};

use super::defaults::{
    Ini, LOG_CNF, QSERV_MY_CNF, REPLICATION_MY_CNF, REPLICATION_TEMPLATED, czar_defaults, ini,
    worker_defaults,
};
use super::error::BuildError;
use super::meta::{Component, Ctx};
use super::ports::REPLICATION_HTTP_PORT;

/// Which config a component renders.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ConfigKind {
    Czar,
    Worker,
    Replication,
}

impl ConfigKind {
    /// The `spec.config` key and the ConfigMap suffix.
    pub fn name(self) -> &'static str {
        match self {
            ConfigKind::Czar => "czar",
            ConfigKind::Worker => "worker",
            ConfigKind::Replication => "replication",
        }
    }

    fn component(self) -> Component {
        match self {
            ConfigKind::Czar => Component::Czar,
            ConfigKind::Worker => Component::Worker,
            ConfigKind::Replication => Component::ReplicationController,
        }
    }

    /// Options the operator sets itself: overriding them would desynchronise ports, probes and
    /// Services, or host names, from what the processes do.
    fn reserved(self) -> Vec<&'static str> {
        let fixed: &[&str] = match self {
            ConfigKind::Czar => &[
                "frontend.xrootd",
                "css.password",
                "resultdb.passwd",
                "qmeta.passwd",
                "qstatus.passwd",
            ],
            ConfigKind::Worker => &[
                "mysql.hostname",
                "mysql.port",
                "mysql.socket",
                "mysql.password",
                "results.dirname",
            ],
            ConfigKind::Replication => &[
                "controller.http-server-port",
                "registry.host",
                "registry.port",
                "worker.http-loader-port",
                "xrootd.host",
            ],
        };
        let mut keys = fixed.to_vec();
        if self != ConfigKind::Replication {
            keys.extend_from_slice(REPLICATION_TEMPLATED);
        }
        keys
    }
}

/// One component's rendered configuration.
#[derive(Clone, Debug, PartialEq)]
pub struct RenderedConfig {
    pub kind: ConfigKind,
    /// The effective settings (defaults with overrides applied).
    pub settings: Ini,
    /// File name -> content, as in the ConfigMap.
    pub files: BTreeMap<String, String>,
    /// Hex sha256 over the files, for the pod-template annotation.
    pub hash: String,
}

impl RenderedConfig {
    /// Hash of some of the files only, for pods that read just those: the replication
    /// database reads `my.cnf` and must not restart when a controller setting changes.
    pub fn hash_of(&self, names: &[&str]) -> String {
        hash_files(
            &self
                .files
                .iter()
                .filter(|(name, _)| names.contains(&name.as_str()))
                .map(|(n, c)| (n.clone(), c.clone()))
                .collect(),
        )
    }

    /// `--section-option=value` for the settings of the given sections, sorted.
    pub fn args(&self, sections: &[&str]) -> Vec<String> {
        self.settings
            .iter()
            .filter(|(section, _)| sections.contains(&section.as_str()))
            .flat_map(|(section, options)| {
                options
                    .iter()
                    .map(move |(option, value)| format!("--{section}-{option}={value}"))
            })
            .collect()
    }
}

/// The rendered configs of every component.
#[derive(Clone, Debug, PartialEq)]
pub struct Configs {
    pub czar: RenderedConfig,
    pub worker: RenderedConfig,
    pub replication: RenderedConfig,
}

impl Configs {
    pub fn all(&self) -> [&RenderedConfig; 3] {
        [&self.czar, &self.worker, &self.replication]
    }
}

pub fn render_configs(ctx: &Ctx) -> Result<Configs, BuildError> {
    let overrides = &ctx.cluster.spec.config;
    let czar = with_overrides(ConfigKind::Czar, czar_defaults(), &overrides.czar)?;
    let worker = with_overrides(ConfigKind::Worker, worker_defaults(), &overrides.worker)?;
    let replication = with_overrides(
        ConfigKind::Replication,
        replication_defaults(ctx),
        &overrides.replication,
    )?;
    Ok(Configs {
        czar: rendered(
            ConfigKind::Czar,
            czar,
            "qserv-czar.cnf",
            &[("my.cnf", QSERV_MY_CNF)],
        ),
        worker: rendered(
            ConfigKind::Worker,
            worker,
            "xrdssi.cf",
            &[("my.cnf", QSERV_MY_CNF)],
        ),
        replication: rendered(
            ConfigKind::Replication,
            replication,
            "replication.cnf",
            &[("my.cnf", REPLICATION_MY_CNF)],
        ),
    })
}

/// The ConfigMap `<cluster>-config-<kind>`.
pub fn config_map_name(ctx: &Ctx, kind: ConfigKind) -> String {
    ctx.named(&format!("config-{}", kind.name()))
}

pub fn config_map(ctx: &Ctx, config: &RenderedConfig) -> ConfigMap {
    ConfigMap {
        metadata: ctx.meta(config_map_name(ctx, config.kind), config.kind.component()),
        data: Some(config.files.clone()),
        ..ConfigMap::default()
    }
}

fn rendered(
    kind: ConfigKind,
    settings: Ini,
    file_name: &str,
    extra: &[(&str, &str)],
) -> RenderedConfig {
    let mut files = BTreeMap::from([("log.cnf".to_string(), LOG_CNF.to_string())]);
    files.insert(file_name.to_string(), render_ini(&settings));
    for (name, content) in extra {
        files.insert(name.to_string(), content.to_string());
    }
    let hash = hash_files(&files);
    RenderedConfig {
        kind,
        settings,
        files,
        hash,
    }
}

fn with_overrides(
    kind: ConfigKind,
    mut settings: Ini,
    overrides: &BTreeMap<String, String>,
) -> Result<Ini, BuildError> {
    for (key, value) in overrides {
        let problem = |reason: &str| BuildError::InvalidConfig {
            component: kind.name(),
            key: key.clone(),
            reason: reason.to_string(),
        };
        let (section, option) = key
            .split_once('.')
            .filter(|(s, o)| !s.is_empty() && !o.is_empty())
            .ok_or_else(|| problem("must be `section.option`"))?;
        let bad_name = |s: &str| {
            !s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-' || b == b'.')
        };
        if bad_name(section) || bad_name(option) {
            return Err(problem(
                "section and option may only contain letters, digits, '_', '-' and '.'",
            ));
        }
        if value.contains(['\n', '\r']) {
            return Err(problem("value must be a single line"));
        }
        // The czar and worker files are Jinja templates for Qserv's entrypoint.
        if ["{{", "{%", "{#"].iter().any(|m| value.contains(m)) {
            return Err(problem("value must not contain Jinja markers ({{, {%, {#)"));
        }
        if kind.reserved().contains(&key.as_str()) {
            return Err(BuildError::ReservedConfigKey {
                component: kind.name(),
                key: key.clone(),
            });
        }
        settings
            .entry(section.to_string())
            .or_default()
            .insert(option.to_string(), value.clone());
    }
    Ok(settings)
}

fn render_ini(settings: &Ini) -> String {
    let mut out =
        String::from("# Rendered by qserv-operator from the QservCluster; do not edit.\n");
    for (section, options) in settings {
        let _ = write!(out, "\n[{section}]\n");
        for (option, value) in options {
            // No trailing space for empty values (`password =`), as in Qserv's templates.
            let _ = if value.is_empty() {
                writeln!(out, "{option} =")
            } else {
                writeln!(out, "{option} = {value}")
            };
        }
    }
    out
}

fn hash_files(files: &BTreeMap<String, String>) -> String {
    let mut hasher = Sha256::new();
    for (name, content) in files {
        hasher.update(name.as_bytes());
        hasher.update([0]);
        hasher.update(content.as_bytes());
        hasher.update([0]);
    }
    hasher
        .finalize()
        .iter()
        .fold(String::with_capacity(64), |mut s, b| {
            let _ = write!(s, "{b:02x}");
            s
        })
}

/// Replication parameters the operator sets, as the Go operator passes them
/// (lsst/qserv-operator `configmap/repl-ctl/start/start.sh`).
fn replication_defaults(ctx: &Ctx) -> Ini {
    let registry = ctx.object_name(Component::ReplicationRegistry);
    let xrootd = ctx.object_name(Component::Xrootd);
    let port = REPLICATION_HTTP_PORT.to_string();
    let mut settings = ini(&[(
        "controller",
        &[("auto-register-workers", "1"), ("http-server-port", &port)],
    )]);
    settings.insert(
        "registry".into(),
        BTreeMap::from([("host".into(), registry), ("port".into(), port.clone())]),
    );
    settings.insert("xrootd".into(), BTreeMap::from([("host".into(), xrootd)]));
    settings
}
