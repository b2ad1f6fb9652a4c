//! Partitioning the real case01 data with its own sph-partition configs, checked row by row
//! against an independent reading of the input and a brute-force overlap computation; and every
//! kind of bad input giving an error that names file, line and field, with no output left.

mod catalog_util;

use std::collections::{BTreeMap, HashMap};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;

use qserv_operator::partition::counts::decode_chunk_index;
use qserv_operator::partition::csv::{Dialect, Record};
use qserv_operator::partition::{
    Chunker, ConfigStore, Location, Options, PartitionConfig, partition_files,
};

fn case01() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/data/qserv_testdata/case01/data")
}

fn config(table: &str) -> PartitionConfig {
    let mut store = ConfigStore::default();
    store
        .add_file(&case01().join("partition/common.json"))
        .unwrap();
    store
        .add_file(&case01().join(format!("partition/{table}.json")))
        .unwrap();
    PartitionConfig::from_store(&store).unwrap()
}

fn gunzip(path: &Path) -> Vec<u8> {
    let mut out = Vec::new();
    std::io::Read::read_to_end(
        &mut flate2::read::GzDecoder::new(std::fs::File::open(path).unwrap()),
        &mut out,
    )
    .unwrap();
    out
}

/// Input rows by (independently parsed) first field: (ra, dec) of the position fields. The
/// position fields of case01 are plain numbers, so a split on tabs that skips escaped tabs is
/// an independent reading.
fn input_positions(
    tsv: &[u8],
    fields: &[String],
    pos: &(String, String),
) -> BTreeMap<String, (f64, f64)> {
    let ra_i = fields.iter().position(|f| *f == pos.0).unwrap();
    let dec_i = fields.iter().position(|f| *f == pos.1).unwrap();
    let mut out = BTreeMap::new();
    for line in tsv.split(|c| *c == b'\n').filter(|l| !l.is_empty()) {
        let text = String::from_utf8_lossy(line);
        let mut parts = Vec::new();
        let mut cur = String::new();
        let mut chars = text.chars();
        while let Some(c) = chars.next() {
            match c {
                '\\' => {
                    cur.push(c);
                    if let Some(n) = chars.next() {
                        cur.push(n);
                    }
                }
                '\t' => parts.push(std::mem::take(&mut cur)),
                c => cur.push(c),
            }
        }
        parts.push(cur);
        assert_eq!(parts.len(), fields.len(), "{text}");
        let prev = out.insert(
            parts[0].clone(),
            (parts[ra_i].parse().unwrap(), parts[dec_i].parse().unwrap()),
        );
        assert!(prev.is_none(), "duplicate id {}", parts[0]);
    }
    out
}

/// Output rows of every chunk file: id → [(chunkId, subChunkId, overlap)].
fn output_rows(dir: &Path, config: &PartitionConfig) -> HashMap<String, Vec<(i32, i32, bool)>> {
    let dialect: &Dialect = &config.output_dialect;
    let n = config.output_fields.len();
    let mut out: HashMap<String, Vec<(i32, i32, bool)>> = HashMap::new();
    let mut record = Record::default();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        let Some(rest) = name
            .strip_prefix("chunk_")
            .and_then(|r| r.strip_suffix(".txt"))
        else {
            continue;
        };
        let (chunk, overlap) = match rest.strip_suffix("_overlap") {
            Some(c) => (c, true),
            None => (rest, false),
        };
        let Ok(chunk) = chunk.parse::<i32>() else {
            continue;
        }; // chunk_object_index.txt
        let data = std::fs::read(&path).unwrap();
        for line in data.split(|c| *c == b'\n').filter(|l| !l.is_empty()) {
            dialect.split(line, n, &mut record).unwrap();
            let text = |i: usize| String::from_utf8_lossy(record.field(line, i).0).into_owned();
            let (c, s) = (
                text(n - 2).parse::<i32>().unwrap(),
                text(n - 1).parse::<i32>().unwrap(),
            );
            assert_eq!(c, chunk, "{name}: row in the wrong file");
            out.entry(text(0)).or_default().push((c, s, overlap));
        }
    }
    out
}

