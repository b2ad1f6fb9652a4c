//! Stands in for the schema-update Job's `entrypoint smig-update` (built by the operator's
//! `cluster/build/smig.rs`): Qserv's command connects to each database it is given and runs its
//! pending migrations (`Q@2026.3.3-rc1:python/lsst/qserv/admin/cli/script.py:850-879`; click
//! options `--czar-connection`, `--worker-connection` (repeatable), `--repl-connection`,
//! `--repl-connection-nonadmin`: `…/cli/options.py:54-116`, `entrypoint.py:983-1003`).
//!
//! Here it refuses what the real command would fail on — an option the release's click parser
//! does not have, a URI that is not `mysql://`, a database it cannot reach or log in to — and
//! then ends with exit code 0, or 1 with the reason in its log line.
//!
//! Differences from the real command (bugs until fixed): no migration runs (local mode's
//! databases hold no Qserv schema to migrate); the URIs' database is not opened (the
//! replication stand-in keeps its state in memory, so there is no `qservReplica`); the
//! non-admin replication URI is only parsed, as the real command uses it only to initialise an
//! empty database.

use std::sync::{Arc, OnceLock};

use futures::future::BoxFuture;
use mysql_async::prelude::Queryable;

use super::runtime::{PodContext, RuntimeError, SimulatedContainer, Simulator};

/// The options `entrypoint smig-update` takes, and whether each is logged in to.
const OPTIONS: &[(&str, bool)] = &[
    ("--czar-connection", true),
    ("--worker-connection", true),
    ("--repl-connection", true),
    ("--repl-connection-nonadmin", false),
];

pub struct SchemaUpdate;

impl Simulator for SchemaUpdate {
    fn start<'a>(
        &'a self,
        ctx: &'a PodContext,
    ) -> BoxFuture<'a, Result<SimulatedContainer, RuntimeError>> {
        Box::pin(async move {
            let exit = Arc::new(OnceLock::new());
            let done = exit.clone();
            let ctx = ctx.clone();
            let task = tokio::spawn(async move {
                let code = match run(&ctx).await {
                    Ok(n) => {
                        tracing::info!(
                            pod = ctx.pod_name(),
                            "smig-update: {n} databases up to date"
                        );
                        0
                    }
                    Err(reason) => {
                        tracing::warn!(pod = ctx.pod_name(), "smig-update: {reason}");
                        1
                    }
                };
                let _ = done.set(code);
            });
            Ok(SimulatedContainer {
                ports: Default::default(),
                task: Some(task),
                exit: Some(exit),
            })
        })
    }
}

/// The connections of the command line, each logged in to; the number reached.
async fn run(ctx: &PodContext) -> Result<usize, String> {
    let args = ctx.args();
    let (command, options) = args.split_first().ok_or("no arguments")?;
    if command != "smig-update" {
        return Err(format!("not `entrypoint smig-update`: {command:?}"));
    }
    let mut reached = 0;
    for arg in options {
        let (option, uri) = arg
            .split_once('=')
            .ok_or_else(|| format!("{arg:?}: expected --option=URI"))?;
        let login = OPTIONS
            .iter()
            .find(|(o, _)| *o == option)
            .map(|(_, login)| *login)
            .ok_or_else(|| format!("No such option: {option}"))?;
        let opts = mysql_async::Opts::from_url(uri).map_err(|e| format!("{option}: {e}"))?;
        if !login {
            continue;
        }
        let host = opts.ip_or_hostname().to_string();
        let addr = ctx
            .resolve(&host, opts.tcp_port())
            .ok_or_else(|| format!("{option}: cannot reach {host}:{}", opts.tcp_port()))?;
        let local = mysql_async::OptsBuilder::from_opts(opts.clone())
            .ip_or_hostname(addr.ip().to_string())
            .tcp_port(addr.port())
            .db_name(None::<String>);
        let mut conn = mysql_async::Conn::new(local)
            .await
            .map_err(|e| format!("{option}: {}@{host}: {e}", opts.user().unwrap_or_default()))?;
        conn.query_drop("SELECT 1")
            .await
            .map_err(|e| format!("{option}: {host}: {e}"))?;
        let _ = conn.disconnect().await;
        reached += 1;
    }
    Ok(reached)
}
