//! Operator metrics (Prometheus/OpenMetrics text) and the health endpoints of `qserv-operator
//! run`: `/metrics`, `/healthz` (the process serves), `/readyz` (the controllers have started:
//! the API server answered and, with leader election, this replica either leads or stands by).
//!
//! One process-wide registry, so the controllers record without threading a handle through.

use futures::future::BoxFuture;
use std::net::SocketAddr;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ControllerLabels {
    pub controller: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ErrorLabels {
    pub controller: &'static str,
    /// The error variant's metric label (`ReconcileError::metric_label`).
    pub kind: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct CheckLabels {
    /// passed | failed | skipped
    pub result: &'static str,
}

/// Every metric of the operator.
pub struct Metrics {
    pub reconciles: Family<ControllerLabels, Counter>,
    pub reconcile_errors: Family<ErrorLabels, Counter>,
    pub reconcile_duration: Family<ControllerLabels, Histogram>,
    pub ingest_rows: Counter,
    pub ingest_bytes: Counter,
    pub checks: Family<CheckLabels, Counter>,
    /// Objects a controller skipped because they do not decode (`tolerant.rs`).
    pub undecodable_objects: Family<ControllerLabels, Counter>,
    pub leader: Gauge,
    registry: Registry,
    ready: AtomicBool,
}

impl Metrics {
    fn new() -> Metrics {
        let mut registry = Registry::with_prefix("qserv_operator");
        let reconciles = Family::<ControllerLabels, Counter>::default();
        let reconcile_errors = Family::<ErrorLabels, Counter>::default();
        let reconcile_duration =
            Family::<ControllerLabels, Histogram>::new_with_constructor(|| {
                // 1 ms .. ~16 s
                Histogram::new(exponential_buckets(0.001, 2.0, 15))
            });
        let ingest_rows = Counter::default();
        let ingest_bytes = Counter::default();
        let checks = Family::<CheckLabels, Counter>::default();
        let undecodable_objects = Family::<ControllerLabels, Counter>::default();
        let leader = Gauge::default();
        registry.register(
            "reconciles",
            "Reconciles run, per controller",
            reconciles.clone(),
        );
        registry.register(
            "reconcile_errors",
            "Failed reconciles, per controller and error kind",
            reconcile_errors.clone(),
        );
        registry.register(
            "reconcile_duration_seconds",
            "Duration of one reconcile",
            reconcile_duration.clone(),
        );
        registry.register(
            "ingest_rows",
            "Rows published in Qserv by ingests that succeeded",
            ingest_rows.clone(),
        );
        registry.register(
            "ingest_bytes",
            "Bytes of partitioned data of ingests that finished",
            ingest_bytes.clone(),
        );
        registry.register("checks", "Result checks by outcome", checks.clone());
        registry.register(
            "undecodable_objects",
            "Objects skipped by a controller because they do not decode as its type",
            undecodable_objects.clone(),
        );
        registry.register(
            "leader",
            "1 when this replica holds the leader lease (or runs without election)",
            leader.clone(),
        );
        Metrics {
            reconciles,
            reconcile_errors,
            reconcile_duration,
            ingest_rows,
            ingest_bytes,
            checks,
            undecodable_objects,
            leader,
            registry,
            ready: AtomicBool::new(false),
        }
    }

    /// Counts one object `controller` skipped because it does not decode.
    pub fn undecodable(&self, controller: &'static str) {
        self.undecodable_objects
            .get_or_create(&ControllerLabels { controller })
            .inc();
    }

    /// How many objects `controller` skipped so far.
    pub fn undecodable_count(&self, controller: &'static str) -> u64 {
        self.undecodable_objects
            .get_or_create(&ControllerLabels { controller })
            .get()
    }

    /// Records one reconcile of `controller`.
    pub fn reconciled(
        &self,
        controller: &'static str,
        took: Duration,
        error: Option<&'static str>,
    ) {
        let labels = ControllerLabels { controller };
        self.reconciles.get_or_create(&labels).inc();
        self.reconcile_duration
            .get_or_create(&labels)
            .observe(took.as_secs_f64());
        if let Some(kind) = error {
            self.reconcile_errors
                .get_or_create(&ErrorLabels { controller, kind })
                .inc();
        }
    }

    pub fn set_ready(&self, ready: bool) {
        self.ready.store(ready, Ordering::Relaxed);
    }

    pub fn is_ready(&self) -> bool {
        self.ready.load(Ordering::Relaxed)
    }

    /// The OpenMetrics text of every metric.
    pub fn encode(&self) -> String {
        let mut out = String::new();
        // Writing into a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut out, &self.registry);
        out
    }
}

/// The process-wide metrics.
pub fn global() -> &'static Metrics {
    static METRICS: OnceLock<Metrics> = OnceLock::new();
    METRICS.get_or_init(Metrics::new)
}

/// Serves `/metrics`, `/healthz` and `/readyz` on `addr` until the task is dropped; returns the
/// bound address (port 0 picks one).
pub fn serve(
    addr: SocketAddr,
) -> BoxFuture<'static, std::io::Result<(SocketAddr, tokio::task::JoinHandle<()>)>> {
    Box::pin(serve_unboxed(addr))
}