fn haversine(ra1: f64, dec1: f64, ra2: f64, dec2: f64) -> f64 {
    let (p1, p2) = (dec1.to_radians(), dec2.to_radians());
    let dp = p2 - p1;
    let dl = (ra2 - ra1).to_radians();
    let a = (dp / 2.0).sin().powi(2) + p1.cos() * p2.cos() * (dl / 2.0).sin().powi(2);
    2.0 * a.sqrt().min(1.0).asin().to_degrees()
}

/// Angular distance from a point to a lon/lat box, by brute force: the box edges sampled finely
/// (the overlap radius is tiny, so sampling at 0.1 arcsec is exact enough) or 0 inside. Boxes
/// clearly farther than `far` degrees are answered `far` without sampling.
fn distance_to_box(ra: f64, dec: f64, b: (f64, f64, f64, f64)) -> f64 {
    let far = 0.05;
    let (ra_min, ra_max, dec_min, dec_max) = b;
    let ra_gap = |edge: f64| {
        let d = (ra - edge).rem_euclid(360.0);
        d.min(360.0 - d)
    };
    let outside_ra = !(if ra_min <= ra_max {
        ra >= ra_min && ra < ra_max
    } else {
        ra >= ra_min || ra < ra_max
    });
    let cos = (dec.abs() + far).min(90.0).to_radians().cos();
    if dec < dec_min - far
        || dec > dec_max + far
        || outside_ra && ra_gap(ra_min).min(ra_gap(ra_max)) * cos > far
    {
        return far;
    }
    let in_ra = if ra_min <= ra_max {
        ra >= ra_min && ra < ra_max
    } else {
        ra >= ra_min || ra < ra_max
    };
    if in_ra && dec >= dec_min && dec < dec_max {
        return 0.0;
    }
    let step = 0.1 / 3600.0;
    let mut best = f64::MAX;
    let width = (ra_max - ra_min).rem_euclid(360.0);
    let n_ra = ((width / step) as usize).clamp(1, 200_000);
    for i in 0..=n_ra {
        let r = ra_min + width * i as f64 / n_ra as f64;
        best = best
            .min(haversine(ra, dec, r, dec_min))
            .min(haversine(ra, dec, r, dec_max));
    }
    let n_dec = (((dec_max - dec_min) / step) as usize).clamp(1, 200_000);
    for i in 0..=n_dec {
        let d = dec_min + (dec_max - dec_min) * i as f64 / n_dec as f64;
        best = best
            .min(haversine(ra, dec, ra_min, d))
            .min(haversine(ra, dec, ra_max, d));
    }
    best
}

fn run(
    config: &PartitionConfig,
    inputs: Vec<PathBuf>,
    out: &Path,
    threads: usize,
) -> qserv_operator::partition::Summary {
    let mut opts = Options::new(inputs, out.to_path_buf());
    opts.threads = threads;
    opts.block_size = 4096; // many blocks, to exercise ordering across workers
    partition_files(config, &opts).unwrap()
}

