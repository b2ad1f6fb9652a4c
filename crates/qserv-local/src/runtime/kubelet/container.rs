//! One container of a pod: what runs it (a real `mariadbd`, this binary, a simulator, or
//! nothing in fake mode), its state machine (waiting → running → terminated, restarts with
//! crash-loop backoff) and its readiness.

use std::collections::BTreeMap;
use std::net::{Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::{Container, Pod};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

use super::env;
use super::logins;
use super::volumes::{Backing, Mounts};
use crate::runtime::context::{Ctx, PodRef};
use crate::runtime::mariadb;
use crate::runtime::process::{ProcessSpec, Supervised};
use crate::runtime::simulator::{
    self, COMPONENT_LABEL, PodContext, ReadyWithoutServing, SimulatedContainer, Simulator,
};
use crate::runtime::workloads::template::now;
use qserv_operator::connect_to;

/// The check step's setting (`JobArgs::without_qserv_functions`).
const WITHOUT_QSERV_FUNCTIONS_ENV: &str = "QSERV_OPERATOR_WITHOUT_QSERV_FUNCTIONS";

/// What stands in for the container's image.
#[derive(Clone)]
pub enum Kind {
    /// `mariadbd` on a free loopback port; the data dir on the first mounted volume.
    MariaDb,
    /// This binary (`command[0]` or `args[0]` is `qserv-operator`).
    Operator,
    Simulated(Arc<dyn Simulator>),
    /// Fake mode: running and ready, nothing started.
    Fake,
    /// A Job container that is neither this binary nor simulated: it fails (exit 127).
    Unsupported,
}

impl Kind {
    pub fn of(ctx: &Ctx, pod: &Pod, c: &Container, job_pod: bool) -> Kind {
        if ctx.opts.fake_pods && !job_pod {
            return Kind::Fake;
        }
        if c.image.as_deref().unwrap_or_default().contains("mariadb") {
            return Kind::MariaDb;
        }
        if operator_args(c).is_some() {
            return Kind::Operator;
        }
        let component = pod
            .metadata
            .labels
            .as_ref()
            .and_then(|l| l.get(COMPONENT_LABEL))
            .map(String::as_str);
        match simulator::find(&ctx.opts.simulators, &c.name, component) {
            Some(s) => Kind::Simulated(s.clone()),
            None if job_pod => Kind::Unsupported,
            None => Kind::Simulated(Arc::new(ReadyWithoutServing)),
        }
    }
}

/// The args of this binary when the container runs `qserv-operator ...`.
fn operator_args(c: &Container) -> Option<Vec<String>> {
    let is_us = |s: &String| s.rsplit('/').next() == Some("qserv-operator");
    let command = c.command.clone().unwrap_or_default();
    let args = c.args.clone().unwrap_or_default();
    match command.split_first() {
        Some((first, rest)) => is_us(first).then(|| rest.iter().cloned().chain(args).collect()),
        None => {
            let (first, rest) = args.split_first()?;
            is_us(first).then(|| rest.to_vec())
        }
    }
}

pub struct Terminated {
    pub exit_code: i32,
    pub reason: String,
    pub message: Option<String>,
    pub started: Option<Time>,
    pub finished: Time,
}

pub enum State {
    Waiting {
        reason: String,
        message: Option<String>,
        /// Not started before this instant (crash-loop backoff).
        until: Instant,
    },
    Running {
        started: Time,
        run: Running,
    },
    Terminated(Terminated),
}

pub enum Running {
    Process(Box<Supervised>),
    Simulated(SimulatedContainer),
    Nothing,
}

pub struct ContainerRun {
    pub spec: Container,
    pub kind: Kind,
    pub state: State,
    pub restart_count: i32,
    pub last_terminated: Option<Terminated>,
    pub ready: bool,
    /// Loopback addresses of its container ports while running.
    pub ports: BTreeMap<u16, SocketAddr>,
    /// The MariaDB port, kept across restarts so clients can reconnect to the same address.
    mariadb_port: Option<u16>,
    mariadb_datadir: Option<PathBuf>,
    mariadb_socket: Option<PathBuf>,
}

/// What a container start needs from its pod.
pub struct PodEnv<'a> {
    pub ctx: &'a Arc<Ctx>,
    pub pod: &'a Pod,
    pub backing: &'a Backing,
    pub scratch: &'a PathBuf,
    /// Ports of containers started before this one.
    pub pod_ports: BTreeMap<u16, SocketAddr>,
}

