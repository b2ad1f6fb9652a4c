//! How the local runtime behaves: where its state is, what a Job container runs, which
//! containers are simulated, the restart backoff.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use super::simulator::{Simulator, SimulatorKey};

/// How the runtime behaves.
#[derive(Clone)]
pub struct RuntimeOptions {
    /// Volumes, pod scratch dirs, logs, the address map. Created if missing.
    pub state_dir: PathBuf,
    /// The binary Job containers run (`qserv-operator ...`). Default: this executable.
    pub operator_binary: PathBuf,
    /// Start no processes: non-Job pods are running and ready at once.
    pub fake_pods: bool,
    /// First crash-loop backoff; doubled per restart, at most 30 s.
    pub restart_backoff: Duration,
    /// Time between SIGTERM and SIGKILL when stopping a process.
    pub termination_grace: Duration,
    /// Simulators by container name and component label (see [`RuntimeOptions::simulate`]).
    pub simulators: Vec<(SimulatorKey, Arc<dyn Simulator>)>,
    /// Environment every `qserv-operator` child process gets besides its pod's: in local
    /// mode, `KUBECONFIG` — what a real pod's service account credentials are.
    pub process_env: Vec<(String, String)>,
}

impl Default for RuntimeOptions {
    fn default() -> Self {
        RuntimeOptions {
            state_dir: PathBuf::from("local"),
            operator_binary: std::env::current_exe().unwrap_or_else(|_| "qserv-operator".into()),
            fake_pods: false,
            restart_backoff: Duration::from_secs(1),
            termination_grace: Duration::from_secs(10),
            simulators: Vec::new(),
            process_env: Vec::new(),
        }
    }
}

impl RuntimeOptions {
    /// Registers `simulator` for containers named `container` in pods whose
    /// `app.kubernetes.io/component` label is `component` (any pod when `None`).
    pub fn simulate(
        mut self,
        container: &str,
        component: Option<&str>,
        simulator: Arc<dyn Simulator>,
    ) -> Self {
        self.simulators.push((
            SimulatorKey {
                container: container.into(),
                component: component.map(Into::into),
            },
            simulator,
        ));
        self
    }
}
