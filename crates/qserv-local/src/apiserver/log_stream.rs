//! The body of a Pod log response: the run's log file read and shaped by the options (tail,
//! since, timestamps, limit), and for a follow what the run adds, until it is no longer the
//! container's running one. The body is the stream itself, polled by the connection: once a
//! client goes away and the body is dropped, nothing is left running.

use std::io::{Read as _, Seek as _, SeekFrom};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, StreamBody};
use hyper::body::Frame;
use jiff::Timestamp;

use super::http::Body;
use super::log_options::{LogOptions, Run, run_to_read};
use super::resources::ResourceType;
use super::shared::Shared;
use crate::container_logs::{self, Entry};

/// How often a follow looks for new lines and at the container's state when it has nothing to
/// send (the kubelet waits on file events, and checks the container at least every 5 s).
const FOLLOW_POLL: Duration = Duration::from_millis(100);

/// The run whose log is read: a container's, in one pod (by uid).
pub struct PodRun {
    pub namespace: String,
    pub name: String,
    pub uid: String,
    pub container: String,
    pub run: Run,
}

/// The response body for `file`, the log of `target`.
pub fn body(
    shared: &Arc<Shared>,
    pods: &ResourceType,
    target: PodRun,
    file: PathBuf,
    opts: LogOptions,
) -> Body {
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
            pods: pods.clone(),
            target,
            shutdown: shared.shutdown.clone(),
        },
        _open: OpenStream::new(&shared.log_streams),
    };
    let stream = futures::stream::unfold(reader, |mut r| async move {
        let chunk = r.next_chunk().await?;
        Some((Ok(Frame::data(Bytes::from(chunk))), r))
    });
    StreamBody::new(stream).boxed()
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
    pods: ResourceType,
    target: PodRun,
    shutdown: tokio::sync::watch::Receiver<bool>,
}

impl Watch {
    fn still_running(&self) -> bool {
        let t = &self.target;
        if !t.run.running {
            return false;
        }
        let Ok(pod) = self.shared.lock().get(&self.pods, &t.namespace, &t.name) else {
            return false;
        };
        pod["metadata"]["uid"] == t.uid.as_str()
            && run_to_read(&pod, &t.name, &t.container, false).ok() == Some(t.run)
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