impl ContainerRun {
    pub fn new(spec: Container, kind: Kind) -> ContainerRun {
        ContainerRun {
            spec,
            kind,
            state: State::Waiting {
                reason: "ContainerCreating".into(),
                message: None,
                until: Instant::now(),
            },
            restart_count: 0,
            last_terminated: None,
            ready: false,
            ports: BTreeMap::new(),
            mariadb_port: None,
            mariadb_datadir: None,
            mariadb_socket: None,
        }
    }

    pub fn pid(&self) -> Option<u32> {
        match &self.state {
            State::Running {
                run: Running::Process(p),
                ..
            } => Some(p.pid()),
            _ => None,
        }
    }

    pub fn has_run(&self) -> bool {
        !matches!(self.state, State::Waiting { .. }) || self.last_terminated.is_some()
    }

    /// Starts it if it is waiting and its backoff is over.
    pub async fn start_if_due(&mut self, env: &PodEnv<'_>) {
        let State::Waiting { until, .. } = &self.state else {
            return;
        };
        if Instant::now() < *until {
            return;
        }
        let restarting = self.last_terminated.is_some();
        // Each run has its own log file, numbered by the restart count it starts with.
        let run = self.restart_count + i32::from(restarting);
        match self.start(env, run).await {
            Ok((run, ports)) => {
                if restarting {
                    self.restart_count += 1;
                }
                self.ports = ports;
                self.ready = matches!(run, Running::Simulated(_) | Running::Nothing)
                    || matches!(self.kind, Kind::Operator);
                self.state = State::Running {
                    started: now(),
                    run,
                };
            }
            Err((reason, message)) => {
                let pod = env.pod.metadata.name.as_deref().unwrap_or_default();
                tracing::warn!(pod, container = %self.spec.name, %reason, %message, "container did not start");
                if matches!(self.kind, Kind::Unsupported) {
                    self.state = State::Terminated(Terminated {
                        exit_code: 127,
                        reason,
                        message: Some(message),
                        started: None,
                        finished: now(),
                    });
                    return;
                }
                self.state = State::Waiting {
                    reason,
                    message: Some(message),
                    until: Instant::now() + backoff(&env.ctx.opts, self.restart_count),
                };
            }
        }
    }

