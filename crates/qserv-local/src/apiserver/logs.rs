//! `GET /api/v1/namespaces/{ns}/pods/{name}/log`: a container's log. kube-apiserver validates
//! the options and the container, then streams what the pod's kubelet reads from its log files;
//! here the server reads the local runtime's files itself ([`crate::container_logs`]), once the
//! runtime is attached ([`super::LocalApiServer::serve_container_logs`]).
//!
//! | Case | Answer | Source |
//! |---|---|---|
//! | `tailLines < 0`, `limitBytes < 1`, `sinceSeconds < 1`, both `sinceSeconds` and `sinceTime` | 422 `Invalid`, `PodLogOptions "<pod>" is invalid: ...` | k8s.io/kubernetes `pkg/apis/core/validation` (`ValidatePodLogOptions`: "must be greater than or equal to 0", "must be greater than 0", "at most one of `sinceTime` or `sinceSeconds` may be specified"), `pkg/registry/core/pod/rest/log.go` (`NewInvalid(api.Kind("PodLogOptions"), ...)`) |
//! | no such pod | 404, `pods "<pod>" not found` | the pod store's `Get` in `pod.LogLocation` |
//! | no `container` and several (or no) containers | 400, `a container name must be specified for pod <pod>, choose one of: [a b]` (without the list when there are none) | `pkg/registry/core/pod/strategy.go` (`validateContainer`) |
//! | `container` not in the pod | 400, `container <c> is not valid for pod <pod>` | same |
//! | no status for the container yet | 400, `container "<c>" in pod "<pod>" is not available` | `pkg/kubelet/kubelet_pods.go` (`validateContainerLogStatus`), passed on as `BadRequest` by `k8s.io/apiserver pkg/registry/generic/rest/response_checker.go` |
//! | `previous` and the container never ended before | 400, `previous terminated container "<c>" in pod "<pod>" not found` | same |
//! | the container has not started | 400, `container "<c>" in pod "<pod>" is waiting to start: <reason>` | same |
//! | no runtime attached (no node runs the pod) | 204, no body | `pod.LogLocation` (no node: no location), `k8s.io/apiserver pkg/endpoints/handlers/responsewriters/writers.go` (`StreamObject`: no stream, `StatusNoContent`) |
//! | otherwise | 200 `text/plain`: the run's output; `tailLines` (the last lines of the file), then `sinceSeconds`/`sinceTime`, `timestamps` (each entry prefixed with its RFC 3339 time and a space), `limitBytes` (the output cut there); `follow` streams until the run ends | `pkg/kubelet/kuberuntime/logs/logs.go` (`ReadLogs`) |
//!
//! The run served is the kubelet's choice: the running one, else the one that ended (the last
//! terminated while the container waits to restart); `previous` the one before. A follow ends
//! once that run is no longer the pod's running one (it exited, the pod was deleted or
//! replaced) and its file is read to the end, or when `limitBytes` is reached; a client that
//! goes away ends it too: the stream is the response body, nothing runs once it is dropped.
//!
//! Differences: a query parameter that does not parse (`tailLines=x`) gets 400 with our own
//! words; `stream` other than `All` gets the kubelet's answer without the `PodLogsQuerySplitStreams`
//! gate, 400 `unable to return the given log stream: "Stdout". Please enable ...` (the runtime
//! does not keep stdout and stderr apart); one-cause `Invalid` messages keep brackets, as
//! everywhere in this server; `insecureSkipTLSVerifyBackend` is accepted and means nothing
//! (there is no kubelet connection); a follow looks for new lines every 100 ms (the kubelet
//! waits on file events); the kubelet's "pod cannot be found" (a pod it has not seen yet) is
//! "is not available" here, as for a pod it saw without that container's status.

use std::io::{Read as _, Seek as _, SeekFrom};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, StreamBody};
use hyper::Response;
use hyper::body::Frame;
use jiff::{SignedDuration, Timestamp};
use serde_json::Value;