#[test]
fn case01_object_every_row_once_and_overlap_matches_brute_force() {
    let cfg = config("Object");
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("Object");
    let summary = run(&cfg, vec![case01().join("Object.tsv.gz")], &out, 2);
    let input = input_positions(
        &gunzip(&case01().join("Object.tsv.gz")),
        &cfg.input_fields,
        &cfg.pos,
    );
    assert_eq!(input.len(), 88);
    assert_eq!(summary.rows_read, 88);
    assert_eq!(summary.rows_written, 88);

    let chunker = Chunker::new(85, 12, 0.01667).unwrap();
    let rows = output_rows(&out, &cfg);
    assert_eq!(rows.len(), input.len());
    let mut overlap_total = 0;
    for (id, &(ra, dec)) in &input {
        let copies = &rows[id];
        let home: Vec<_> = copies.iter().filter(|c| !c.2).collect();
        assert_eq!(
            home.len(),
            1,
            "row {id} must be in exactly one chunk file: {copies:?}"
        );
        let loc = chunker.locate(ra, dec);
        assert_eq!(
            (home[0].0, home[0].1),
            (loc.chunk_id, loc.sub_chunk_id),
            "row {id}"
        );
        // Brute force: every other sub-chunk of the home chunk and its neighbours whose box is
        // within the overlap radius must hold an overlap copy; every copy must be near enough.
        let overlap: Vec<(i32, i32)> = copies.iter().filter(|c| c.2).map(|c| (c.0, c.1)).collect();
        overlap_total += overlap.len();
        for &(c, s) in &overlap {
            assert_ne!((c, s), (loc.chunk_id, loc.sub_chunk_id));
            let b = chunker
                .sub_chunk_bounds(Location {
                    chunk_id: c,
                    sub_chunk_id: s,
                })
                .unwrap();
            let d = distance_to_box(ra, dec, b);
            // Qserv's overlap region is a box widened by the overlap in dec and by alpha in ra:
            // never farther than the radius scaled for the box corner.
            assert!(
                d <= 0.01667 * 1.5,
                "row {id}: overlap copy in {c}:{s} at {d} deg"
            );
        }
        let near_chunks: Vec<i32> = chunker.chunks_in_cone(ra, dec, 0.05);
        for chunk in near_chunks {
            for sub in chunker.sub_chunks(chunk) {
                let l = Location {
                    chunk_id: chunk,
                    sub_chunk_id: sub,
                };
                if (chunk, sub) == (loc.chunk_id, loc.sub_chunk_id) {
                    continue;
                }
                let d = distance_to_box(ra, dec, chunker.sub_chunk_bounds(l).unwrap());
                if d < 0.01667 * 0.999 {
                    assert!(
                        overlap.contains(&(chunk, sub)),
                        "row {id} at ({ra}, {dec}) is {d} deg from {chunk}:{sub} but has no overlap copy there"
                    );
                }
            }
        }
    }
    assert_eq!(summary.overlap_rows as usize, overlap_total);
    assert!(
        overlap_total > 0,
        "case01 Object has rows near sub-chunk edges"
    );

    // chunk_index.bin agrees with the files.
    let index = decode_chunk_index(&std::fs::read(out.join("chunk_index.bin")).unwrap()).unwrap();
    let mut from_files: BTreeMap<(i32, i32), (u64, u64)> = BTreeMap::new();
    for copies in rows.values() {
        for &(c, s, o) in copies {
            let e = from_files.entry((c, s)).or_default();
            if o { e.1 += 1 } else { e.0 += 1 }
        }
    }
    assert_eq!(index, from_files);
    let json: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("partition-summary.json")).unwrap())
            .unwrap();
    assert_eq!(json["rows_written"], 88);
}

#[test]
fn case01_source_child_rows_and_object_index() {
    let cfg = config("Source");
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("Source");
    let summary = run(&cfg, vec![case01().join("Source.tsv.gz")], &out, 2);
    let input = input_positions(
        &gunzip(&case01().join("Source.tsv.gz")),
        &cfg.input_fields,
        &cfg.pos,
    );
    assert_eq!(summary.rows_read, input.len() as u64);
    assert_eq!(summary.overlap_rows, 0, "Source.json sets overlap 0");
    let rows = output_rows(&out, &cfg);
    let chunker = Chunker::new(85, 12, 0.0).unwrap();
    for (id, &(ra, dec)) in &input {
        let loc = chunker.locate(ra, dec);
        assert_eq!(
            rows[id],
            vec![(loc.chunk_id, loc.sub_chunk_id, false)],
            "row {id}"
        );
    }
    // part.id = objectId: one index line per row, id,chunkId,subChunkId.
    let index = std::fs::read_to_string(out.join("chunk_object_index.txt")).unwrap();
    assert_eq!(index.lines().count(), input.len());
    assert!(
        index.lines().all(|l| l.split(',').count() == 3),
        "{}",
        &index[..200]
    );
}

