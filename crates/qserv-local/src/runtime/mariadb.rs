//! How local mode runs Debian's `mariadbd` in place of the `ghcr.io/lsst/qserv-mariadb` image: the
//! data directory is initialised once with `mariadb-install-db`, the server listens on a
//! loopback port only, and on first start an init file sets what the image's entrypoint and
//! Qserv's smig init would: `root` with `MYSQL_ROOT_PASSWORD` (from any host, so TCP from
//! 127.0.0.1 works), and the accounts the pod's image and Qserv's migrations create
//! (`kubelet/logins.rs`).
//!
//! The pure helpers (`install_command`, `server_args`, `is_greeting`) are shared with the test
//! harness in `tests/common/mariadb.rs`.

use futures::future::BoxFuture;
use std::path::{Path, PathBuf};
use std::time::Duration;

use tokio::io::AsyncReadExt;

use super::error::{Result, RuntimeError};
use super::process::{ProcessSpec, Supervised};

/// Written into the data directory once the init file has run, so a restart keeps the
/// passwords and users as they are (as the image's entrypoint does with a non-empty datadir).
const INITIALISED_MARKER: &str = "qserv-local-initialised";

/// Debian puts the server in /usr/sbin, which is not on every PATH.
pub fn mariadbd_path() -> &'static str {
    if Path::new("/usr/sbin/mariadbd").exists() {
        "/usr/sbin/mariadbd"
    } else {
        "mariadbd"
    }
}

/// mariadbd refuses to run as root without `--user=root`.
pub fn running_as_root() -> bool {
    rustix::process::geteuid().is_root()
}

/// `mariadb-install-db` for an empty `datadir`: root without password (normal auth, no
/// unix_socket plugin), no test database. Its bootstrap server's temporary tables go to
/// `tmpdir`, not the shared `/tmp` (where concurrent installs were seen to trip over each other).
pub fn install_command(datadir: &Path, tmpdir: &Path) -> std::process::Command {
    let mut cmd = std::process::Command::new("mariadb-install-db");
    cmd.args([
        "--no-defaults".to_string(),
        format!("--datadir={}", datadir.display()),
        format!("--tmpdir={}", tmpdir.display()),
        "--auth-root-authentication-method=normal".into(),
        "--skip-test-db".into(),
    ]);
    if running_as_root() {
        cmd.arg("--user=root");
    }
    cmd
}

/// Where one server keeps its files.
#[derive(Debug, Clone)]
pub struct ServerPaths {
    pub datadir: PathBuf,
    /// Unix sockets are limited to ~107 bytes: keep this path short.
    pub socket: PathBuf,
    pub pid_file: PathBuf,
    pub tmpdir: PathBuf,
}

/// Arguments of `mariadbd` (without the program): loopback only, `LOCAL INFILE` allowed, sized
/// for many small servers on one machine rather than for production.
pub fn server_args(paths: &ServerPaths, port: u16) -> Vec<String> {
    let mut args = vec![
        "--no-defaults".to_string(),
        format!("--datadir={}", paths.datadir.display()),
        format!("--socket={}", paths.socket.display()),
        format!("--pid-file={}", paths.pid_file.display()),
        format!("--tmpdir={}", paths.tmpdir.display()),
        format!("--port={port}"),
        "--bind-address=127.0.0.1".into(),
        "--local-infile=1".into(),
        "--skip-log-bin".into(),
        "--max-allowed-packet=64M".into(),
        "--innodb-buffer-pool-size=64M".into(),
        "--innodb-flush-log-at-trx-commit=2".into(),
        "--key-buffer-size=32M".into(),
    ];
    if running_as_root() {
        args.push("--user=root".into());
    }
    args
}

/// Whether `bytes` start a MariaDB initial handshake (byte 4 is the protocol version, 10).
pub fn is_greeting(bytes: &[u8]) -> bool {
    bytes.len() >= 5 && bytes[4] == 10
}

/// Whether the server answers its handshake on its unix socket. The socket, not the TCP
/// port: on a shared machine another process may take the port between our choice and the
/// server's bind, and would then answer a TCP probe; our server creates its socket only
/// after binding its TCP port.
pub async fn answers(socket: &Path) -> bool {
    let attempt = async {
        let mut stream = tokio::net::UnixStream::connect(socket).await.ok()?;
        let mut greeting = [0u8; 5];
        stream.read_exact(&mut greeting).await.ok()?;
        Some(is_greeting(&greeting))
    };
    matches!(
        tokio::time::timeout(Duration::from_secs(2), attempt).await,
        Ok(Some(true))
    )
}

/// SQL run once at the first start (one statement per line, as `--init-file` wants).
/// `accounts` are further statements (the pod's own users, see `kubelet/logins.rs`).
pub fn init_sql(root_password: &str, accounts: &[String]) -> String {
    let pw = sql_string(root_password);
    let mut lines = vec![
        // Anonymous accounts would shadow user@% for connections from localhost.
        "DELETE FROM mysql.global_priv WHERE User='';".to_string(),
        "FLUSH PRIVILEGES;".into(),
        format!("ALTER USER 'root'@'localhost' IDENTIFIED BY {pw};"),
        format!("CREATE USER IF NOT EXISTS 'root'@'%' IDENTIFIED BY {pw};"),
        "GRANT ALL PRIVILEGES ON *.* TO 'root'@'%' WITH GRANT OPTION;".into(),
    ];
    lines.extend(accounts.iter().cloned());
    lines.push("FLUSH PRIVILEGES;".into());
    lines.join("\n") + "\n"
}