use super::errors::{ApiError, ApiResult, Cause};
use super::http::{Body, Req, ResourcePath, full};
use super::listing::path_namespace;
use super::resources::ResourceType;
use super::shared::Shared;
use crate::container_logs::{self, Entry};

/// How often a follow looks for new lines and at the container's state when it has nothing to
/// send (the kubelet waits on file events, and checks the container at least every 5 s).
const FOLLOW_POLL: Duration = Duration::from_millis(100);

/// Whether `rt` has the `log` subresource: core Pods.
pub fn serves(rt: &ResourceType) -> bool {
    rt.group.is_empty() && rt.kind == "Pod"
}

/// `PodLogOptions` from the query.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct LogOptions {
    pub container: Option<String>,
    pub follow: bool,
    pub previous: bool,
    pub since_seconds: Option<i64>,
    pub since_time: Option<Timestamp>,
    pub timestamps: bool,
    pub tail_lines: Option<i64>,
    pub limit_bytes: Option<i64>,
}

impl LogOptions {
    /// The query's options; a value that does not parse is a 400 naming the parameter.
    pub fn parse(req: &Req) -> ApiResult<LogOptions> {
        let bad = |key: &str, value: &str, what: &str| {
            ApiError::BadRequest(format!("{key}: invalid value {value:?}: {what}"))
        };
        let int = |key: &str| -> ApiResult<Option<i64>> {
            req.param(key)
                .map(|v| v.parse().map_err(|_| bad(key, v, "not an integer")))
                .transpose()
        };
        // Go's strconv.ParseBool, which the query conversion uses.
        let flag = |key: &str| -> ApiResult<bool> {
            match req.param(key) {
                None => Ok(false),
                Some("1" | "t" | "T" | "TRUE" | "true" | "True") => Ok(true),
                Some("0" | "f" | "F" | "FALSE" | "false" | "False") => Ok(false),
                Some(v) => Err(bad(key, v, "not a boolean")),
            }
        };
        match req.param("stream") {
            None | Some("All") => {}
            Some(other) => {
                return Err(ApiError::BadRequest(format!(
                    "unable to return the given log stream: {other:?}. Please enable \
                     PodLogsQuerySplitStreams feature gate in kubelet"
                )));
            }
        }
        flag("insecureSkipTLSVerifyBackend")?;
        Ok(LogOptions {
            container: req.param("container").map(String::from),
            follow: flag("follow")?,
            previous: flag("previous")?,
            since_seconds: int("sinceSeconds")?,
            since_time: req
                .param("sinceTime")
                .map(|v| {
                    v.parse()
                        .map_err(|_| bad("sinceTime", v, "not an RFC 3339 time"))
                })
                .transpose()?,
            timestamps: flag("timestamps")?,
            tail_lines: int("tailLines")?,
            limit_bytes: int("limitBytes")?,
        })
    }

    /// kube-apiserver's `ValidatePodLogOptions`.
    pub fn validate(&self, pod: &str) -> ApiResult<()> {
        let mut causes = Vec::new();
        let mut invalid = |field: &str, message: String| {
            causes.push(Cause {
                field: field.into(),
                message,
            })
        };
        if let Some(n) = self.tail_lines.filter(|n| *n < 0) {
            invalid(
                "tailLines",
                format!("{n}: must be greater than or equal to 0"),
            );
        }
        if let Some(n) = self.limit_bytes.filter(|n| *n < 1) {
            invalid("limitBytes", format!("{n}: must be greater than 0"));
        }
        match (self.since_seconds, self.since_time) {
            (Some(_), Some(_)) => invalid(
                "",
                "at most one of `sinceTime` or `sinceSeconds` may be specified".into(),
            ),
            (Some(n), None) if n < 1 => {
                invalid("sinceSeconds", format!("{n}: must be greater than 0"))
            }
            _ => {}
        }
        if causes.is_empty() {
            return Ok(());
        }
        Err(ApiError::Invalid {
            group: String::new(),
            kind: "PodLogOptions".into(),
            name: pod.into(),
            causes,
        })
    }

