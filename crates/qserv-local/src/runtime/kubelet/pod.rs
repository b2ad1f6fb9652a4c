//! The life of one pod: prepare its volumes, start its containers in order, follow their
//! processes (restarts, readiness) and write the pod's status whenever it changes, until the
//! pod is deleted; then stop everything and remove its scratch directory.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kube::api::{Api, Patch, PatchParams};
use serde_json::{Value, json};
use tokio::sync::watch;

use super::container::{ContainerRun, Kind, PodEnv, Running, State, Terminated};
use super::volumes::{self, Backing};
use crate::runtime::context::{Ctx, PodLive};
use crate::runtime::workloads::template::now;

/// How often processes are checked and readiness probed.
const TICK: Duration = Duration::from_millis(200);

pub async fn run(ctx: Arc<Ctx>, pod: Pod, mut stop: watch::Receiver<bool>) {
    let mut worker = PodWorker::new(ctx, pod);
    loop {
        worker.step().await;
        worker.publish().await;
        tokio::select! {
            _ = stop.changed() => break,
            _ = tokio::time::sleep(TICK) => {}
        }
    }
    worker.shutdown().await;
}

struct PodWorker {
    ctx: Arc<Ctx>,
    pod: Pod,
    ns: String,
    name: String,
    uid: String,
    restart_policy: String,
    scratch: PathBuf,
    backing: Option<Backing>,
    pending_message: Option<String>,
    containers: Vec<ContainerRun>,
    start_time: Time,
    /// Condition type → (status, lastTransitionTime).
    conditions: BTreeMap<&'static str, (bool, Time)>,
    last_written: Option<Value>,
    last_live: Option<PodLive>,
}

impl PodWorker {
    fn new(ctx: Arc<Ctx>, pod: Pod) -> PodWorker {
        let ns = pod
            .metadata
            .namespace
            .clone()
            .unwrap_or_else(|| "default".into());
        let name = pod.metadata.name.clone().unwrap_or_default();
        let uid = pod.metadata.uid.clone().unwrap_or_default();
        let job_pod = pod
            .metadata
            .owner_references
            .iter()
            .flatten()
            .any(|o| o.kind == "Job");
        let spec = pod.spec.clone().unwrap_or_default();
        let containers = spec
            .containers
            .iter()
            .map(|c| ContainerRun::new(c.clone(), Kind::of(&ctx, &pod, c, job_pod)))
            .collect();
        let scratch = ctx.pod_dir(&ns, &name, &uid);
        PodWorker {
            restart_policy: spec.restart_policy.unwrap_or_else(|| "Always".into()),
            ctx,
            pod,
            ns,
            name,
            uid,
            scratch,
            backing: None,
            pending_message: None,
            containers,
            start_time: now(),
            conditions: BTreeMap::new(),
            last_written: None,
            last_live: None,
        }
    }

    async fn step(&mut self) {
        if self.backing.is_none() {
            match volumes::prepare(&self.ctx, &self.pod, &self.scratch) {
                Ok(b) => {
                    self.backing = Some(b);
                    self.pending_message = None;
                }
                Err(m) => {
                    self.pending_message = Some(m);
                    return;
                }
            }
        }
        let Some(backing) = self.backing.clone() else {
            return;
        };
        let mut pod_ports = BTreeMap::new();
        // A container's first start waits for the ones before it, so a simulator sees its
        // pod's servers in `pod_ports` (Kubernetes starts them in order without waiting).
        let mut earlier_started = true;
        for c in &mut self.containers {
            c.check_exit(&self.restart_policy, &self.ctx.opts);
            if !earlier_started && !c.has_run() {
                continue;
            }
            let env = PodEnv {
                ctx: &self.ctx,
                pod: &self.pod,
                backing: &backing,
                scratch: &self.scratch,
                pod_ports: pod_ports.clone(),
            };
            c.start_if_due(&env).await;
            c.probe().await;
            pod_ports.extend(c.ports.clone());
            earlier_started &= c.has_run();
        }
    }

