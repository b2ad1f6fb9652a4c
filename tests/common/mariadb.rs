//! A throwaway MariaDB server for tests: its own data directory (a temp dir), a free loopback
//! port, `root` without a password, `local_infile` on. Tests never depend on the machine's own
//! server. The install command, server flags and handshake check are the local runtime's
//! (`qserv_local::runtime::mariadb`).
//!
//! The server runs under a tiny `sh` supervisor whose stdin is a pipe held by this process.
//! When the handle is dropped, or when the test process ends in any way (a `static` is never
//! dropped; a panic or a kill closes the pipe too), the supervisor reads EOF, stops the server
//! and removes the data directory. So one shared server per test binary is cleaned up without
//! any exit hook.
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use qserv_local::runtime::mariadb;

pub struct MariaDb {
    port: u16,
    dir: PathBuf,
    supervisor: Child,
    /// Closing it tells the supervisor to stop the server.
    lifeline: Option<ChildStdin>,
}

/// How long a server may take to start (InnoDB initialisation on a loaded machine).
const START_TIMEOUT: Duration = Duration::from_secs(120);

const SUPERVISOR: &str = r#"
"$@" </dev/null >>"$DIR/error.log" 2>&1 &
pid=$!
echo "$pid"
cat >/dev/null
kill "$pid" 2>/dev/null
wait "$pid"
rm -rf "$DIR"
"#;

impl MariaDb {
    /// The server shared by every test of this test binary, started on first use.
    pub fn shared() -> &'static MariaDb {
        static SHARED: OnceLock<MariaDb> = OnceLock::new();
        SHARED.get_or_init(MariaDb::start)
    }

    /// A server of its own (stopped and removed on drop).
    pub fn start() -> MariaDb {
        let mut last = String::new();
        // A port found free can be taken by another process before the server binds it.
        for _ in 0..3 {
            match Self::try_start() {
                Ok(server) => return server,
                Err(err) => last = err,
            }
        }
        panic!("MariaDB test server did not start: {last}");
    }

    fn try_start() -> Result<MariaDb, String> {
        let dir = tempfile::Builder::new()
            .prefix("qserv-mariadb-")
            .tempdir()
            .map_err(|e| e.to_string())?
            .keep();
        let data = dir.join("data");
        let tmp = dir.join("tmp");
        std::fs::create_dir_all(&tmp).map_err(|e| e.to_string())?;
        let mut install = mariadb::install_command(&data, &tmp);
        let out = install
            .output()
            .map_err(|e| format!("mariadb-install-db: {e} (is mariadb-server installed?)"))?;
        if !out.status.success() {
            let _ = std::fs::remove_dir_all(&dir);
            return Err(format!(
                "mariadb-install-db failed: {}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            ));
        }
        let port = free_port();
        let mut server = Command::new("sh");
        server
            .arg("-c")
            .arg(SUPERVISOR)
            .arg("mariadb-supervisor")
            .arg(mariadb::mariadbd_path())
            .args(mariadb::server_args(
                &mariadb::ServerPaths {
                    datadir: data.clone(),
                    socket: dir.join("mysqld.sock"),
                    pid_file: dir.join("mariadbd.pid"),
                    tmpdir: dir.clone(),
                },
                port,
            ))
            .env("DIR", &dir)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null());
        let mut supervisor = server.spawn().map_err(|e| format!("sh: {e}"))?;
        let lifeline = supervisor.stdin.take();
        let mut pid = String::new();
        BufReader::new(supervisor.stdout.take().unwrap())
            .read_line(&mut pid)
            .map_err(|e| e.to_string())?;
        let server = MariaDb {
            port,
            dir,
            supervisor,
            lifeline,
        };
        server.wait_ready()?;
        Ok(server)
    }

    /// Waits for the server's handshake packet on its port, or for its error log to say it
    /// gave up.
    fn wait_ready(&self) -> Result<(), String> {
        let deadline = Instant::now() + START_TIMEOUT;
        while Instant::now() < deadline {
            if let Ok(mut stream) = TcpStream::connect(("127.0.0.1", self.port)) {
                stream
                    .set_read_timeout(Some(Duration::from_secs(5)))
                    .map_err(|e| e.to_string())?;
                let mut greeting = [0u8; 5];
                if stream.read_exact(&mut greeting).is_ok() && mariadb::is_greeting(&greeting) {
                    return Ok(());
                }
            }
            let log = self.error_log();
            if log.contains("Aborting") {
                return Err(format!("mariadbd aborted:\n{log}"));
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        Err(format!(
            "mariadbd not ready after {START_TIMEOUT:?}:\n{}",
            self.error_log()
        ))
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// `mysql://root@127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("mysql://root@127.0.0.1:{}", self.port)
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    pub fn error_log(&self) -> String {
        std::fs::read_to_string(self.dir.join("error.log")).unwrap_or_default()
    }
}

impl Drop for MariaDb {
    fn drop(&mut self) {
        drop(self.lifeline.take());
        let _ = self.supervisor.wait();
    }
}

/// A loopback port nobody listens on right now.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free loopback port")
}
