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
//! Like the real server, a change that makes an object leave the selectors is sent as
//! `DELETED`, and one that makes it enter them as `ADDED`. When the Accept header asks for a
//! Table (`kubectl get -w`), each event's object is a one-row Table.

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

use super::errors::{ApiError, ApiResult};
use super::http::{Body, Req, ResourcePath};
use super::listing::selectors;
use super::resources::ResourceType;
use super::selectors::{FieldSelector, LabelSelector};
use super::shared::Shared;
use super::store::{Event, EventType, meta_str, with_api_version};
use super::table;

struct Filter {
    rt: ResourceType,
    namespace: Option<String>,
    labels: LabelSelector,
    fields: FieldSelector,
    /// `includeObject` of a Table watch; None for plain objects.
    table: Option<String>,
}

impl Filter {
    /// `obj` as stored; selectors see it as this watch's version shows it.
    fn matches(&self, obj: &Value) -> bool {
        let obj = &with_api_version(obj, &self.rt);
        self.namespace
            .as_deref()
            .is_none_or(|ns| meta_str(obj, "namespace") == ns)
            && self.labels.matches(obj)
            && self.fields.matches(obj)
    }

    /// The event a watcher with this filter gets for a change, if any.
    fn event(&self, event: &Event) -> Option<Bytes> {
        if event.storage != self.rt.storage_key() {
            return None;
        }
        let now = self.matches(&event.object);
        let before = event.previous.as_ref().map(|p| self.matches(p));
        let kind = match (event.kind, before, now) {
            (EventType::Modified, Some(true), false) => "DELETED",
            (EventType::Modified, Some(false), true) => "ADDED",
            (kind, _, true) => kind.as_str(),
            _ => return None,
        };
        Some(self.line(kind, &event.object))
    }

    fn line(&self, kind: &str, obj: &Value) -> Bytes {
        let obj = with_api_version(obj, &self.rt);
        self.raw_line(kind, &obj)
    }

    fn raw_line(&self, kind: &str, obj: &Value) -> Bytes {
        let obj = match &self.table {
            Some(include) if kind != "BOOKMARK" => {
                let rv = meta_str(obj, "resourceVersion").parse().unwrap_or_default();
                table::render(&self.rt, std::slice::from_ref(obj), rv, include)
            }
            _ => obj.clone(),
        };
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
        let bookmark = json!({"kind": self.rt.kind, "apiVersion": self.rt.api_version(),
                              "metadata": meta});
        self.raw_line("BOOKMARK", &bookmark)
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
        if let Some(line) = self.filter.event(event) {
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
        table: table::wants_table(&req.accept)
            .then(|| req.param("includeObject").unwrap_or("Metadata").to_string()),
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
            pending.extend(replay.iter().filter_map(|e| filter.event(e)));
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
