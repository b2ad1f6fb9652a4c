//! `qserv-operator demo` (the README's first command) end to end on this machine: local mode,
//! the example QservCluster, the example CatalogIngests read from the `catalogs` volume, their
//! final status as printed; then the printed commands work while it keeps running, and Ctrl-C
//! stops it with no process left behind.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use qserv_local::runtime::process::send_signal;
use rustix::process::Signal;

const BIN: &str = env!("CARGO_BIN_EXE_qserv-operator");

/// Only a guard against a hang (the demo takes about a minute on a quiet machine).
const PATIENCE: Duration = Duration::from_secs(900);

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// `[TABLE, rows read, rows loaded, chunks, overlap rows, files, warnings, seconds]` of `table`
/// in the final status of `ingest` (the lines after its `== CatalogIngest <ingest>:` header).
fn table_row<'a>(out: &'a str, ingest: &str, table: &str) -> Vec<&'a str> {
    section(out, ingest)
        .iter()
        .map(|l| l.split_whitespace().collect::<Vec<_>>())
        .find(|w| w.first() == Some(&table))
        .unwrap_or_else(|| panic!("no row of {table} for {ingest}:\n{out}"))
}

/// The lines of `ingest`'s final status: its header, then the indented lines below.
fn section<'a>(out: &'a str, ingest: &str) -> Vec<&'a str> {
    let header = format!("== CatalogIngest {ingest}: ");
    let mut lines = out.lines().skip_while(|l| !l.starts_with(&header));
    let first = lines
        .next()
        .unwrap_or_else(|| panic!("no final status of {ingest}:\n{out}"));
    std::iter::once(first)
        .chain(lines.take_while(|l| l.starts_with("  ")))
        .collect()
}

/// `(passed, failed, skipped)` from `  checks: P passed, F failed, S skipped`.
fn checks(out: &str, ingest: &str) -> (u32, u32, u32) {
    let line = section(out, ingest)
        .into_iter()
        .find(|l| l.trim_start().starts_with("checks: "))
        .unwrap_or_else(|| panic!("no checks line for {ingest}:\n{out}"));
    let n: Vec<u32> = line
        .split(|c: char| !c.is_ascii_digit())
        .filter(|s| !s.is_empty())
        .map(|s| s.parse().unwrap())
        .collect();
    (n[0], n[1], n[2])
}

/// Processes whose command line mentions `dir` (mariadbd's data dirs, Job processes' paths).
fn processes_under(dir: &Path) -> Vec<String> {
    let needle = dir.display().to_string();
    std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().parse::<u32>().is_ok())
        .filter_map(|e| {
            let cmd = std::fs::read(e.path().join("cmdline")).ok()?;
            let cmd = String::from_utf8_lossy(&cmd).replace('\0', " ");
            cmd.contains(&needle)
                .then(|| format!("{}: {cmd}", e.file_name().to_string_lossy()))
        })
        .collect()
}

/// The demo while it runs; stopped with Ctrl-C (SIGINT) when the test ends, even by a panic,
/// so a failed assertion never leaves its MariaDB servers behind.
struct Running(Child);

impl Running {
    fn stop(&mut self) -> ExitStatus {
        if let Ok(Some(status)) = self.0.try_wait() {
            return status;
        }
        let _ = send_signal(self.0.id(), Signal::INT);
        self.0.wait().expect("the demo exits")
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        self.stop();
    }
}