#[test]
fn output_is_identical_for_any_thread_count() {
    let cfg = config("Object");
    let tmp = tempfile::tempdir().unwrap();
    let inputs = [case01().join("Object.tsv.gz")];
    let (a, b) = (tmp.path().join("j1"), tmp.path().join("j2"));
    run(&cfg, inputs.to_vec(), &a, 1);
    run(&cfg, inputs.to_vec(), &b, 2);
    let files = |d: &Path| {
        let mut v: Vec<(String, Vec<u8>)> = std::fs::read_dir(d)
            .unwrap()
            .map(|e| {
                let p = e.unwrap().path();
                (
                    p.file_name().unwrap().to_string_lossy().into_owned(),
                    std::fs::read(&p).unwrap(),
                )
            })
            .collect();
        v.sort();
        v
    };
    let (fa, fb) = (files(&a), files(&b));
    assert!(fa.len() > 5);
    assert_eq!(
        fa.iter().map(|f| &f.0).collect::<Vec<_>>(),
        fb.iter().map(|f| &f.0).collect::<Vec<_>>()
    );
    for ((name, x), (_, y)) in fa.iter().zip(&fb) {
        assert!(x == y, "{name} differs between -j 1 and -j 2");
    }
}

/// A small TSV in case01 Object's layout, with row `bad_line` (1-based) replaced.
fn object_rows_with(tmp: &Path, name: &str, edit: impl Fn(usize, &mut Vec<String>)) -> PathBuf {
    let data = gunzip(&case01().join("Object.tsv.gz"));
    let mut out = Vec::new();
    for (i, line) in data
        .split(|c| *c == b'\n')
        .filter(|l| !l.is_empty())
        .take(10)
        .enumerate()
    {
        let mut fields: Vec<String> = String::from_utf8_lossy(line)
            .split('\t')
            .map(str::to_string)
            .collect();
        edit(i + 1, &mut fields);
        out.extend_from_slice(fields.join("\t").as_bytes());
        out.push(b'\n');
    }
    let path = tmp.join(name);
    std::fs::write(&path, out).unwrap();
    path
}

fn partition_error(cfg: &PartitionConfig, input: PathBuf, out: &Path) -> String {
    let opts = Options::new(vec![input], out.to_path_buf());
    let e = partition_files(cfg, &opts).unwrap_err().to_string();
    assert!(!out.exists(), "no output may be left after a failure");
    let parent = out.parent().unwrap();
    let leftovers: Vec<_> = std::fs::read_dir(parent)
        .unwrap()
        .filter_map(|e| {
            let n = e.unwrap().file_name().to_string_lossy().into_owned();
            n.contains(".partial-").then_some(n)
        })
        .collect();
    assert!(leftovers.is_empty(), "staging left behind: {leftovers:?}");
    e
}