    fn since(&self, now: Timestamp) -> Option<Timestamp> {
        self.since_time.or_else(|| {
            self.since_seconds
                .and_then(|s| now.checked_sub(SignedDuration::from_secs(s)).ok())
        })
    }
}

/// The container to read: the one named, else the pod's only one (`validateContainer`).
pub fn container_of(pod: &Value, name: &str, wanted: Option<&str>) -> ApiResult<String> {
    let names = |key: &str| -> Vec<String> {
        pod["spec"][key]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|c| c["name"].as_str().map(String::from))
            .collect()
    };
    let containers = names("containers");
    let all: Vec<String> = names("initContainers")
        .into_iter()
        .chain(containers.iter().cloned())
        .chain(names("ephemeralContainers"))
        .collect();
    match wanted {
        Some(c) if all.iter().any(|n| n == c) => Ok(c.to_string()),
        Some(c) => Err(ApiError::BadRequest(format!(
            "container {c} is not valid for pod {name}"
        ))),
        None if containers.len() == 1 => Ok(containers[0].clone()),
        None if containers.is_empty() => Err(ApiError::BadRequest(format!(
            "a container name must be specified for pod {name}"
        ))),
        None => Err(ApiError::BadRequest(format!(
            "a container name must be specified for pod {name}, choose one of: [{}]",
            all.join(" ")
        ))),
    }
}

/// A run of a container, by the restart count it started with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Run {
    pub number: i32,
    /// It is the container's running one (a follow waits for more).
    pub running: bool,
}

/// The run whose log the kubelet serves, from the pod's status (`validateContainerLogStatus`):
/// the running one, else the one that ended; `previous`: the one before.
pub fn run_to_read(pod: &Value, name: &str, container: &str, previous: bool) -> ApiResult<Run> {
    let status = [
        "containerStatuses",
        "initContainerStatuses",
        "ephemeralContainerStatuses",
    ]
    .iter()
    .flat_map(|key| pod["status"][key].as_array().into_iter().flatten())
    .find(|s| s["name"] == container)
    .ok_or_else(|| {
        ApiError::BadRequest(format!(
            "container {container:?} in pod {name:?} is not available"
        ))
    })?;
    let restarts = status["restartCount"].as_i64().unwrap_or(0) as i32;
    let state = &status["state"];
    let ended_before = status["lastState"]["terminated"].is_object();
    let waiting = state["waiting"].is_object();
    if previous {
        if !ended_before {
            return Err(ApiError::BadRequest(format!(
                "previous terminated container {container:?} in pod {name:?} not found"
            )));
        }
        // While it waits to restart, the run that ended last is the latest one.
        let number = if waiting { restarts } else { restarts - 1 };
        return Ok(Run {
            number,
            running: false,
        });
    }
    if state["running"].is_object() {
        return Ok(Run {
            number: restarts,
            running: true,
        });
    }
    if state["terminated"].is_object() || ended_before {
        return Ok(Run {
            number: restarts,
            running: false,
        });
    }
    let reason = state["waiting"]["reason"].as_str();
    Err(ApiError::BadRequest(match reason {
        Some(reason) if waiting => {
            format!("container {container:?} in pod {name:?} is waiting to start: {reason}")
        }
        _ => format!("container {container:?} in pod {name:?} is waiting to start - no logs yet"),
    }))
}

