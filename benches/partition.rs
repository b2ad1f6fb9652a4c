//! Partitioning throughput and memory: `cargo bench --bench partition [-- ROWS]`.
//!
//! Generates ROWS (default 1 000 000) rows uniform on the sphere, each an id and ~20 numeric
//! fields, then runs the real `qserv-operator partition` binary with layouts 85/12 and 340/3
//! (overlap 0.01667) at -j 1 and -j 2, and prints rows/s, MB/s, peak RSS and the ratio to
//! sph-partition's ~0.4 M rows/s with one worker on this kind of machine. Asserts nothing.
//!
//! Input and output go to `QSERV_BENCH_DIR`, else `/dev/shm` when it exists: a full-sky run
//! creates one file per chunk (~18k at 85/12, ~290k at 340/3), and on this machine's ext4 disk
//! creating a file costs ~0.5 ms, which would measure the disk rather than the partitioner.

use std::io::{BufWriter, Write};
use std::process::Command;
use std::time::Instant;

/// sph-partition's throughput with one worker here (the anchor), rows/s.
const SPH_PARTITION_ROWS_PER_S: f64 = 400_000.0;

fn main() {
    let rows: u64 = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(1_000_000);
    let base = std::env::var_os("QSERV_BENCH_DIR")
        .map(std::path::PathBuf::from)
        .or_else(|| Some(std::path::PathBuf::from("/dev/shm")).filter(|p| p.is_dir()))
        .unwrap_or_else(std::env::temp_dir);
    let dir = tempfile::tempdir_in(&base).expect("temp dir");
    let input = dir.path().join("bench.csv");
    let bytes = generate(&input, rows);
    let fields: Vec<String> = (0..22).map(|i| format!("f{i}")).collect();
    let config = dir.path().join("bench.json");
    let json = serde_json::json!({
        "part": {"pos": "f1, f2", "overlap": 0.01667},
        "in": {"csv": {"field": fields, "delimiter": ","}},
        "out": {"csv": {"delimiter": ","}}
    });
    std::fs::write(&config, json.to_string()).expect("config");
    println!(
        "input: {rows} rows, {:.1} MB, {} fields per row, in {}",
        bytes as f64 / 1e6,
        fields.len(),
        base.display()
    );
    println!(
        "{:<8} {:>3} {:>10} {:>14} {:>8} {:>10} {:>10}",
        "layout", "-j", "seconds", "rows/s", "MB/s", "peak MiB", "vs sph"
    );
    for (stripes, subs) in [(85, 12), (340, 3)] {
        for jobs in [1, 2] {
            let out = dir.path().join(format!("out-{stripes}-{jobs}"));
            let started = Instant::now();
            let output = Command::new(env!("CARGO_BIN_EXE_qserv-operator"))
                .arg("partition")
                .args(["--config-file".as_ref(), config.as_os_str()])
                .args(["--in".as_ref(), input.as_os_str()])
                .args(["--out-dir".as_ref(), out.as_os_str()])
                .args(["-j", &jobs.to_string()])
                .args([
                    "--part.num-stripes",
                    &stripes.to_string(),
                    "--part.num-sub-stripes",
                    &subs.to_string(),
                ])
                .output()
                .expect("run qserv-operator partition");
            let secs = started.elapsed().as_secs_f64();
            let stdout = String::from_utf8_lossy(&output.stdout);
            assert!(
                output.status.success(),
                "{stdout}{}",
                String::from_utf8_lossy(&output.stderr)
            );
            let peak = stdout
                .rsplit("peak RSS ")
                .next()
                .and_then(|s| s.split_whitespace().next())
                .unwrap_or("?");
            let rate = rows as f64 / secs;
            println!(
                "{:<8} {:>3} {:>10.2} {:>14.0} {:>8.0} {:>10} {:>9.2}x",
                format!("{stripes}/{subs}"),
                jobs,
                secs,
                rate,
                bytes as f64 / 1e6 / secs,
                peak,
                rate / SPH_PARTITION_ROWS_PER_S
            );
            std::fs::remove_dir_all(&out).expect("clean up");
        }
    }
}

/// Writes `rows` rows: id, ra, dec (uniform on the sphere), 19 more numbers.
fn generate(path: &std::path::Path, rows: u64) -> u64 {
    let mut out = BufWriter::new(std::fs::File::create(path).expect("create input"));
    let mut state = 0x9E37_79B9_7F4A_7C15u64;
    let mut next = || {
        state ^= state >> 12;
        state ^= state << 25;
        state ^= state >> 27;
        (state.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 11) as f64 / (1u64 << 53) as f64
    };
    let mut bytes = 0u64;
    for id in 0..rows {
        let ra = next() * 360.0;
        let dec = (2.0 * next() - 1.0).asin().to_degrees();
        let mut line = format!("{id},{ra:.9},{dec:.9}");
        for k in 0..19 {
            line.push_str(&format!(",{:.6}", next() * 10f64.powi(k % 5)));
        }
        line.push('\n');
        bytes += line.len() as u64;
        out.write_all(line.as_bytes()).expect("write input");
    }
    out.flush().expect("flush input");
    bytes
}
