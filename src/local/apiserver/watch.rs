//! `?watch=true`: a stream of newline-separated `{"type": …, "object": …}` events.
//!
//! - `resourceVersion` unset or `0`: synthetic `ADDED` events for what exists, then changes.
//! - `resourceVersion=N`: every change after N, replayed from the bounded history; if N is older
//!   than the history, one `ERROR` event carrying a `410 Expired` Status (what the real watch
//!   cache sends), after which clients relist.
//! - `sendInitialEvents=true` (kube-runtime's streaming list): the current objects as `ADDED`,
//!   then a `BOOKMARK` annotated `k8s.io/initial-events-end: "true"`.
//! - `allowWatchBookmarks=true`: a `BOOKMARK` with the latest resourceVersion every bookmark
//!   interval, so a client resumes from a recent version after a disconnect.
//! - `timeoutSeconds` ends the stream; so does server shutdown.
//!
//! An object that stops matching the selectors after a change is not turned into a `DELETED`
//! event (the real server does that); clients see no further events for it.

use std::collections::VecDeque;
use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, StreamBody};
use hyper::Response;
use hyper::body::Frame;
use serde_json::{Value, json};
use tokio::sync::mpsc;
use tokio::time::Instant;

use super::Shared;
use super::errors::{ApiError, ApiResult};
use super::handlers::selectors;
use super::http::{Body, Req, ResourcePath};
use super::resources::ResourceType;
use super::selectors::{FieldSelector, LabelSelector};
use super::store::{Event, meta_str, with_api_version};

struct Filter {
    rt: ResourceType,
    namespace: Option<String>,
    labels: LabelSelector,
    fields: FieldSelector,
}

impl Filter {
    fn matches(&self, obj: &Value) -> bool {
        self.namespace
            .as_deref()
            .is_none_or(|ns| meta_str(obj, "namespace") == ns)
            && self.labels.matches(obj)
            && self.fields.matches(obj)
    }

    fn line(&self, kind: &str, obj: &Value) -> Bytes {
        let obj = with_api_version(obj, &self.rt);
        let mut line =
            serde_json::to_vec(&json!({"type": kind, "object": obj})).unwrap_or_default();
        line.push(b'\n');
        Bytes::from(line)
    }

    fn bookmark(&self, rv: u64, initial_end: bool) -> Bytes {
        let mut meta = json!({"resourceVersion": rv.to_string()});
        if initial_end {
            meta["annotations"] = json!({"k8s.io/initial-events-end": "true"});
        }
        self.line("BOOKMARK", &json!({"metadata": meta}))
    }
}

fn error_line(err: &ApiError) -> Bytes {
    let mut line =
        serde_json::to_vec(&json!({"type": "ERROR", "object": err.status()})).unwrap_or_default();
    line.push(b'\n');
    Bytes::from(line)
}

struct WatchState {
    pending: VecDeque<Bytes>,
    rx: Option<mpsc::UnboundedReceiver<Arc<Event>>>,
    filter: Filter,
    last_rv: u64,
    bookmarks: bool,
    ticker: tokio::time::Interval,
    deadline: Option<Instant>,
    shutdown: tokio::sync::watch::Receiver<bool>,
}

impl WatchState {
    fn on_event(&mut self, event: &Event) {
        self.last_rv = event.rv;
        if event.storage == self.filter.rt.storage_key() && self.filter.matches(&event.object) {
            let line = self.filter.line(event.kind.as_str(), &event.object);
            self.pending.push_back(line);
        }
    }
}

async fn next_frame(mut st: WatchState) -> Option<(Result<Frame<Bytes>, Infallible>, WatchState)> {
    loop {
        if let Some(line) = st.pending.pop_front() {
            return Some((Ok(Frame::data(line)), st));
        }
        let far = Instant::now() + Duration::from_secs(365 * 86400);
        let deadline = st.deadline.unwrap_or(far);
        let rx = st.rx.as_mut()?;
        tokio::select! {
            event = rx.recv() => match event {
                Some(event) => st.on_event(&event),
                None => return None,
            },
            _ = st.ticker.tick(), if st.bookmarks => {
                let line = st.filter.bookmark(st.last_rv, false);
                st.pending.push_back(line);
            }
            _ = tokio::time::sleep_until(deadline) => return None,
            _ = st.shutdown.changed() => return None,
        }
    }
}

pub fn start(
    shared: &Arc<Shared>,
    req: &Req,
    rt: ResourceType,
    path: &ResourcePath,
) -> ApiResult<Response<Body>> {
    let (labels, fields) = selectors(req)?;
    if path.namespace.is_some() && !rt.namespaced {
        return Err(ApiError::NoRoute);
    }
    let send_initial = req.flag("sendInitialEvents");
    let bookmarks = req.flag("allowWatchBookmarks");
    let requested = match req.param("resourceVersion") {
        None | Some("0") => None,
        Some(v) => Some(v.parse::<u64>().map_err(|_| {
            ApiError::BadRequest(format!("invalid resourceVersion {v:?}: not a number"))
        })?),
    };
    let filter = Filter {
        rt,
        namespace: path.namespace.clone(),
        labels,
        fields,
    };
    let mut pending = VecDeque::new();
    let mut store = shared.lock();
    let current = store.resource_version();
    let since = match requested {
        Some(n) if !send_initial => n,
        _ => {
            for obj in store.list(&filter.rt, filter.namespace.as_deref()) {
                if filter.matches(&obj) {
                    pending.push_back(filter.line("ADDED", &obj));
                }
            }
            current
        }
    };
    let rx = match store.subscribe(since) {
        Ok((replay, rx)) => {
            if send_initial && bookmarks {
                pending.push_back(filter.bookmark(current, true));
            }
            for event in replay {
                if event.storage == filter.rt.storage_key() && filter.matches(&event.object) {
                    pending.push_back(filter.line(event.kind.as_str(), &event.object));
                }
            }
            Some(rx)
        }
        Err(gone) => {
            pending.push_back(error_line(&gone));
            None
        }
    };
    drop(store);
    let period = shared.bookmark_interval;
    let timeout = req
        .param("timeoutSeconds")
        .and_then(|t| t.parse::<u64>().ok())
        .map(|t| Instant::now() + Duration::from_secs(t));
    let state = WatchState {
        pending,
        rx,
        filter,
        last_rv: current,
        bookmarks,
        ticker: tokio::time::interval_at(Instant::now() + period, period),
        deadline: timeout,
        shutdown: shared.shutdown.clone(),
    };
    let stream = futures::stream::unfold(state, next_frame);
    let mut resp = Response::new(StreamBody::new(stream).boxed());
    resp.headers_mut().insert(
        hyper::header::CONTENT_TYPE,
        hyper::header::HeaderValue::from_static("application/json"),
    );
    Ok(resp)
}