/// Serves one request.
pub fn serve(
    shared: &Arc<Shared>,
    req: &Req,
    rt: &ResourceType,
    path: &ResourcePath,
    name: &str,
) -> ApiResult<Response<Body>> {
    let opts = LogOptions::parse(req)?;
    opts.validate(name)?;
    let ns = path_namespace(rt, path)?;
    let pod = shared.lock().get(rt, &ns, name)?;
    let container = container_of(&pod, name, opts.container.as_deref())?;
    let Some(root) = shared.container_logs.get() else {
        let mut none = Response::new(full(Bytes::new()));
        *none.status_mut() = hyper::StatusCode::NO_CONTENT;
        return Ok(none);
    };
    let run = run_to_read(&pod, name, &container, opts.previous)?;
    let uid = pod["metadata"]["uid"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let file = container_logs::file(root, &ns, name, &uid, &container, run.number);
    let reader = LogReader {
        file,
        offset: 0,
        carry: Vec::new(),
        first: true,
        since: opts.since(Timestamp::now()),
        opts,
        left: None,
        ended: false,
        watch: Watch {
            shared: shared.clone(),
            rt: rt.clone(),
            namespace: ns,
            name: name.to_string(),
            uid,
            container,
            run,
            shutdown: shared.shutdown.clone(),
        },
        _open: OpenStream::new(&shared.log_streams),
    };
    let stream = futures::stream::unfold(reader, |mut r| async move {
        let chunk = r.next_chunk().await?;
        Some((Ok(Frame::data(Bytes::from(chunk))), r))
    });
    let mut resp = Response::new(StreamBody::new(stream).boxed());
    resp.headers_mut().insert(
        hyper::header::CONTENT_TYPE,
        hyper::header::HeaderValue::from_static("text/plain"),
    );
    Ok(resp)
}

/// Counts itself among the open log streams while it lives.
struct OpenStream(Arc<AtomicUsize>);

impl OpenStream {
    fn new(count: &Arc<AtomicUsize>) -> OpenStream {
        count.fetch_add(1, Ordering::SeqCst);
        OpenStream(count.clone())
    }
}

impl Drop for OpenStream {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

/// What a follow watches: whether the run it reads is still the container's running one.
struct Watch {
    shared: Arc<Shared>,
    rt: ResourceType,
    namespace: String,
    name: String,
    uid: String,
    container: String,
    run: Run,
    shutdown: tokio::sync::watch::Receiver<bool>,
}

impl Watch {
    fn still_running(&self) -> bool {
        if !self.run.running {
            return false;
        }
        let Ok(pod) = self
            .shared
            .lock()
            .get(&self.rt, &self.namespace, &self.name)
        else {
            return false;
        };
        pod["metadata"]["uid"] == self.uid.as_str()
            && run_to_read(&pod, &self.name, &self.container, false).ok() == Some(self.run)
    }
}

/// The response body's state: the file read so far and what the options still allow.
struct LogReader {
    file: PathBuf,
    offset: u64,
    /// The start of a line whose end is not in the file yet.
    carry: Vec<u8>,
    first: bool,
    since: Option<Timestamp>,
    opts: LogOptions,
    /// Bytes `limitBytes` still allows (None: no limit).
    left: Option<u64>,
    ended: bool,
    watch: Watch,
    _open: OpenStream,
}

impl LogReader {
    /// The next piece of the body; None once it is complete.
    async fn next_chunk(&mut self) -> Option<Vec<u8>> {
        loop {
            if self.ended {
                return None;
            }
            if self.first {
                self.first = false;
                self.left = self.opts.limit_bytes.map(|n| n as u64);
                let lines = self.new_lines();
                let tail = match self.opts.tail_lines {
                    Some(n) => lines.len().saturating_sub(n as usize),
                    None => 0,
                };
                let out = self.render(&lines[tail..]);
                if !self.opts.follow {
                    self.ended = true;
                }
                if !out.is_empty() {
                    return Some(out);
                }
                continue;
            }
            // Looked at before the read: a run seen ended has its whole output in the file.
            let running = self.watch.still_running();
            let lines = self.new_lines();
            let out = self.render(&lines);
            if !running {
                self.ended = true;
            }
            if !out.is_empty() {
                return Some(out);
            }
            if self.ended {
                return None;
            }
            tokio::select! {
                _ = tokio::time::sleep(FOLLOW_POLL) => {}
                _ = self.watch.shutdown.changed() => self.ended = true,
            }
        }
    }

    /// The complete lines added to the file since the last read.
    fn new_lines(&mut self) -> Vec<Vec<u8>> {
        let mut bytes = Vec::new();
        if let Ok(mut f) = std::fs::File::open(&self.file)
            && f.seek(SeekFrom::Start(self.offset)).is_ok()
            && let Ok(n) = f.read_to_end(&mut bytes)
        {
            self.offset += n as u64;
        }
        self.carry.extend(bytes);
        let Some(last) = self.carry.iter().rposition(|b| *b == b'\n') else {
            return Vec::new();
        };
        let rest = self.carry.split_off(last + 1);
        let complete = std::mem::replace(&mut self.carry, rest);
        complete
            .split(|b| *b == b'\n')
            .filter(|l| !l.is_empty())
            .map(<[u8]>::to_vec)
            .collect()
    }

    /// What the client gets for these file lines, within `limitBytes`.
    fn render(&mut self, lines: &[Vec<u8>]) -> Vec<u8> {
        let mut out = Vec::new();
        for entry in lines.iter().filter_map(|l| container_logs::parse(l)) {
            if self.since.is_some_and(|since| entry.time < since) {
                continue;
            }
            out.extend(shown(&entry, self.opts.timestamps));
        }
        if let Some(left) = &mut self.left {
            out.truncate((*left).min(out.len() as u64) as usize);
            *left -= out.len() as u64;
            if *left == 0 {
                self.ended = true;
            }
        }
        out
    }
}

/// One entry as the client sees it: its output, after its time when `timestamps`.
fn shown(entry: &Entry<'_>, timestamps: bool) -> Vec<u8> {
    let mut out = Vec::new();
    if timestamps {
        out.extend(format!("{} ", entry.time).into_bytes());
    }
    out.extend(entry.output());
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn req(query: &str) -> Req {
        Req {
            method: hyper::Method::GET,
            path: "/api/v1/namespaces/default/pods/p/log".into(),
            query: super::super::http::parse_query(Some(query)),
            accept: String::new(),
            content_type: String::new(),
            body: Bytes::new(),
        }
    }

    fn message(e: ApiError) -> (u16, String) {
        (e.code(), e.to_string())
    }

    #[test]
    fn options_parse_and_validate_as_kube_apiserver_does() {
        let o = LogOptions::parse(&req(
            "container=load&follow=true&tailLines=5&timestamps=1&sinceTime=2026-01-01T00:00:00Z",
        ))
        .unwrap();
        assert_eq!(o.container.as_deref(), Some("load"));
        assert!(o.follow && o.timestamps && !o.previous);
        assert_eq!(o.tail_lines, Some(5));
        assert_eq!(o.since_time.unwrap().to_string(), "2026-01-01T00:00:00Z");
        assert_eq!(o.validate("p").ok(), Some(()));

        assert_eq!(
            message(LogOptions::parse(&req("tailLines=x")).unwrap_err()),
            (400, "tailLines: invalid value \"x\": not an integer".into())
        );
        assert_eq!(
            message(LogOptions::parse(&req("follow=yes")).unwrap_err()).0,
            400
        );
        assert!(
            message(LogOptions::parse(&req("stream=Stderr")).unwrap_err())
                .1
                .contains("PodLogsQuerySplitStreams")
        );

        let invalid = |q: &str| {
            message(
                LogOptions::parse(&req(q))
                    .unwrap()
                    .validate("p")
                    .unwrap_err(),
            )
        };
        assert_eq!(
            invalid("tailLines=-1"),
            (
                422,
                "PodLogOptions \"p\" is invalid: [tailLines: Invalid value: -1: must be greater \
                 than or equal to 0]"
                    .into()
            )
        );
        assert_eq!(
            invalid("limitBytes=0").1,
            "PodLogOptions \"p\" is invalid: [limitBytes: Invalid value: 0: must be greater than 0]"
        );
        assert_eq!(
            invalid("sinceSeconds=0").1,
            "PodLogOptions \"p\" is invalid: [sinceSeconds: Invalid value: 0: must be greater than 0]"
        );
        assert!(
            invalid("sinceSeconds=5&sinceTime=2026-01-01T00:00:00Z")
                .1
                .contains("at most one of `sinceTime` or `sinceSeconds` may be specified")
        );
    }

    /// The handler on a server without a socket: no node, then the files of a node, then a
    /// follow that ends when the status says the run ended.
    #[tokio::test]
    async fn served_from_the_files_and_a_follow_ends_with_its_run() {
        let server = super::super::InProcess::new().unwrap();
        let send = |method: &str, uri: &str, body: Value| {
            let req = hyper::Request::builder()
                .method(method)
                .uri(uri)
                .header("content-type", "application/merge-patch+json")
                .body(Bytes::from(body.to_string()))
                .unwrap();
            server.request(req)
        };
        let created = send(
            "POST",
            "/api/v1/namespaces/default/pods",
            json!({"metadata": {"name": "p"}, "spec": {"containers": [{"name": "main"}]}}),
        );
        assert_eq!(created.status(), 201);
        let log = |query: &str| {
            let uri = format!("/api/v1/namespaces/default/pods/p/log{query}");
            send("GET", &uri, Value::Null)
        };
        // No runtime attached: no node runs the pod.
        assert_eq!(log("").status(), 204);

        let root = tempfile::tempdir().unwrap();
        server.serve_container_logs(root.path().to_path_buf());
        let status = |state: Value| {
            let patched = send(
                "PATCH",
                "/api/v1/namespaces/default/pods/p/status",
                json!({"status": {"containerStatuses": [
                    {"name": "main", "restartCount": 0, "state": state}]}}),
            );
            assert_eq!(patched.status(), 200);
        };
        status(json!({"running": {}}));
        let uid = {
            let pod = send("GET", "/api/v1/namespaces/default/pods/p", Value::Null);
            let body = pod.into_body().collect().await.unwrap().to_bytes();
            serde_json::from_slice::<Value>(&body).unwrap()["metadata"]["uid"]
                .as_str()
                .unwrap()
                .to_string()
        };
        let file = container_logs::file(root.path(), "default", "p", &uid, "main", 0);
        std::fs::create_dir_all(file.parent().unwrap()).unwrap();
        let t = Timestamp::now();
        let mut written = container_logs::format(t, false, b"one");
        written.extend(container_logs::format(t, false, b"two"));
        std::fs::write(&file, &written).unwrap();

        let body = |resp: Response<Body>| async move {
            assert_eq!(resp.status(), 200);
            assert_eq!(resp.headers()["content-type"], "text/plain");
            resp.into_body().collect().await.unwrap().to_bytes()
        };
        assert_eq!(body(log("")).await, "one\ntwo\n");
        assert_eq!(body(log("?tailLines=1")).await, "two\n");
        assert_eq!(body(log("?limitBytes=5")).await, "one\nt");
        assert_eq!(
            body(log("?timestamps=true&tailLines=1")).await,
            format!("{t} two\n")
        );

        // Follow: what is in the file, then what the run adds, until it ends.
        let mut follow = log("?follow=true").into_body();
        let frame = |f: Option<Result<Frame<Bytes>, std::convert::Infallible>>| {
            f.unwrap().unwrap().into_data().unwrap()
        };
        assert_eq!(frame(follow.frame().await), "one\ntwo\n");
        let mut more = std::fs::OpenOptions::new()
            .append(true)
            .open(&file)
            .unwrap();
        std::io::Write::write_all(&mut more, &container_logs::format(t, true, b"thr")).unwrap();
        assert_eq!(frame(follow.frame().await), "thr");
        std::io::Write::write_all(&mut more, &container_logs::format(t, false, b"ee")).unwrap();
        status(json!({"terminated": {"exitCode": 0}}));
        let mut rest = Vec::new();
        while let Some(f) = follow.frame().await {
            rest.extend(f.unwrap().into_data().unwrap());
        }
        assert_eq!(rest, b"ee\n");
        drop(follow);
        assert_eq!(server.shared.log_streams.load(Ordering::SeqCst), 0);
    }

    fn pod(containers: &[&str], statuses: Value) -> Value {
        let cs: Vec<Value> = containers.iter().map(|c| json!({"name": c})).collect();
        json!({"metadata": {"name": "p", "uid": "u"}, "spec": {"containers": cs},
               "status": {"containerStatuses": statuses}})
    }

    #[test]
    fn the_container_is_named_or_the_only_one() {
        let one = pod(&["main"], json!([]));
        assert_eq!(container_of(&one, "p", None).unwrap(), "main");
        assert_eq!(
            message(container_of(&one, "p", Some("side")).unwrap_err()),
            (400, "container side is not valid for pod p".into())
        );
        let two = pod(&["mariadb", "proxy"], json!([]));
        assert_eq!(
            message(container_of(&two, "p", None).unwrap_err()),
            (
                400,
                "a container name must be specified for pod p, choose one of: [mariadb proxy]"
                    .into()
            )
        );
        assert_eq!(container_of(&two, "p", Some("proxy")).unwrap(), "proxy");
        assert_eq!(
            container_of(&pod(&[], json!([])), "p", None)
                .unwrap_err()
                .to_string(),
            "a container name must be specified for pod p"
        );
    }

    #[test]
    fn the_run_is_the_kubelets_choice() {
        let with = |state: Value, last: Value, restarts: i64| {
            pod(
                &["main"],
                json!([{"name": "main", "restartCount": restarts, "state": state, "lastState": last}]),
            )
        };
        let running = json!({"running": {}});
        let ended = json!({"terminated": {"exitCode": 1}});
        let backoff = json!({"waiting": {"reason": "CrashLoopBackOff"}});
        let run = |p: &Value, previous| run_to_read(p, "p", "main", previous).ok();
        let refused =
            |p: &Value, previous| message(run_to_read(p, "p", "main", previous).unwrap_err());
        let live = |number| Run {
            number,
            running: true,
        };
        let number = |number| Run {
            number,
            running: false,
        };

        assert_eq!(
            run(&with(running.clone(), json!({}), 0), false),
            Some(live(0))
        );
        assert_eq!(
            refused(&with(running.clone(), json!({}), 0), true),
            (
                400,
                "previous terminated container \"main\" in pod \"p\" not found".into()
            )
        );
        // Restarted twice: the second restart runs, the first restart is the previous run.
        assert_eq!(run(&with(running, ended.clone(), 2), false), Some(live(2)));
        assert_eq!(
            run(&with(json!({"running": {}}), ended.clone(), 2), true),
            Some(number(1))
        );
        // Waiting to restart after its third run ended: that run is current and previous.
        assert_eq!(
            run(&with(backoff.clone(), ended.clone(), 2), false),
            Some(number(2))
        );
        assert_eq!(run(&with(backoff, ended.clone(), 2), true), Some(number(2)));
        assert_eq!(run(&with(ended, json!({}), 0), false), Some(number(0)));
        assert_eq!(
            refused(
                &with(
                    json!({"waiting": {"reason": "ContainerCreating"}}),
                    json!({}),
                    0
                ),
                false
            ),
            (
                400,
                "container \"main\" in pod \"p\" is waiting to start: ContainerCreating".into()
            )
        );
        assert_eq!(
            refused(&pod(&["main"], json!([])), false).1,
            "container \"main\" in pod \"p\" is not available"
        );
    }
}