    async fn start(
        &mut self,
        penv: &PodEnv<'_>,
        run: i32,
    ) -> Result<(Running, BTreeMap<u16, SocketAddr>), (String, String)> {
        let ctx = penv.ctx;
        let sources = env::Sources {
            secrets: &ctx.stores.secrets,
            configmaps: &ctx.stores.configmaps,
        };
        let vars = env::resolve(penv.pod, &self.spec, &sources)
            .map_err(|m| ("CreateContainerConfigError".to_string(), m))?;
        let ns = penv.pod.metadata.namespace.as_deref().unwrap_or("default");
        let pod_name = penv.pod.metadata.name.as_deref().unwrap_or_default();
        let pod = PodRef {
            namespace: ns,
            name: pod_name,
            uid: penv.pod.metadata.uid.as_deref().unwrap_or_default(),
        };
        let log = ctx.log_file(&pod, &self.spec.name, run);
        let fail = |m: String| ("StartError".to_string(), m);
        match &self.kind {
            Kind::Fake => Ok((Running::Nothing, BTreeMap::new())),
            Kind::Unsupported => Err((
                "UnsupportedInLocalMode".into(),
                format!(
                    "container {}: local mode runs only `qserv-operator` Job containers (image {})",
                    self.spec.name,
                    self.spec.image.as_deref().unwrap_or_default()
                ),
            )),
            Kind::MariaDb => {
                let port = match self.mariadb_port {
                    Some(p) if port_is_free(p) => p,
                    _ => free_port().map_err(|e| fail(format!("no free port: {e}")))?,
                };
                self.mariadb_port = Some(port);
                let data = Mounts::first_dir(&self.spec, penv.backing)
                    .unwrap_or_else(|| penv.scratch.join(&self.spec.name));
                let cfg = mariadb::ServerConfig {
                    what: format!("pod {ns}/{pod_name} container {}", self.spec.name),
                    datadir: data.join("mysql"),
                    run_dir: penv.scratch.join("run").join(&self.spec.name),
                    port,
                    root_password: vars.get("MYSQL_ROOT_PASSWORD").cloned().unwrap_or_default(),
                    accounts: logins::accounts(penv.pod, &self.spec, &sources)
                        .map_err(|m| ("CreateContainerConfigError".to_string(), m))?
                        .iter()
                        .flat_map(logins::Account::sql)
                        .collect(),
                    log,
                    grace: ctx.opts.termination_grace,
                };
                let server = mariadb::start(&cfg)
                    .await
                    .map_err(|e| fail(e.to_string()))?;
                self.mariadb_datadir = Some(cfg.datadir.clone());
                self.mariadb_socket = Some(server.socket);
                let local = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
                let mut ports: BTreeMap<u16, SocketAddr> = self
                    .spec
                    .ports
                    .iter()
                    .flatten()
                    .map(|p| (p.container_port as u16, local))
                    .collect();
                if ports.is_empty() {
                    ports.insert(3306, local);
                }
                Ok((Running::Process(Box::new(server.process)), ports))
            }
            Kind::Operator => {
                let mounts = Mounts::of(&self.spec, penv.backing);
                let args = operator_args(&self.spec)
                    .unwrap_or_default()
                    .iter()
                    .map(|a| mounts.rewrite(&env::expand(a, &vars)))
                    .collect();
                let mut envs: Vec<(String, String)> = vars
                    .iter()
                    .map(|(k, v)| (k.clone(), mounts.rewrite(v)))
                    .collect();
                // What every process of this binary needs in local mode: where Service names
                // answer (no cluster DNS), and that the query endpoint is a plain MariaDB
                // without Qserv's SQL functions (simulators.rs).
                envs.push((
                    connect_to::ENV.into(),
                    ctx.address_map_path().display().to_string(),
                ));
                envs.push((WITHOUT_QSERV_FUNCTIONS_ENV.into(), "true".into()));
                envs.extend(ctx.opts.process_env.iter().cloned());
                let spec = ProcessSpec {
                    program: ctx.opts.operator_binary.clone(),
                    args,
                    env: envs,
                    cwd: Some(penv.scratch.clone()),
                    log,
                    grace: ctx.opts.termination_grace,
                };
                let process = Supervised::spawn(&spec)
                    .await
                    .map_err(|e| fail(e.to_string()))?;
                Ok((Running::Process(Box::new(process)), BTreeMap::new()))
            }
            Kind::Simulated(sim) => {
                let pctx = PodContext::new(
                    penv.pod.clone(),
                    self.spec.clone(),
                    vars,
                    penv.pod_ports.clone(),
                    penv.scratch.clone(),
                    ctx.client.clone(),
                    ctx.addresses.clone(),
                );
                let started = sim
                    .start(&pctx)
                    .await
                    .map_err(|e| ("SimulatorError".to_string(), e.to_string()))?;
                let ports = started.ports.clone();
                Ok((Running::Simulated(started), ports))
            }
        }
    }