#[test]
fn bad_rows_name_file_line_and_field() {
    let cfg = config("Object");
    let tmp = tempfile::tempdir().unwrap();
    let (ra, dec) = (2usize, 4usize); // ra_PS, decl_PS
    type Edit = Box<dyn Fn(usize, &mut Vec<String>)>;
    let cases: Vec<(&str, Edit, String)> = vec![
        ("nan.tsv", Box::new(move |i, f| if i == 3 { f[ra] = "nan".into() }), "line 3: field ra_PS: not a finite number: \"nan\"".into()),
        ("inf.tsv", Box::new(move |i, f| if i == 2 { f[dec] = "inf".into() }), "line 2: field decl_PS: not a finite number: \"inf\"".into()),
        ("null.tsv", Box::new(move |i, f| if i == 5 { f[ra] = "\\N".into() }), "line 5: field ra_PS: NULL position".into()),
        ("text.tsv", Box::new(move |i, f| if i == 4 { f[dec] = "12,5".into() }), "line 4: field decl_PS: not a number: \"12,5\"".into()),
        ("dec.tsv", Box::new(move |i, f| if i == 6 { f[dec] = "95.5".into() }), "line 6: field decl_PS: declination 95.5 is outside [-90, 90]".into()),
        ("ra.tsv", Box::new(move |i, f| if i == 7 { f[ra] = "360".into() }), "line 7: field ra_PS: right ascension 360 is outside [0, 360) (--normalize-ra wraps it)".into()),
        ("short.tsv", Box::new(|i, f| if i == 8 { f.truncate(100) }), "line 8: 100 fields, expected 228".into()),
        ("long.tsv", Box::new(|i, f| if i == 9 { f.push("x".into()) }), "line 9: more than the expected 228 fields".into()),
    ];
    for (name, edit, expected) in cases {
        let input = object_rows_with(tmp.path(), name, edit);
        let e = partition_error(&cfg, input.clone(), &tmp.path().join(format!("out-{name}")));
        assert_eq!(e, format!("{}: {expected}", input.display()), "{name}");
    }
}

#[test]
fn normalize_ra_and_max_rejects() {
    let mut cfg = config("Object");
    let tmp = tempfile::tempdir().unwrap();
    let input = object_rows_with(tmp.path(), "wrap.tsv", |i, f| {
        if i == 1 {
            f[2] = "-0.5".into();
        }
        if i == 2 {
            f[4] = "-90.5".into();
        }
    });
    // Without normalisation both rows are rejected; with --max-rejects 2 they are listed.
    let mut opts = Options::new(vec![input.clone()], tmp.path().join("a"));
    opts.max_rejects = 2;
    let summary = partition_files(&cfg, &opts).unwrap();
    assert_eq!((summary.rows_read, summary.rows_rejected), (8, 2));
    let rejected = std::fs::read_to_string(tmp.path().join("a/rejected.csv")).unwrap();
    let lines: Vec<&str> = rejected.lines().collect();
    assert_eq!(lines[0], "file,line,field,reason,row");
    assert!(
        lines[1].contains(",1,\"ra_PS\",\"right ascension -0.5 is outside [0, 360)"),
        "{}",
        lines[1]
    );
    assert!(
        lines[2].contains(",2,\"decl_PS\",\"declination -90.5 is outside [-90, 90]\""),
        "{}",
        lines[2]
    );
    // One reject allowed, two present: the error names the second.
    let mut opts = Options::new(vec![input.clone()], tmp.path().join("b"));
    opts.max_rejects = 1;
    let e = partition_files(&cfg, &opts).unwrap_err().to_string();
    assert!(e.ends_with("line 2: field decl_PS: declination -90.5 is outside [-90, 90] (more than --max-rejects 1 rejected rows)"), "{e}");
    assert!(!tmp.path().join("b").exists());
    // --normalize-ra wraps -0.5 to 359.5.
    cfg.normalize_ra = true;
    let mut opts = Options::new(vec![input], tmp.path().join("c"));
    opts.max_rejects = 1;
    let summary = partition_files(&cfg, &opts).unwrap();
    assert_eq!((summary.rows_read, summary.rows_rejected), (9, 1));
}

