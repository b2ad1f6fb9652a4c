//! Replays, through each fuzz target's body, the committed seed corpus (`fuzz/corpus/<target>/`)
//! and every input that once crashed a target (`fuzz/regressions/<target>/`, named after what it
//! found): a crash fixed stays fixed, on stable and in `make test`, without libFuzzer.

use std::path::PathBuf;

fn inputs(kind: &str, target: &str) -> Vec<(PathBuf, Vec<u8>)> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(format!("../../fuzz/{kind}/{target}"));
    let Ok(entries) = std::fs::read_dir(&dir) else {
        return Vec::new();
    };
    let mut files: Vec<PathBuf> = entries.map(|e| e.unwrap().path()).collect();
    files.sort();
    files
        .into_iter()
        .filter(|p| p.is_file())
        .map(|p| {
            let data = std::fs::read(&p).unwrap();
            (p, data)
        })
        .collect()
}

#[test]
fn every_target_has_a_seed_corpus_and_survives_it_and_its_regressions() {
    for (target, body) in qserv_fuzz::TARGETS {
        let seeds = inputs("corpus", target);
        assert!(
            seeds.len() >= 3,
            "fuzz/corpus/{target} has {} seeds",
            seeds.len()
        );
        for (path, data) in seeds.iter().chain(&inputs("regressions", target)) {
            let outcome = std::panic::catch_unwind(|| body(data));
            assert!(outcome.is_ok(), "{target} crashed on {}", path.display());
        }
    }
}