    /// Notices a process that ended; restarts per `restartPolicy` after a backoff.
    pub fn check_exit(
        &mut self,
        restart_policy: &str,
        opts: &crate::runtime::options::RuntimeOptions,
    ) {
        let State::Running { started, run } = &self.state else {
            return;
        };
        let code = match run {
            Running::Process(p) => p.exit_code(),
            Running::Simulated(s) => s.exit.as_ref().and_then(|e| e.get().copied()),
            Running::Nothing => None,
        };
        let Some(code) = code else { return };
        let terminated = Terminated {
            exit_code: code,
            reason: if code == 0 { "Completed" } else { "Error" }.into(),
            message: None,
            started: Some(started.clone()),
            finished: now(),
        };
        self.ready = false;
        self.ports.clear();
        let restart = match restart_policy {
            "Never" => false,
            "OnFailure" => code != 0,
            _ => true,
        };
        if restart {
            self.last_terminated = Some(terminated);
            self.state = State::Waiting {
                reason: "CrashLoopBackOff".into(),
                message: Some(format!(
                    "back-off restarting failed container {}",
                    self.spec.name
                )),
                until: Instant::now() + backoff(opts, self.restart_count),
            };
        } else {
            self.state = State::Terminated(terminated);
        }
    }

    /// Readiness: MariaDB answers its handshake (on its own socket); others are ready while
    /// running.
    pub async fn probe(&mut self) {
        let State::Running { .. } = &self.state else {
            self.ready = false;
            return;
        };
        if let (Kind::MariaDb, Some(socket)) = (&self.kind, &self.mariadb_socket) {
            let was_ready = self.ready;
            self.ready = mariadb::answers(socket).await;
            if self.ready && !was_ready {
                // The init file ran before the server listened.
                if let Some(data) = self.datadir() {
                    mariadb::mark_initialised(&data);
                }
            }
        }
    }

    fn datadir(&self) -> Option<PathBuf> {
        self.mariadb_datadir.clone()
    }

    /// Stops whatever runs (SIGTERM, then SIGKILL after the grace period).
    pub async fn stop(&mut self) {
        let state = std::mem::replace(
            &mut self.state,
            State::Waiting {
                reason: "Stopped".into(),
                message: None,
                until: Instant::now(),
            },
        );
        if let State::Running {
            run: Running::Process(p),
            ..
        } = state
        {
            p.stop().await;
        }
        self.ready = false;
        self.ports.clear();
    }
}

/// Crash-loop backoff: the base doubled per restart, at most 30 s.
fn backoff(opts: &crate::runtime::options::RuntimeOptions, restarts: i32) -> Duration {
    let factor = 1u32 << restarts.clamp(0, 5);
    (opts.restart_backoff * factor).min(Duration::from_secs(30))
}

pub fn free_port() -> std::io::Result<u16> {
    std::net::TcpListener::bind((Ipv4Addr::LOCALHOST, 0))?
        .local_addr()
        .map(|a| a.port())
}

fn port_is_free(port: u16) -> bool {
    std::net::TcpListener::bind((Ipv4Addr::LOCALHOST, port)).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn container(command: &[&str], args: &[&str]) -> Container {
        let strings = |v: &[&str]| Some(v.iter().map(|s| s.to_string()).collect());
        Container {
            name: "c".into(),
            command: if command.is_empty() {
                None
            } else {
                strings(command)
            },
            args: if args.is_empty() { None } else { strings(args) },
            ..Container::default()
        }
    }

    #[test]
    fn this_binary_is_recognised_in_command_or_first_arg() {
        let c = container(&["/usr/local/bin/qserv-operator", "ingest"], &["--x=1"]);
        assert_eq!(
            operator_args(&c),
            Some(vec!["ingest".into(), "--x=1".into()])
        );
        let c = container(&[], &["qserv-operator", "check", "a"]);
        assert_eq!(operator_args(&c), Some(vec!["check".into(), "a".into()]));
        assert_eq!(
            operator_args(&container(&["entrypoint"], &["qserv-operator"])),
            None
        );
        assert_eq!(operator_args(&container(&[], &[])), None);
    }

    #[test]
    fn backoff_doubles_up_to_30_seconds() {
        let opts = crate::runtime::options::RuntimeOptions::default();
        assert_eq!(backoff(&opts, 0), Duration::from_secs(1));
        assert_eq!(backoff(&opts, 2), Duration::from_secs(4));
        assert_eq!(backoff(&opts, 50), Duration::from_secs(30));
    }
}
