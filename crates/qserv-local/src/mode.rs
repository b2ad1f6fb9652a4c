//! Local mode as one thing to start and stop: the embedded API server, the runtime (with the
//! Qserv simulators) and, unless told otherwise, the operator's controllers in the same process.
//! `qserv-operator local`, `qserv-operator demo` and the end-to-end tests all start it here.

use futures::future::BoxFuture;
use std::path::{Path, PathBuf};

use anyhow::Context as _;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use super::apiserver::{LocalApiServer, Options as ApiOptions};
use super::runtime::{Runtime, RuntimeHandle, RuntimeOptions};
use super::simulators;
use qserv_operator::cluster::{self, ControllerOptions};
use qserv_operator::connect_to;
use qserv_operator::ingest::{self, IngestOptions};

/// How to start local mode.
#[derive(Clone, Debug)]
pub struct LocalOptions {
    /// Volumes, logs, the address map and the kubeconfig live here.
    pub state_dir: PathBuf,
    /// API server port on 127.0.0.1 (0: any free port).
    pub api_port: u16,
    /// Where to write the kubeconfig (default `<state_dir>/kubeconfig`).
    pub kubeconfig: Option<PathBuf>,
    /// Pods without processes, ready at once (benchmarks of the controllers).
    pub fake_pods: bool,
    /// The binary Jobs run (default: this executable).
    pub operator_binary: Option<PathBuf>,
    /// Run the QservCluster and CatalogIngest controllers in this process.
    pub controllers: bool,
    /// Namespace the controllers watch (None: all).
    pub namespace: Option<String>,
}

impl Default for LocalOptions {
    fn default() -> Self {
        LocalOptions {
            state_dir: PathBuf::from("local"),
            api_port: 0,
            kubeconfig: None,
            fake_pods: false,
            operator_binary: None,
            controllers: true,
            namespace: None,
        }
    }
}

/// A running local mode. [`LocalMode::shutdown`] stops everything; the runtime's own guard
/// stops its processes if it is dropped instead.
pub struct LocalMode {
    server: LocalApiServer,
    runtime: RuntimeHandle,
    kubeconfig: PathBuf,
    address_map: PathBuf,
    stop: watch::Sender<bool>,
    controllers: Vec<JoinHandle<()>>,
}

impl LocalMode {
    pub fn start(opts: LocalOptions) -> BoxFuture<'static, anyhow::Result<LocalMode>> {
        Box::pin(Self::start_unboxed(opts))
    }

    async fn start_unboxed(opts: LocalOptions) -> anyhow::Result<LocalMode> {
        std::fs::create_dir_all(&opts.state_dir)
            .with_context(|| format!("creating {}", opts.state_dir.display()))?;
        let kubeconfig = opts
            .kubeconfig
            .clone()
            .unwrap_or_else(|| opts.state_dir.join("kubeconfig"));
        let server = LocalApiServer::start(ApiOptions {
            port: opts.api_port,
            kubeconfig_out: Some(kubeconfig.clone()),
            ..ApiOptions::default()
        })
        .await
        .context("starting the local API server")?;
        let client = server.client()?;
        let kubeconfig = std::fs::canonicalize(&kubeconfig).unwrap_or(kubeconfig);

        let mut runtime_opts = RuntimeOptions {
            state_dir: opts.state_dir.join("runtime"),
            fake_pods: opts.fake_pods,
            process_env: vec![("KUBECONFIG".into(), kubeconfig.display().to_string())],
            ..RuntimeOptions::default()
        };
        if let Some(binary) = &opts.operator_binary {
            runtime_opts.operator_binary = binary.clone();
        }
        let runtime = Runtime::start(client.clone(), simulators::register(runtime_opts))
            .await
            .context("starting the local runtime")?;
        // The runtime is the node: `kubectl logs` reads its containers' log files.
        server.serve_container_logs(runtime.logs_dir());
        // The controllers in this process reach the pods' servers (the scale-down guard asks
        // the workers) through the runtime's address map.
        let address_map = runtime.address_map_path();
        connect_to::register_map(&address_map);

        let (stop, stop_rx) = watch::channel(false);
        let mut controllers = Vec::new();
        if opts.controllers {
            let stopped = |mut rx: watch::Receiver<bool>| async move {
                let _ = rx.wait_for(|s| *s).await;
            };
            controllers.push(tokio::spawn(cluster::run(
                client.clone(),
                ControllerOptions {
                    namespace: opts.namespace.clone(),
                    ..ControllerOptions::default()
                },
                qserv_operator::shutdown::on(stopped(stop_rx.clone())),
            )));
            let jobs = ingest::plan::JobSettings {
                image: "qserv-operator:local".into(),
                ..ingest::plan::JobSettings::default()
            };
            controllers.push(tokio::spawn(ingest::run(
                client,
                IngestOptions {
                    namespace: opts.namespace.clone(),
                    jobs,
                    // The Jobs run on this machine: the operator sees their files.
                    preflight_local_sources: true,
                },
                qserv_operator::shutdown::on(stopped(stop_rx)),
            )));
        }
        Ok(LocalMode {
            server,
            runtime,
            kubeconfig,
            address_map,
            stop,
            controllers,
        })
    }

    pub fn client(&self) -> kube::Client {
        self.server
            .client()
            .expect("the local API server's own URL parses")
    }

    pub fn kubeconfig(&self) -> &Path {
        &self.kubeconfig
    }

    pub fn server(&self) -> &LocalApiServer {
        &self.server
    }

    pub fn runtime(&self) -> &RuntimeHandle {
        &self.runtime
    }

    /// Where `host:port` (a Service or `<pod>.<service>`) is served on this machine.
    pub fn resolve(&self, host: &str, port: u16) -> Option<std::net::SocketAddr> {
        self.runtime.resolve(host, port)
    }

    /// Stops the controllers, every process of the runtime, then the API server.
    pub fn shutdown(self) -> BoxFuture<'static, ()> {
        Box::pin(self.shutdown_unboxed())
    }

    async fn shutdown_unboxed(self) {
        let _ = self.stop.send(true);
        for c in self.controllers {
            let _ = tokio::time::timeout(std::time::Duration::from_secs(10), c).await;
        }
        self.runtime.shutdown().await;
        connect_to::unregister_map(&self.address_map);
        self.server.shutdown().await;
    }
}