fn sql_string(s: &str) -> String {
    let escaped = s.replace('\\', "\\\\").replace('\'', "\\'");
    format!("'{escaped}'")
}

/// One MariaDB server of a pod.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// Names the pod and container in errors.
    pub what: String,
    /// Persistent: the data directory lives in `<volume>/mysql`.
    pub datadir: PathBuf,
    /// Scratch: socket, pid file, tmpdir, the init file.
    pub run_dir: PathBuf,
    pub port: u16,
    pub root_password: String,
    /// Statements creating the pod's other accounts, run with the root setup at first start.
    pub accounts: Vec<String>,
    pub log: PathBuf,
    pub grace: Duration,
}

/// A started server.
pub struct Server {
    pub process: Supervised,
    /// Its unix socket, for [`answers`].
    pub socket: PathBuf,
}

/// Initialises the data directory when needed and starts `mariadbd`; does not wait for it.
pub fn start<'a>(cfg: &'a ServerConfig) -> BoxFuture<'a, Result<Server>> {
    Box::pin(start_unboxed(cfg))
}

async fn start_unboxed(cfg: &ServerConfig) -> Result<Server> {
    std::fs::create_dir_all(&cfg.run_dir).map_err(|e| RuntimeError::io(&cfg.run_dir, e))?;
    if !cfg.datadir.join("mysql").is_dir() {
        install(cfg).await?;
    }
    let paths = ServerPaths {
        datadir: cfg.datadir.clone(),
        socket: short_socket_path(&cfg.run_dir),
        pid_file: cfg.run_dir.join("mariadbd.pid"),
        tmpdir: cfg.run_dir.clone(),
    };
    let mut args = server_args(&paths, cfg.port);
    if !cfg.datadir.join(INITIALISED_MARKER).exists() {
        let init = cfg.run_dir.join("init.sql");
        std::fs::write(&init, init_sql(&cfg.root_password, &cfg.accounts))
            .map_err(|e| RuntimeError::io(&init, e))?;
        args.push(format!("--init-file={}", init.display()));
    }
    let process = Supervised::spawn(&ProcessSpec {
        program: mariadbd_path().into(),
        args,
        env: Vec::new(),
        cwd: Some(cfg.run_dir.clone()),
        log: cfg.log.clone(),
        grace: cfg.grace,
    })
    .await?;
    Ok(Server {
        process,
        socket: paths.socket,
    })
}

/// Runs `mariadb-install-db` into a sibling directory renamed onto the data directory when it
/// succeeded: a run stopped half-way (operator killed) never leaves a data directory that
/// looks installed but lacks system tables.
async fn install(cfg: &ServerConfig) -> Result<()> {
    let err = |reason: String| RuntimeError::MariaDb {
        what: cfg.what.clone(),
        reason,
    };
    let staging = cfg.datadir.with_extension("installing");
    if staging.exists() {
        std::fs::remove_dir_all(&staging).map_err(|e| RuntimeError::io(&staging, e))?;
    }
    std::fs::create_dir_all(&staging).map_err(|e| RuntimeError::io(&staging, e))?;
    let out = tokio::process::Command::from(install_command(&staging, &cfg.run_dir))
        .output()
        .await
        .map_err(|e| {
            err(format!(
                "mariadb-install-db: {e} (is mariadb-server installed?)"
            ))
        })?;
    if !out.status.success() {
        return Err(err(format!(
            "mariadb-install-db failed: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )));
    }
    // An empty data directory (a fresh volume's mount point) gives way; one with files is
    // refused rather than replaced.
    if cfg.datadir.exists() {
        std::fs::remove_dir(&cfg.datadir).map_err(|e| {
            err(format!(
                "{} holds files but no MariaDB system tables: {e}",
                cfg.datadir.display()
            ))
        })?;
    }
    std::fs::rename(&staging, &cfg.datadir).map_err(|e| RuntimeError::io(&cfg.datadir, e))
}

/// Records that the init file ran (call once the server answers: the init file runs before
/// the server listens).
pub fn mark_initialised(datadir: &Path) {
    if let Err(e) = std::fs::write(datadir.join(INITIALISED_MARKER), b"") {
        tracing::warn!(%e, datadir = %datadir.display(), "cannot mark the data directory initialised");
    }
}

/// The socket in the run directory, or under the system temp dir when that path is too long
/// for a unix socket.
fn short_socket_path(run_dir: &Path) -> PathBuf {
    let socket = run_dir.join("mysqld.sock");
    if socket.as_os_str().len() < 100 {
        return socket;
    }
    let unique = uuid::Uuid::new_v4().simple().to_string();
    std::env::temp_dir().join(format!("qserv-local-{}.sock", &unique[..12]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_are_quoted_for_sql() {
        assert_eq!(sql_string(r"a'b\c"), r"'a\'b\\c'");
        let sql = init_sql("s3cret", &["CREATE USER x;".into()]);
        assert!(sql.contains("CREATE USER IF NOT EXISTS 'root'@'%' IDENTIFIED BY 's3cret';"));
        assert!(
            sql.contains("\nCREATE USER x;\nFLUSH PRIVILEGES;\n"),
            "{sql}"
        );
        assert!(sql.lines().all(|l| l.ends_with(';')), "{sql}");
    }

    #[test]
    fn greeting_needs_protocol_10_at_byte_4() {
        assert!(is_greeting(&[0x5a, 0, 0, 0, 10]));
        assert!(!is_greeting(&[0x5a, 0, 0, 0, 9]));
        assert!(!is_greeting(&[0x5a, 0]));
    }
}
