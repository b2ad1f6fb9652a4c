//! The log files of the local runtime's containers: where they are and what a line holds. The
//! runtime writes them (its container runtime's part) and the API server reads them to answer
//! `pods/{name}/log` (the kubelet's part), so both take the layout and the format from here.
//!
//! - **Layout**, as a node keeps them: `<root>/<namespace>_<pod>_<uid>/<container>/<run>.log`,
//!   `run` being the container's `restartCount` when that run started (k8s.io/kubernetes
//!   `pkg/kubelet/kuberuntime/helpers.go`: `BuildPodLogsDirectory`, `logPathDelimiter = "_"`,
//!   `buildContainerLogsPath`: `<restartCount>.log`). A pod re-created under the same name has
//!   another uid, hence its own directory; nothing here removes a deleted pod's logs (a kubelet
//!   does), so a post-mortem finds them.
//! - **Format**, CRI's: one entry per line, `<RFC 3339 time, nanoseconds> <stream> <tag>
//!   <content>`, the tag `F` for a full line (its newline dropped) and `P` for a part of one
//!   (k8s.io/kubernetes `pkg/kubelet/kuberuntime/logs/logs.go`: `parseCRILog`, `timeFormatIn =
//!   time.RFC3339Nano`; k8s.io/cri-api `LogTagPartial = "P"`, `LogTagFull = "F"`). A line longer
//!   than 16 KiB is cut into parts, as containerd cuts them (its CRI plugin's
//!   `max_container_log_line_size`, default 16384), and output that ends without a newline is a
//!   final part.
//!
//! Difference: a container's stdout and stderr reach the runtime through one pipe, so every
//! entry says `stdout` (a node keeps them apart; `kubectl logs` shows both interleaved anyway).

use std::path::{Path, PathBuf};

use jiff::Timestamp;

/// Longest content of one entry; a longer line is cut into `P` entries.
pub const MAX_ENTRY: usize = 16 * 1024;

/// The stream every entry is written with (see the difference above).
const STREAM: &str = "stdout";

/// `<root>/<namespace>_<pod>_<uid>`: one pod's log directory.
pub fn pod_dir(root: &Path, namespace: &str, pod: &str, uid: &str) -> PathBuf {
    root.join(format!("{namespace}_{pod}_{uid}"))
}

/// The log file of run `run` (the restart count it started with) of `container`.
pub fn file(
    root: &Path,
    namespace: &str,
    pod: &str,
    uid: &str,
    container: &str,
    run: i32,
) -> PathBuf {
    pod_dir(root, namespace, pod, uid)
        .join(container)
        .join(format!("{run}.log"))
}

/// One entry of a log file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry<'a> {
    pub time: Timestamp,
    /// `P`: the content continues in the next entry (no newline after it).
    pub partial: bool,
    pub content: &'a [u8],
}

impl Entry<'_> {
    /// What the container wrote: the content, with its newline unless it is a part.
    pub fn output(&self) -> Vec<u8> {
        let mut out = self.content.to_vec();
        if !self.partial {
            out.push(b'\n');
        }
        out
    }
}

/// Parses one line of a log file (without its newline); None when it is not an entry.
pub fn parse(line: &[u8]) -> Option<Entry<'_>> {
    let mut fields = line.splitn(4, |b| *b == b' ');
    let time = std::str::from_utf8(fields.next()?).ok()?.parse().ok()?;
    let _stream = fields.next()?;
    let partial = match fields.next()? {
        b"P" => true,
        b"F" => false,
        _ => return None,
    };
    Some(Entry {
        time,
        partial,
        content: fields.next().unwrap_or_default(),
    })
}

/// One entry as a line of the file, newline included.
pub fn format(time: Timestamp, partial: bool, content: &[u8]) -> Vec<u8> {
    let tag = if partial { "P" } else { "F" };
    let mut line = format!("{time} {STREAM} {tag} ").into_bytes();
    line.extend_from_slice(content);
    line.push(b'\n');
    line
}

