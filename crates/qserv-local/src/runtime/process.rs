//! Child processes of the runtime (`mariadbd`, Job containers) run under a tiny `sh`
//! supervisor whose stdin is a pipe held by the runtime (the "lifeline"). When the lifeline
//! closes — on [`Supervised::stop`], on drop, or when the runtime's process dies in any way —
//! the supervisor sends SIGTERM, waits up to the grace period, then SIGKILL. So no child
//! outlives the runtime, even after a panic or a kill of the test binary.
//!
//! (The lifeline is passed to the watcher subshell as fd 3: a background list's stdin is
//! /dev/null in a non-interactive shell.) The supervisor prints the child's pid, the watcher's
//! (`watcher N`), then `exit N` when the child ends (`N` = 128 + signal for a signal), which is
//! how the runtime learns a process died. [`Supervised::stop`] returns once the child, the
//! supervisor and the watcher are all gone. A supervisor that dies itself (its stdout closes
//! with no `exit N`; only it holds that pipe) takes its process with it: SIGKILL, exit 137, as
//! containerd reports a container whose shim died.
//!
//! The child's stdout and stderr go to one pipe the runtime reads, as a container runtime reads
//! a container's (the supervisor's own messages, such as `Killed`, do not: it lets go of the
//! pipe once the child started): each line is written to the log file as a timestamped CRI entry
//! ([`crate::container_logs`]). The exit code is made known once that pipe is drained (or after
//! [`LOG_DRAIN`], should a grandchild keep it open), so whoever sees a process ended finds its
//! whole output in the file.

use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use std::io::Write as _;

use tokio::io::{AsyncBufReadExt, AsyncReadExt, BufReader};
use tokio::process::{Child, ChildStderr, ChildStdin, Command};
use tokio::sync::{oneshot, watch};

use super::error::{Result, RuntimeError};
use crate::container_logs::Splitter;

/// The longest the exit of a process waits for its output to be in the log file.
pub const LOG_DRAIN: Duration = Duration::from_secs(5);

const SUPERVISOR: &str = r#"
grace=$1; shift 1
exec 3<&0
"$@" </dev/null 3<&- >&2 &
pid=$!
exec 2>/dev/null
echo "$pid"
( cat <&3 >/dev/null
  kill -TERM "$pid" 2>/dev/null
  i=0
  while kill -0 "$pid" 2>/dev/null && [ "$i" -lt "$grace" ]; do sleep 0.1; i=$((i+1)); done
  kill -KILL "$pid" 2>/dev/null ) >/dev/null 2>&1 &
echo "watcher $!"
wait "$pid"
echo "exit $?"
"#;

/// What to run.
#[derive(Debug, Clone)]
pub struct ProcessSpec {
    pub program: PathBuf,
    pub args: Vec<String>,
    /// Added to (and overriding) the runtime's own environment.
    pub env: Vec<(String, String)>,
    pub cwd: Option<PathBuf>,
    /// stdout and stderr are appended here, as CRI log entries ([`crate::container_logs`]).
    pub log: PathBuf,
    /// Time between SIGTERM and SIGKILL.
    pub grace: Duration,
}

/// A running (or ended) supervised process.
pub struct Supervised {
    pid: u32,
    /// The watcher subshell, which outlives the supervisor by up to one poll after a stop.
    watcher: Option<u32>,
    lifeline: Option<ChildStdin>,
    exit: watch::Receiver<Option<i32>>,
    supervisor: Child,
}

