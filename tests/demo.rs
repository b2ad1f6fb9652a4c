//! `qserv-operator demo` (the README's first command) works end to end on this machine: the
//! local API server answers the real kubectl, and the Clusters catalog is partitioned as the
//! example CatalogIngest describes.

use std::path::Path;
use std::process::Command;

#[test]
fn demo_applies_examples_and_partitions_the_clusters_catalog() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let work = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_qserv-operator"))
        .current_dir(root)
        .args(["demo", "--data"])
        .arg(root.join("../shared/data"))
        .arg("--work-dir")
        .arg(work.path())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    if Path::new("/usr/bin/kubectl").exists() {
        assert!(
            stdout.contains("qservcluster.qserv.in2p3.fr/qserv-ci serverside-applied"),
            "{stdout}"
        );
        assert!(
            stdout.contains("catalogingest.qserv.in2p3.fr/macs2243"),
            "{stdout}"
        );
    }
    for table in ["deepCoadd_meas", "deepCoadd_forced_src", "forced_src"] {
        let line = stdout
            .lines()
            .find(|l| l.trim_start().starts_with(table))
            .unwrap_or_else(|| panic!("{stdout}"));
        assert!(line.contains("rows kept"), "{line}");
        let dir = work.path().join("chunks").join(table);
        assert!(dir.join("chunk_index.bin").is_file(), "{}", dir.display());
        assert!(dir.join("partition-summary.json").is_file());
    }
    // The cone of 0.4 deg keeps fewer rows than the 10000 of the table; the columns follow the
    // pipeline's keys (coord_ra, coord_dec, id, detect_isPrimary).
    let meas = stdout
        .lines()
        .find(|l| l.trim_start().starts_with("deepCoadd_meas"))
        .unwrap();
    let kept: u64 = meas.split_whitespace().nth(1).unwrap().parse().unwrap();
    assert!(kept > 0 && kept < 10_000, "{meas}");
    assert!(meas.contains(" 4 columns"), "{meas}");
}