    fn phase(&self) -> &'static str {
        if self.containers.iter().any(|c| !c.has_run()) {
            return "Pending";
        }
        let ended: Vec<&Terminated> = self
            .containers
            .iter()
            .filter_map(|c| match &c.state {
                State::Terminated(t) => Some(t),
                _ => None,
            })
            .collect();
        if ended.len() < self.containers.len() {
            "Running"
        } else if ended.iter().all(|t| t.exit_code == 0) {
            "Succeeded"
        } else {
            "Failed"
        }
    }

    fn condition(&mut self, kind: &'static str, status: bool) -> Value {
        let entry = self
            .conditions
            .entry(kind)
            .or_insert_with(|| (status, now()));
        if entry.0 != status {
            *entry = (status, now());
        }
        json!({"type": kind, "status": if status { "True" } else { "False" },
               "lastTransitionTime": entry.1})
    }

    fn status(&mut self) -> Value {
        let phase = self.phase();
        let all_ready = phase == "Running" && self.containers.iter().all(|c| c.ready);
        let started = self.backing.is_some();
        let conditions = vec![
            self.condition("PodScheduled", true),
            self.condition("Initialized", started),
            self.condition("ContainersReady", all_ready),
            self.condition("Ready", all_ready),
        ];
        let statuses: Vec<Value> = self.containers.iter().map(container_status).collect();
        let mut status = json!({
            "phase": phase,
            "hostIP": "127.0.0.1",
            "hostIPs": [{"ip": "127.0.0.1"}],
            "podIP": "127.0.0.1",
            "podIPs": [{"ip": "127.0.0.1"}],
            "startTime": self.start_time,
            "qosClass": "BestEffort",
            "conditions": conditions,
            "containerStatuses": statuses,
        });
        if let Some(m) = &self.pending_message {
            status["message"] = json!(m);
            status["reason"] = json!("ContainerCreating");
        }
        status
    }

    /// Writes the status when it changed, and the live record the address map reads.
    async fn publish(&mut self) {
        let status = self.status();
        let ready = status["conditions"].as_array().is_some_and(|cs| {
            cs.iter()
                .any(|c| c["type"] == "Ready" && c["status"] == "True")
        });
        let live = PodLive {
            uid: self.uid.clone(),
            ready,
            ports: self
                .containers
                .iter()
                .flat_map(|c| c.ports.clone())
                .collect(),
            pids: self
                .containers
                .iter()
                .filter_map(|c| Some((c.spec.name.clone(), c.pid()?)))
                .collect(),
        };
        if self.last_live.as_ref() != Some(&live) {
            self.ctx
                .live()
                .insert((self.ns.clone(), self.name.clone()), live.clone());
            self.last_live = Some(live);
            self.ctx.kick.notify_one();
        }
        if self.last_written.as_ref() == Some(&status) {
            return;
        }
        let api: Api<Pod> = Api::namespaced(self.ctx.client.clone(), &self.ns);
        let patch = json!({"status": status});
        match api
            .patch_status(&self.name, &PatchParams::default(), &Patch::Merge(&patch))
            .await
        {
            Ok(_) => self.last_written = Some(status),
            Err(e) => tracing::debug!(pod = %self.name, %e, "pod status not written; retrying"),
        }
    }

    async fn shutdown(mut self) {
        for c in self.containers.iter_mut().rev() {
            c.stop().await;
        }
        {
            let mut live = self.ctx.live();
            let key = (self.ns.clone(), self.name.clone());
            if live.get(&key).is_some_and(|l| l.uid == self.uid) {
                live.remove(&key);
            }
        }
        if let Err(e) = std::fs::remove_dir_all(&self.scratch)
            && e.kind() != std::io::ErrorKind::NotFound
        {
            tracing::warn!(dir = %self.scratch.display(), %e, "pod scratch dir not removed");
        }
        self.ctx.kick.notify_one();
    }
}

fn terminated_json(t: &Terminated) -> Value {
    let mut v = json!({"exitCode": t.exit_code, "reason": t.reason, "finishedAt": t.finished});
    if let Some(s) = &t.started {
        v["startedAt"] = json!(s);
    }
    if let Some(m) = &t.message {
        v["message"] = json!(m);
    }
    v
}

fn container_status(c: &ContainerRun) -> Value {
    let (state, started) = match &c.state {
        State::Waiting {
            reason, message, ..
        } => {
            let mut w = json!({"reason": reason});
            if let Some(m) = message {
                w["message"] = json!(m);
            }
            (json!({"waiting": w}), false)
        }
        State::Running { started, .. } => (json!({"running": {"startedAt": started}}), true),
        State::Terminated(t) => (json!({"terminated": terminated_json(t)}), false),
    };
    let mut v = json!({
        "name": c.spec.name,
        "image": c.spec.image.clone().unwrap_or_default(),
        "imageID": "",
        "ready": c.ready,
        "started": started,
        "restartCount": c.restart_count,
        "state": state,
        "lastState": {},
    });
    if let Some(pid) = c.pid() {
        v["containerID"] = json!(format!("local://{pid}"));
    } else if let State::Running {
        run: Running::Simulated(_) | Running::Nothing,
        ..
    } = &c.state
    {
        v["containerID"] = json!("local://simulated");
    }
    if let Some(t) = &c.last_terminated {
        v["lastState"] = json!({"terminated": terminated_json(t)});
    }
    v
}