#[test]
fn crlf_truncated_gzip_and_empty_files() {
    let cfg = config("Object");
    let tmp = tempfile::tempdir().unwrap();
    let lf = object_rows_with(tmp.path(), "lf.tsv", |_, _| {});
    let crlf = tmp.path().join("crlf.tsv");
    let text = std::fs::read(&lf).unwrap();
    let mut with_cr = Vec::new();
    for &c in &text {
        if c == b'\n' {
            with_cr.push(b'\r');
        }
        with_cr.push(c);
    }
    std::fs::write(&crlf, with_cr).unwrap();
    run(&cfg, vec![lf], &tmp.path().join("lf-out"), 2);
    run(&cfg, vec![crlf], &tmp.path().join("crlf-out"), 2);
    for entry in std::fs::read_dir(tmp.path().join("lf-out")).unwrap() {
        let p = entry.unwrap().path();
        let other = tmp.path().join("crlf-out").join(p.file_name().unwrap());
        assert_eq!(
            std::fs::read(&p).unwrap(),
            std::fs::read(&other).unwrap(),
            "{}",
            p.display()
        );
    }

    let gz = std::fs::read(case01().join("Object.tsv.gz")).unwrap();
    let truncated = tmp.path().join("truncated.tsv.gz");
    std::fs::write(&truncated, &gz[..gz.len() * 2 / 3]).unwrap();
    let e = partition_error(&cfg, truncated.clone(), &tmp.path().join("t-out"));
    assert!(
        e.starts_with(&format!(
            "{}: truncated or corrupt gzip data",
            truncated.display()
        )),
        "{e}"
    );

    let empty = tmp.path().join("empty.tsv");
    std::fs::write(&empty, "").unwrap();
    let e = partition_error(&cfg, empty.clone(), &tmp.path().join("e-out"));
    assert_eq!(e, format!("{}: empty file (no rows)", empty.display()));
}

#[test]
fn the_cli_runs_the_acceptance_command() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    let d = case01();
    let output = Command::new(env!("CARGO_BIN_EXE_qserv-operator"))
        .arg("partition")
        .args([
            "--config-file".as_ref(),
            d.join("partition/common.json").as_os_str(),
        ])
        .args([
            "--config-file".as_ref(),
            d.join("partition/Object.json").as_os_str(),
        ])
        .args(["--in".as_ref(), d.join("Object.tsv.gz").as_os_str()])
        .args(["--out-dir".as_ref(), out.as_os_str()])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        stdout.starts_with("partitioned 88 rows from 1 file(s) into "),
        "{stdout}"
    );
    assert!(out.join("chunk_index.bin").is_file());

    // A bad flag value is reported with its key.
    let output = Command::new(env!("CARGO_BIN_EXE_qserv-operator"))
        .args(["partition", "--part.pos", "ra_PS"])
        .args([
            "--config-file".as_ref(),
            d.join("partition/common.json").as_os_str(),
        ])
        .args([
            "--config-file".as_ref(),
            d.join("partition/Object.json").as_os_str(),
        ])
        .args(["--in".as_ref(), d.join("Object.tsv.gz").as_os_str()])
        .args(["--out-dir".as_ref(), tmp.path().join("x").as_os_str()])
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("config key part.pos: expected two field names separated by a comma"),
        "{stderr}"
    );
    let _ = std::io::stderr().flush();
}