#[test]
fn demo_ingests_the_examples_prints_their_status_and_stops_cleanly() {
    let work = tempfile::Builder::new()
        .prefix("qserv-demo-")
        .tempdir()
        .unwrap();
    let mut cmd = Command::new(BIN);
    cmd.current_dir(root())
        .args(["demo", "--keep-running", "--data"])
        .arg(root().join("../shared/data"))
        .arg("--work-dir")
        .arg(work.path());
    let mut demo = Running(
        cmd.stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap(),
    );
    let (tx, rx) = mpsc::channel();
    let stdout = demo.0.stdout.take().unwrap();
    let reader = std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            let _ = tx.send(line);
        }
    });
    // Drained as it comes, so a chatty stderr never blocks the demo.
    let stderr = demo.0.stderr.take().unwrap();
    let errors = std::thread::spawn(move || std::io::read_to_string(stderr).unwrap_or_default());

    // Up to the point where it keeps running.
    let mut out = String::new();
    loop {
        let line = match rx.recv_timeout(PATIENCE) {
            Ok(line) => line,
            Err(e) => {
                demo.stop();
                let err = errors.join().unwrap();
                panic!("demo stopped or hung ({e}):\n{out}\nstderr:\n{err}");
            }
        };
        out.push_str(&line);
        out.push('\n');
        if line.starts_with("== Everything keeps running") {
            break;
        }
    }

    // The volume the examples claim, Bound, shown by kubectl.
    let bound = out
        .lines()
        .find(|l| l.starts_with("persistentvolumeclaim/catalogs"))
        .unwrap_or_else(|| panic!("{out}"));
    assert_eq!(bound.split_whitespace().nth(1), Some("Bound"), "{out}");
    assert!(
        out.contains("qservcluster.qserv.in2p3.fr/qserv-ci serverside-applied"),
        "{out}"
    );
    assert!(
        out.contains("QservCluster qserv-ci: Ready: czar 1/1, workers 2/2"),
        "{out}"
    );

    // The final status: Succeeded, the Clusters tables with their rows, every check passed.
    let header = section(&out, "macs2243")[0];
    assert!(
        header.starts_with("== CatalogIngest macs2243: Succeeded"),
        "{out}"
    );
    for (table, rows) in [
        ("deepCoadd_meas", "6395"),
        ("deepCoadd_forced_src", "6395"),
        ("forced_src", "1961"),
    ] {
        let row = table_row(&out, "macs2243", table);
        assert_eq!(row[1], rows, "rows read of {table}: {out}");
        assert_eq!(row[2], rows, "rows loaded of {table}: {out}");
        let chunks: u32 = row[3].parse().unwrap();
        assert!(chunks > 0, "{table} has chunks: {out}");
        // Every table reads the one HDF5 file.
        assert_eq!(row[5], "1", "files of {table}: {out}");
    }
    let (passed, failed, skipped) = checks(&out, "macs2243");
    // 3 built-in checks per director table and the example's 4.
    assert_eq!((passed, failed, skipped), (9 + 4, 0, 0), "{out}");

    // case01: Object and Source partitioned, the regular tables replicated; checks that need
    // Qserv-only functions (or that qserv_testdata marks FIXME) are skipped, none failed.
    let header = section(&out, "case01")[0];
    assert!(
        header.starts_with("== CatalogIngest case01: Succeeded"),
        "{out}"
    );
    for (table, rows) in [("Object", "88"), ("Source", "3339"), ("Filter", "9")] {
        let row = table_row(&out, "case01", table);
        assert_eq!(
            (row[1], row[2], row[5]),
            (rows, rows, "1"),
            "{table}: {out}"
        );
    }
    let (passed, failed, skipped) = checks(&out, "case01");
    assert_eq!(failed, 0, "{out}");
    assert!(passed > 0 && skipped > 0, "{out}");
    // `kubectl get qsc,cing` of the final status (not the apply's echo).
    let cing = out
        .lines()
        .find(|l| {
            l.starts_with("catalogingest.qserv.in2p3.fr/macs2243") && l.contains(" qserv-ci ")
        })
        .unwrap_or_else(|| panic!("{out}"));
    assert!(
        cing.contains("Succeeded") && cing.contains("13/13"),
        "{cing}"
    );

    // The printed commands work while it runs.
    let kubeconfig = out
        .lines()
        .find_map(|l| l.trim().strip_prefix("export KUBECONFIG="))
        .unwrap_or_else(|| panic!("{out}"));
    for shown in [
        "kubectl get qsc,cing,jobs,pods",
        "kubectl describe cing macs2243",
    ] {
        assert!(out.contains(shown), "{out}");
    }
    let phase = Command::new("kubectl")
        .env("KUBECONFIG", kubeconfig)
        .args(["get", "cing", "macs2243", "-o", "jsonpath={.status.phase}"])
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&phase.stdout), "Succeeded");
    // As a user pastes them into a shell: the qsmaster password from the Secret, then the query.
    let printed_line = |prefix: &str| {
        out.lines()
            .map(str::trim)
            .find(|l| l.starts_with(prefix))
            .unwrap_or_else(|| panic!("no line starting {prefix:?}: {out}"))
            .to_string()
    };
    let setup = printed_line("QSMASTER=$(kubectl get secret ");
    let query = printed_line("qserv-operator query ");
    let bin_dir = std::path::Path::new(BIN).parent().unwrap();
    let path = format!("{}:{}", bin_dir.display(), std::env::var("PATH").unwrap());
    let result = Command::new("bash")
        .args(["-euo", "pipefail", "-c"])
        .arg(format!("{setup}\n{query} --format csv"))
        .env("KUBECONFIG", kubeconfig)
        .env("PATH", path)
        .output()
        .unwrap();
    let printed = String::from_utf8_lossy(&result.stdout);
    assert!(
        result.status.success(),
        "{query}: {printed}{}",
        String::from_utf8_lossy(&result.stderr)
    );
    assert_eq!(printed.lines().last(), Some("6395"), "{query}: {printed}");

    // Ctrl-C: it stops, and every process it started with it.
    let status = demo.stop();
    reader.join().unwrap();
    for line in rx.try_iter() {
        out.push_str(&line);
        out.push('\n');
    }
    let err = errors.join().unwrap();
    assert!(status.success(), "{status}: {out}\nstderr:\n{err}");
    assert!(out.contains("== Stopped"), "{out}");
    assert_eq!(processes_under(work.path()), Vec::<String>::new());
}

#[test]
fn demo_names_the_missing_data_before_starting_anything() {
    let work = tempfile::tempdir().unwrap();
    let data = tempfile::tempdir().unwrap();
    std::fs::create_dir(data.path().join("clusters")).unwrap();
    let out = Command::new(BIN)
        .current_dir(root())
        .args(["demo", "--data"])
        .arg(data.path())
        .arg("--work-dir")
        .arg(work.path())
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    // case01 reads qserv_testdata/case01/data from the volume; this data dir has no such thing.
    assert!(
        err.contains("examples/catalogingest-case01.yaml: spec.source.pvc subPath")
            && err.contains("qserv_testdata/case01"),
        "{err}"
    );
    assert!(String::from_utf8_lossy(&out.stdout).is_empty());
    assert_eq!(
        std::fs::read_dir(work.path()).unwrap().count(),
        0,
        "nothing started"
    );

    // A work dir with someone's files is never emptied.
    std::fs::write(work.path().join("notes.txt"), "mine").unwrap();
    let out = Command::new(BIN)
        .current_dir(root())
        .args(["demo", "--ingest", "macs2243", "--work-dir"])
        .arg(work.path())
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("not empty and not made by an earlier demo"),
        "{err}"
    );
    assert!(work.path().join("notes.txt").is_file());
}