impl Supervised {
    pub async fn spawn(spec: &ProcessSpec) -> Result<Supervised> {
        let what = || match &spec.cwd {
            Some(cwd) => format!("{} (in {})", spec.program.display(), cwd.display()),
            None => spec.program.display().to_string(),
        };
        if let Some(dir) = spec.log.parent() {
            std::fs::create_dir_all(dir).map_err(|e| RuntimeError::io(dir, e))?;
        }
        let tenths = (spec.grace.as_millis() / 100).max(1);
        let mut cmd = Command::new("sh");
        cmd.arg("-c")
            .arg(SUPERVISOR)
            .arg("qserv-local-supervisor")
            .arg(tenths.to_string())
            .arg(&spec.program)
            .args(&spec.args)
            .envs(spec.env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            // Its own process group: a Ctrl-C in the terminal reaches only the runtime, which
            // then stops its children in order.
            .process_group(0)
            .kill_on_drop(false);
        if let Some(cwd) = &spec.cwd {
            cmd.current_dir(cwd);
        }
        let mut supervisor = cmd.spawn().map_err(|source| RuntimeError::Spawn {
            what: what(),
            source,
        })?;
        let lifeline = supervisor.stdin.take();
        let stdout = supervisor.stdout.take().expect("stdout is piped");
        let output = supervisor.stderr.take().expect("stderr is piped");
        let (drained, log_drained) = oneshot::channel();
        tokio::spawn(write_log(output, spec.log.clone(), drained));
        let mut lines = BufReader::new(stdout).lines();
        let pid = match lines.next_line().await {
            Ok(Some(line)) => line.trim().parse::<u32>().ok(),
            _ => None,
        }
        .ok_or_else(|| RuntimeError::Spawn {
            what: what(),
            source: std::io::Error::other("the supervisor printed no pid"),
        })?;
        let watcher = match lines.next_line().await {
            Ok(Some(line)) => line
                .strip_prefix("watcher ")
                .and_then(|p| p.trim().parse::<u32>().ok()),
            _ => None,
        };
        let (tx, exit) = watch::channel(None);
        tokio::spawn(async move {
            let code = loop {
                match lines.next_line().await {
                    Ok(Some(line)) => {
                        if let Some(code) = line.strip_prefix("exit ") {
                            break code.trim().parse().unwrap_or(-1);
                        }
                    }
                    // The supervisor died without reporting (it was killed). As containerd does
                    // when a container's shim dies (core/runtime/v2/shim.go,
                    // `cleanupAfterDeadShim`: the shim's `delete` kills the container and
                    // reports `128 + SIGKILL`), the process it ran is killed and ends with 137:
                    // it never runs on unsupervised.
                    _ => {
                        for orphan in [Some(pid), watcher].into_iter().flatten() {
                            let _ = send_signal(orphan, rustix::process::Signal::KILL);
                        }
                        break 128 + 9;
                    }
                }
            };
            let _ = tokio::time::timeout(LOG_DRAIN, log_drained).await;
            let _ = tx.send(Some(code));
        });
        Ok(Supervised {
            pid,
            watcher,
            lifeline,
            exit,
            supervisor,
        })
    }

    pub fn pid(&self) -> u32 {
        self.pid
    }

    /// The exit code once the process ended (128 + signal when killed by one).
    pub fn exit_code(&self) -> Option<i32> {
        *self.exit.borrow()
    }

    /// Waits until the process ends; its exit code.
    pub async fn wait(&mut self) -> i32 {
        let mut exit = self.exit.clone();
        match exit.wait_for(Option::is_some).await {
            Ok(code) => code.unwrap_or(-1),
            Err(_) => -1,
        }
    }

    /// Sends `signal` to the process itself (fault injection).
    pub fn signal(&self, signal: rustix::process::Signal) -> std::io::Result<()> {
        send_signal(self.pid, signal)
    }

    /// SIGTERM, then SIGKILL after the grace period; waits for the end of the process and of
    /// its supervisor and watcher. The exit code.
    pub async fn stop(mut self) -> i32 {
        drop(self.lifeline.take());
        let code = self.wait().await;
        let _ = self.supervisor.wait().await;
        // The watcher polls every 0.1 s: once the process is gone it ends at its next poll.
        if let Some(watcher) = self.watcher {
            let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
            while is_alive(watcher) && tokio::time::Instant::now() < deadline {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }
        code
    }
}

impl Drop for Supervised {
    fn drop(&mut self) {
        // Closing the lifeline makes the supervisor stop the process, even after we are gone.
        drop(self.lifeline.take());
    }
}

/// Copies a process's output into its log file as CRI entries until the pipe closes, then says
/// so. Output that cannot be written is still read, so the process never blocks on it.
async fn write_log(mut output: ChildStderr, log: PathBuf, drained: oneshot::Sender<()>) {
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&log)
        .map_err(|e| tracing::warn!(log = %log.display(), %e, "container log not written"))
        .ok();
    let mut lines = Splitter::default();
    let mut buf = vec![0u8; 8192];
    loop {
        let n = match output.read(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        let entries = lines.push(&buf[..n], jiff::Timestamp::now());
        write_entries(&mut file, &log, &entries);
    }
    let rest = lines.finish(jiff::Timestamp::now());
    write_entries(&mut file, &log, &rest);
    let _ = drained.send(());
}

fn write_entries(file: &mut Option<std::fs::File>, log: &std::path::Path, entries: &[u8]) {
    if entries.is_empty() {
        return;
    }
    if let Some(f) = file
        && let Err(e) = f.write_all(entries)
    {
        tracing::warn!(log = %log.display(), %e, "container log not written");
        *file = None;
    }
}

pub fn send_signal(pid: u32, signal: rustix::process::Signal) -> std::io::Result<()> {
    let pid = rustix::process::Pid::from_raw(pid as i32)
        .ok_or_else(|| std::io::Error::other(format!("invalid pid {pid}")))?;
    rustix::process::kill_process(pid, signal).map_err(std::io::Error::from)
}

/// Whether a process with this pid exists (and is not a zombie).
pub fn is_alive(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        // Field 3, after the parenthesised command name, is the state; Z is a zombie.
        Ok(stat) => stat
            .rsplit_once(')')
            .and_then(|(_, rest)| rest.split_whitespace().next())
            .is_some_and(|state| state != "Z" && state != "X"),
        Err(_) => false,
    }
}

/// Stops pids synchronously, for drop guards: SIGTERM, up to `grace`, then SIGKILL.
pub fn terminate_blocking(pids: &[u32], grace: Duration) {
    use rustix::process::Signal;
    for &pid in pids {
        let _ = send_signal(pid, Signal::TERM);
    }
    let deadline = std::time::Instant::now() + grace;
    while std::time::Instant::now() < deadline && pids.iter().any(|&p| is_alive(p)) {
        std::thread::sleep(Duration::from_millis(50));
    }
    for &pid in pids.iter().filter(|&&p| is_alive(p)) {
        let _ = send_signal(pid, Signal::KILL);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(dir: &std::path::Path, script: &str) -> ProcessSpec {
        ProcessSpec {
            program: "sh".into(),
            args: vec!["-c".into(), script.into()],
            env: vec![("GREETING".into(), "hello".into())],
            cwd: Some(dir.to_path_buf()),
            log: dir.join("logs/out.log"),
            grace: Duration::from_secs(2),
        }
    }

    #[tokio::test]
    async fn exit_code_env_and_log_are_reported() {
        let dir = tempfile::tempdir().unwrap();
        let mut p = Supervised::spawn(&spec(dir.path(), "echo $GREETING; exit 3"))
            .await
            .unwrap();
        assert_eq!(p.wait().await, 3);
        let log = std::fs::read(dir.path().join("logs/out.log")).unwrap();
        assert_eq!(crate::container_logs::output(&log), b"hello\n");
    }

    /// Once the exit is known, the file holds everything the process wrote, both streams, the
    /// unfinished last line as a part.
    #[tokio::test]
    async fn the_whole_output_is_in_the_log_when_the_exit_is_known() {
        let dir = tempfile::tempdir().unwrap();
        let script = "i=0; while [ $i -lt 500 ]; do echo \"line $i\"; i=$((i+1)); done; \
                      echo oops >&2; printf 'no newline'";
        let mut p = Supervised::spawn(&spec(dir.path(), script)).await.unwrap();
        assert_eq!(p.wait().await, 0);
        let log = std::fs::read(dir.path().join("logs/out.log")).unwrap();
        let expected: String = (0..500).map(|i| format!("line {i}\n")).collect();
        assert_eq!(
            String::from_utf8(crate::container_logs::output(&log)).unwrap(),
            format!("{expected}oops\nno newline")
        );
        let last = log.split(|b| *b == b'\n').rfind(|l| !l.is_empty()).unwrap();
        let last = crate::container_logs::parse(last).unwrap();
        assert!(last.partial);
    }

    #[tokio::test]
    async fn stop_terminates_and_kill_is_seen_as_signal_exit() {
        let dir = tempfile::tempdir().unwrap();
        let p = Supervised::spawn(&spec(dir.path(), "exec sleep 60"))
            .await
            .unwrap();
        let pid = p.pid();
        // Still running a moment later: the lifeline holds while we hold it.
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert_eq!(p.exit_code(), None);
        assert!(is_alive(pid));
        let watcher = p.watcher.expect("the supervisor names its watcher");
        assert!(is_alive(watcher));
        assert_eq!(p.stop().await, 128 + 15);
        assert!(!is_alive(pid));
        assert!(!is_alive(watcher), "the watcher outlived stop()");

        let mut p = Supervised::spawn(&spec(dir.path(), "exec sleep 60"))
            .await
            .unwrap();
        p.signal(rustix::process::Signal::KILL).unwrap();
        assert_eq!(p.wait().await, 128 + 9);
    }

    #[tokio::test]
    async fn a_killed_supervisor_ends_its_process_with_137() {
        let dir = tempfile::tempdir().unwrap();
        let mut p = Supervised::spawn(&spec(dir.path(), "exec sleep 60"))
            .await
            .unwrap();
        let (pid, watcher) = (p.pid(), p.watcher.unwrap());
        let supervisor = p.supervisor.id().unwrap();
        send_signal(supervisor, rustix::process::Signal::KILL).unwrap();
        assert_eq!(p.wait().await, 128 + 9, "as containerd reports a lost shim");
        let deadline = std::time::Instant::now() + Duration::from_secs(30);
        while (is_alive(pid) || is_alive(watcher)) && std::time::Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        assert!(!is_alive(pid), "the process outlived its supervisor");
        assert!(!is_alive(watcher), "the watcher outlived its supervisor");
    }
}