/// The scientists' astropy HDF5 table goes through the same core: every row lands once in the
/// chunk its position (radians in the file) gives, as read by astropy, not by our reader.
#[test]
fn hdf5_rows_partition_by_their_astropy_positions() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("meas");
    let output = Command::new(env!("CARGO_BIN_EXE_qserv-operator"))
        .args([
            "partition",
            "--format",
            "hdf5",
            "--dataset",
            "deepCoadd_meas",
        ])
        .args(["--in".as_ref(), catalog_util::macs2243().as_os_str()])
        .args([
            "--part.pos",
            "coord_ra, coord_dec",
            "--angle-unit",
            "radian",
            "--part.id",
            "id",
        ])
        .args(["--part.num-stripes", "85", "--part.num-sub-stripes", "12"])
        .args(["--out-dir".as_ref(), out.as_os_str()])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(stdout.starts_with("partitioned 10000 rows"), "{stdout}");

    // astropy's view of the table: id and the exact coordinates.
    let dump: serde_json::Value = serde_json::from_str(&catalog_util::python(
        "dump_table.py",
        &[catalog_util::macs2243().to_str().unwrap(), "deepCoadd_meas"],
    ))
    .unwrap();
    let names: Vec<&str> = dump["columns"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    let col = |n: &str| names.iter().position(|x| *x == n).unwrap();
    let float = |v: &serde_json::Value| {
        let hex = v.as_str().unwrap().strip_prefix("f:").unwrap();
        f64::from_bits(u64::from_str_radix(hex, 16).unwrap())
    };
    let chunker = Chunker::new(85, 12, 0.01667).unwrap();
    let mut expected: HashMap<String, (i32, i32)> = HashMap::new();
    for row in dump["rows"].as_array().unwrap() {
        let (ra, dec) = (
            float(&row[col("coord_ra")]).to_degrees(),
            float(&row[col("coord_dec")]).to_degrees(),
        );
        let loc = chunker.locate(ra, dec);
        expected.insert(row[col("id")].to_string(), (loc.chunk_id, loc.sub_chunk_id));
    }
    assert_eq!(expected.len(), 10000);

    // The default output dialect is sph-partition's: tab-separated, ids appended.
    let mut homes: HashMap<String, (i32, i32)> = HashMap::new();
    let mut overlap = 0;
    for entry in std::fs::read_dir(&out).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        if !name.starts_with("chunk_") || !name.ends_with(".txt") || name.contains("object_index") {
            continue;
        }
        for line in std::fs::read_to_string(&path).unwrap().lines() {
            let fields: Vec<&str> = line.split('\t').collect();
            assert_eq!(fields.len(), names.len() + 2, "{name}: {line}");
            let ids = (
                fields[fields.len() - 2].parse().unwrap(),
                fields[fields.len() - 1].parse().unwrap(),
            );
            if name.ends_with("_overlap.txt") {
                overlap += 1;
            } else {
                assert!(
                    homes.insert(fields[0].to_string(), ids).is_none(),
                    "{} twice",
                    fields[0]
                );
            }
        }
    }
    assert_eq!(homes, expected);
    assert!(overlap > 0);
    let index = std::fs::read_to_string(out.join("chunk_object_index.txt")).unwrap();
    assert_eq!(index.lines().count(), 10000);
}

/// A CatalogIngest table goes through `from_spec::partition::table_plan`: case01's Object TSV with its
/// MySQL schema read through the catalog reader, and a regular table refused.
#[test]
fn catalog_ingest_tables_plan_their_partitioning() {
    use qserv_operator::api::CatalogIngest;
    use qserv_operator::from_spec::partition::table_plan;
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let ingest: CatalogIngest = serde_norway::from_str(
        &std::fs::read_to_string(root.join("examples/catalogingest-case01.yaml")).unwrap(),
    )
    .unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let object = &ingest.spec.tables[0];
    let (config, opts) = table_plan(
        &ingest.spec,
        object,
        case01().parent().unwrap(),
        &tmp.path().join("Object"),
    )
    .unwrap();
    assert_eq!(
        (config.num_stripes, config.num_sub_stripes, config.overlap),
        (85, 12, 0.01667)
    );
    assert_eq!(config.id.as_deref(), Some("objectId"));
    assert_eq!(config.input_fields.len(), 228);
    let summary = partition_files(&config, &opts).unwrap();
    assert_eq!(summary.rows_read, 88);
    // Same chunks as the sph-partition config path.
    let reference = run(
        &self::config("Object"),
        vec![case01().join("Object.tsv.gz")],
        &tmp.path().join("ref"),
        2,
    );
    assert_eq!(
        summary
            .chunks
            .iter()
            .map(|(c, n)| (*c, n.rows, n.overlap_rows))
            .collect::<Vec<_>>(),
        reference
            .chunks
            .iter()
            .map(|(c, n)| (*c, n.rows, n.overlap_rows))
            .collect::<Vec<_>>()
    );
    let filter = &ingest.spec.tables[2];
    let e = table_plan(&ingest.spec, filter, &case01(), &tmp.path().join("Filter"))
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("table Filter: a regular table is not partitioned"),
        "{e}"
    );
}
