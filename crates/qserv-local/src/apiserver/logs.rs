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

use std::sync::Arc;

use bytes::Bytes;
use hyper::Response;

use super::errors::ApiResult;
use super::http::{Body, Req, ResourcePath, full};
use super::listing::path_namespace;
use super::log_options::{LogOptions, container_of, run_to_read};
use super::log_stream::{self, PodRun};
use super::resources::ResourceType;
use super::shared::Shared;
use crate::container_logs;

/// Whether `rt` has the `log` subresource: core Pods.
pub fn serves(rt: &ResourceType) -> bool {
    rt.group.is_empty() && rt.kind == "Pod"
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
    let target = PodRun {
        namespace: ns,
        name: name.to_string(),
        uid,
        container,
        run,
    };
    let mut resp = Response::new(log_stream::body(shared, rt, target, file, opts));
    resp.headers_mut().insert(
        hyper::header::CONTENT_TYPE,
        hyper::header::HeaderValue::from_static("text/plain"),
    );
    Ok(resp)
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::BodyExt;
    use hyper::body::Frame;
    use jiff::Timestamp;
    use serde_json::{Value, json};
    use std::sync::atomic::Ordering;

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
}