/// Turns a container's output, as it arrives, into log file lines: each complete line one `F`
/// entry stamped with the time its end arrived, a line over [`MAX_ENTRY`] cut into `P` entries,
/// and what is left at the end a final `P` entry.
#[derive(Debug, Default)]
pub struct Splitter {
    pending: Vec<u8>,
}

impl Splitter {
    /// The file lines for `bytes` read at `time` (the rest of an unfinished line is kept).
    pub fn push(&mut self, bytes: &[u8], time: Timestamp) -> Vec<u8> {
        let mut out = Vec::new();
        for &b in bytes {
            if b == b'\n' {
                out.extend(format(time, false, &self.pending));
                self.pending.clear();
            } else {
                self.pending.push(b);
                if self.pending.len() == MAX_ENTRY {
                    out.extend(format(time, true, &self.pending));
                    self.pending.clear();
                }
            }
        }
        out
    }

    /// The file line for output that ended without a newline, if any.
    pub fn finish(&mut self, time: Timestamp) -> Vec<u8> {
        if self.pending.is_empty() {
            return Vec::new();
        }
        let line = format(time, true, &self.pending);
        self.pending.clear();
        line
    }
}

/// What a container wrote, from the contents of its log file (lines that are not entries are
/// left out).
pub fn output(file: &[u8]) -> Vec<u8> {
    file.split(|b| *b == b'\n')
        .filter_map(parse)
        .flat_map(|e| e.output())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(nanos: i64) -> Timestamp {
        Timestamp::from_nanosecond(1_800_000_000_000_000_000 + i128::from(nanos)).unwrap()
    }

    #[test]
    fn the_layout_is_the_kubelets() {
        let f = file(
            Path::new("/logs"),
            "default",
            "case01-load-abc",
            "u-1",
            "load",
            2,
        );
        assert_eq!(f, Path::new("/logs/default_case01-load-abc_u-1/load/2.log"));
    }

    #[test]
    fn entries_are_cri_lines_with_go_rfc3339nano_times() {
        // Go's RFC3339Nano drops trailing zeros of the fraction, as this format does.
        assert_eq!(
            format(t(120_000_000), false, b"hello world"),
            b"2027-01-15T08:00:00.12Z stdout F hello world\n"
        );
        assert_eq!(
            format(t(0), true, b"x"),
            b"2027-01-15T08:00:00Z stdout P x\n"
        );
        let line = b"2016-10-06T00:17:09.669794202Z stdout P log content 1";
        let e = parse(line).unwrap();
        assert!(e.partial);
        assert_eq!(e.content, b"log content 1");
        assert_eq!(e.time.to_string(), "2016-10-06T00:17:09.669794202Z");
        assert_eq!(
            parse(b"2016-10-06T00:17:09Z stderr F ").unwrap().content,
            b""
        );
        assert_eq!(parse(b"not a log line"), None);
        assert_eq!(parse(b"2016-10-06T00:17:09Z stdout X x"), None);
    }

    #[test]
    fn output_survives_the_round_trip_whatever_the_chunks() {
        let written: Vec<u8> = [
            b"first line\n".to_vec(),
            vec![b'a'; MAX_ENTRY + 10],
            b"\n\nno newline at the end".to_vec(),
        ]
        .concat();
        for chunk in [1, 7, 4096, written.len()] {
            let mut s = Splitter::default();
            let mut file = Vec::new();
            for (i, part) in written.chunks(chunk).enumerate() {
                file.extend(s.push(part, t(i as i64)));
            }
            file.extend(s.finish(t(-1)));
            assert_eq!(output(&file), written, "chunks of {chunk}");
            let entries: Vec<Entry> = file.split(|b| *b == b'\n').filter_map(parse).collect();
            // The long line is one part of 16 KiB and its full rest; the last line a part.
            let tags: Vec<bool> = entries.iter().map(|e| e.partial).collect();
            assert_eq!(tags, [false, true, false, false, true], "chunks of {chunk}");
            assert_eq!(entries[1].content.len(), MAX_ENTRY);
        }
    }
}