async fn serve_unboxed(
    addr: SocketAddr,
) -> std::io::Result<(SocketAddr, tokio::task::JoinHandle<()>)> {
    let listener = tokio::net::TcpListener::bind(addr).await?;
    let bound = listener.local_addr()?;
    let task = tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                continue;
            };
            tokio::spawn(async move {
                let service = service_fn(|req: Request<hyper::body::Incoming>| async move {
                    Ok::<_, std::convert::Infallible>(respond(req.uri().path()))
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    Ok((bound, task))
}

fn respond(path: &str) -> Response<Full<Bytes>> {
    let metrics = global();
    let (code, content_type, body) = match path {
        "/metrics" => (
            StatusCode::OK,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
            metrics.encode(),
        ),
        "/healthz" => (StatusCode::OK, "text/plain", "ok\n".to_string()),
        "/readyz" if metrics.is_ready() => (StatusCode::OK, "text/plain", "ready\n".to_string()),
        "/readyz" => (
            StatusCode::SERVICE_UNAVAILABLE,
            "text/plain",
            "controllers not started\n".to_string(),
        ),
        _ => (
            StatusCode::NOT_FOUND,
            "text/plain",
            "not found\n".to_string(),
        ),
    };
    let mut response = Response::new(Full::new(Bytes::from(body)));
    *response.status_mut() = code;
    if let Ok(v) = content_type.parse() {
        response
            .headers_mut()
            .insert(hyper::header::CONTENT_TYPE, v);
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reconciles_and_errors_show_in_the_text() {
        let m = Metrics::new();
        m.reconciled("qservcluster", Duration::from_millis(3), None);
        m.reconciled("qservcluster", Duration::from_millis(5), Some("kube_api"));
        m.checks
            .get_or_create(&CheckLabels { result: "passed" })
            .inc_by(7);
        m.leader.set(1);
        let text = m.encode();
        assert!(
            text.contains("qserv_operator_reconciles_total{controller=\"qservcluster\"} 2"),
            "{text}"
        );
        assert!(
            text.contains(
                "qserv_operator_reconcile_errors_total{controller=\"qservcluster\",kind=\"kube_api\"} 1"
            ),
            "{text}"
        );
        assert!(
            text.contains(
                "qserv_operator_reconcile_duration_seconds_count{controller=\"qservcluster\"} 2"
            ),
            "{text}"
        );
        assert!(
            text.contains("qserv_operator_checks_total{result=\"passed\"} 7"),
            "{text}"
        );
        assert!(text.contains("qserv_operator_leader 1"), "{text}");
    }
}
