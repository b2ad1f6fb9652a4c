//! Position units come from the file: the Clusters catalog as astropy writes it (`coord_ra`,
//! `coord_dec` with `unit: rad`) and the same tables converted to degrees by astropy (`unit:
//! deg`) are partitioned into the same chunks and give the same cone rows, with no unit named
//! anywhere; a column without a unit needs one named, a unit that is not an angle or that
//! contradicts the one named is refused.

mod catalog_util;
mod common;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

use catalog_util::{macs2243, path_str, python, temp_dir};
use qserv_operator::catalog::{
    AngleUnit, CatalogReader, Cone, InputFormat, Position, SelectionSpec,
};

/// The Clusters catalog with its coordinates in `unit` (`deg`, `none`, `mag`), written by
/// astropy into `dir`.
fn copy_in(dir: &Path, unit: &str) -> PathBuf {
    let out = dir.join(format!("macs2243-{unit}.h5"));
    if !out.exists() {
        python(
            "angle_units_copy.py",
            &[path_str(&macs2243()), path_str(&out), unit],
        );
    }
    out
}

/// `qserv-operator partition` of `deepCoadd_meas` of `file` (340/3/0.01667, ids), with `extra`
/// arguments; its output directory, or the error it printed.
fn partition(file: &Path, out: &Path, extra: &[&str]) -> Result<PathBuf, String> {
    let output = Command::new(env!("CARGO_BIN_EXE_qserv-operator"))
        .args([
            "partition",
            "--format",
            "hdf5",
            "--dataset",
            "deepCoadd_meas",
        ])
        .args(["--part.pos", "coord_ra, coord_dec", "--part.id", "id"])
        .args(["--part.num-stripes", "340", "--part.num-sub-stripes", "3"])
        .args(["--part.overlap", "0.01667", "--in", path_str(file)])
        .arg("--out-dir")
        .arg(out)
        .args(extra)
        .output()
        .unwrap();
    if output.status.success() {
        Ok(out.to_path_buf())
    } else {
        Err(String::from_utf8_lossy(&output.stderr).trim().to_string())
    }
}

/// Every output file with the (id, chunkId, subChunkId) of its rows: where each row went,
/// whatever unit its coordinates are written in.
fn placements(dir: &Path) -> BTreeSet<(String, String, String, String)> {
    let mut rows = BTreeSet::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        if !name.starts_with("chunk_") || !name.ends_with(".txt") || name.contains("index") {
            continue;
        }
        for line in std::fs::read_to_string(&path).unwrap().lines() {
            let fields: Vec<&str> = line.split('\t').collect();
            let n = fields.len();
            rows.insert((
                name.clone(),
                fields[0].to_string(),
                fields[n - 2].to_string(),
                fields[n - 1].to_string(),
            ));
        }
    }
    rows
}

#[test]
fn partition_places_rows_alike_from_radians_and_degrees() {
    let dir = temp_dir("angle-units-partition");
    let radians = partition(&macs2243(), &dir.join("rad"), &[]).unwrap();
    let degrees = partition(&copy_in(&dir, "deg"), &dir.join("deg"), &[]).unwrap();
    let (r, d) = (placements(&radians), placements(&degrees));
    assert_eq!(r.len(), 10_000 + 4_185, "rows and overlap rows");
    assert!(r == d, "the same rows in the same chunks and sub-chunks");
    let summary = |p: &Path| -> serde_json::Value {
        serde_json::from_str(&std::fs::read_to_string(p.join("partition-summary.json")).unwrap())
            .unwrap()
    };
    // Rows per chunk (the bytes differ: degrees are written with other digits).
    let rows = |p: &Path| -> Vec<(String, serde_json::Value, serde_json::Value)> {
        let s = summary(p);
        s["chunks"]
            .as_object()
            .unwrap()
            .iter()
            .map(|(c, v)| (c.clone(), v["rows"].clone(), v["overlap_rows"].clone()))
            .collect()
    };
    assert_eq!(rows(&radians), rows(&degrees));
    assert_eq!(rows(&radians).len(), 7);

    // Read as degrees, the radians land elsewhere: the file's unit is what placed them.
    let wrong = partition(
        &copy_in(&dir, "none"),
        &dir.join("none-as-deg"),
        &["--angle-unit", "degree"],
    )
    .unwrap();
    assert!(placements(&wrong) != r);
    // No unit in the file: one must be named, and then it is used.
    let err = partition(&copy_in(&dir, "none"), &dir.join("none"), &[]).unwrap_err();
    assert!(
        err.contains("position column `coord_ra` has no unit in the file: name it"),
        "{err}"
    );
    let named = partition(
        &copy_in(&dir, "none"),
        &dir.join("none-rad"),
        &["--angle-unit", "radian"],
    )
    .unwrap();
    assert!(placements(&named) == r);
    // Not an angle, named or not; a named unit the file contradicts.
    for extra in [&[][..], &["--angle-unit", "radian"][..]] {
        let err = partition(&copy_in(&dir, "mag"), &dir.join("mag"), extra).unwrap_err();
        assert!(
            err.contains("position column `coord_ra` has unit `mag`, which is not an angle"),
            "{err}"
        );
    }
    let err = partition(
        &macs2243(),
        &dir.join("conflict"),
        &["--angle-unit", "degree"],
    )
    .unwrap_err();
    assert!(
        err.contains(
            "position column `coord_ra` is in rad (the file's unit) but the spec says deg"
        ),
        "{err}"
    );
}

/// The rows a 0.2 deg cone around the cluster keeps, by id, read through the catalog reader
/// with no unit named.
fn ids_in_cone(reader: CatalogReader, table: &str) -> BTreeSet<i64> {
    let spec = SelectionSpec {
        table: table.into(),
        columns: vec!["id".into()],
        position: Some(Position {
            ra: "coord_ra".into(),
            dec: "coord_dec".into(),
            unit: None,
        }),
        cone: Some(Cone {
            ra: 340.83,
            dec: -9.59,
            radius: 0.2,
        }),
        ..Default::default()
    };
    assert!(matches!(
        reader.selection(&spec).unwrap().position_units(),
        Some((AngleUnit::Radian, AngleUnit::Radian) | (AngleUnit::Degree, AngleUnit::Degree))
    ));
    let mut ids = BTreeSet::new();
    for batch in reader.select(&spec).unwrap() {
        let batch = batch.unwrap();
        let col = batch.column(batch.schema().index_of("id").unwrap());
        let col = arrow_array::cast::AsArray::as_primitive::<arrow_array::types::Int64Type>(col);
        ids.extend(col.values().iter().copied());
    }
    ids
}

/// The same, from an HDF5 table.
fn cone_ids(file: &Path, table: &str) -> BTreeSet<i64> {
    let format = InputFormat::Hdf5 {
        dataset: table.into(),
    };
    ids_in_cone(CatalogReader::open(file, &format, 4096).unwrap(), table)
}

#[test]
fn a_cone_keeps_the_same_rows_from_radians_and_degrees() {
    let dir = temp_dir("angle-units-cone");
    let degrees = copy_in(&dir, "deg");
    let from_radians = cone_ids(&macs2243(), "deepCoadd_meas");
    let from_degrees = cone_ids(&degrees, "deepCoadd_meas");
    assert!(!from_radians.is_empty() && from_radians.len() < 10_000);
    assert_eq!(from_radians, from_degrees);
    // And astropy agrees on which rows: its own separations (tests/python/select_oracle.py).
    let oracle: serde_json::Value = serde_json::from_str(&python(
        "select_oracle.py",
        &[
            path_str(&macs2243()),
            "deepCoadd_meas",
            "340.83",
            "-9.59",
            "0.2",
            "",
            "id",
            "id",
        ],
    ))
    .unwrap();
    let expected: BTreeSet<i64> = oracle["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r[0].as_i64().unwrap())
        .collect();
    assert_eq!(from_radians, expected);
}

/// Parquet as astropy writes it (units in `table_meta_yaml`) and as pyarrow users write it
/// (units in the fields' metadata): the units are read, and the cone keeps what it keeps from
/// the HDF5 file.
#[test]
fn parquet_files_say_their_units_too() {
    let dir = temp_dir("angle-units-parquet");
    let expected = cone_ids(&macs2243(), "deepCoadd_meas");
    for how in ["astropy", "pyarrow"] {
        let out = dir.join(format!("{how}.parquet"));
        python(
            "astropy_parquet.py",
            &[path_str(&macs2243()), "deepCoadd_meas", path_str(&out), how],
        );
        let reader = CatalogReader::open(&out, &InputFormat::Parquet, 4096).unwrap();
        let field = reader.schema().field_with_name("coord_ra").unwrap().clone();
        assert_eq!(
            AngleUnit::of_field(&field),
            qserv_operator::catalog::UnitOf::Angle(AngleUnit::Radian),
            "{how}"
        );
        assert_eq!(ids_in_cone(reader, "deepCoadd_meas"), expected, "{how}");
    }
}

/// The macs2243 example ingested from `dir` under `name`; `unit_given` keeps the example's
/// `angleUnit` of forced_src (whose file says nothing), else the file's own is used.
fn macs_ingest(name: &str, dir: &Path, unit_given: bool) -> serde_json::Value {
    let mut m = common::local::ingest_from("catalogingest-macs2243.yaml", dir, Some(name));
    if !unit_given {
        for t in m["spec"]["tables"].as_array_mut().unwrap() {
            t.as_object_mut().unwrap().remove("angleUnit");
        }
    }
    m
}

/// Ids of a table as Qserv's query port returns them.
async fn qserv_ids(local: &qserv_local::LocalMode, database: &str, table: &str) -> BTreeSet<i64> {
    use mysql_async::prelude::Queryable;
    let mut conn = common::local::connect(local, "qserv-ci-query", 4040, "qsmaster").await;
    let ids: Vec<i64> = conn
        .query(format!("SELECT id FROM {database}.{table}"))
        .await
        .unwrap();
    ids.into_iter().collect()
}

/// The same catalog in radians and in degrees, as astropy writes each, ingested without a
/// unit in the spec: the same chunks, rows and cone rows, every check passed (the chunk check
/// too, which reads the units from the files); a unit that is not an angle fails the ingest
/// naming the column, nothing published.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ingests_of_radians_and_degrees_give_the_same_chunks_and_cone_rows() {
    use common::local::{apply, finished, ready_cluster, replication_state, start};
    use qserv_operator::api::catalog_ingest::{CatalogIngestStatus, IngestPhase};
    use qserv_operator::api::condition::{self, READY};

    let data = temp_dir("angle-units-e2e");
    let (rad, deg, mag) = (data.join("rad"), data.join("deg"), data.join("mag"));
    for (dir, unit) in [(&deg, "deg"), (&mag, "mag")] {
        std::fs::create_dir_all(dir).unwrap();
        std::fs::rename(copy_in(&data, unit), dir.join("macs2243.h5")).unwrap();
    }
    std::fs::create_dir_all(&rad).unwrap();
    std::fs::copy(macs2243(), rad.join("macs2243.h5")).unwrap();

    let (local, _state) = start("angle-units", true).await;
    ready_cluster(&local).await;
    apply(&local, &macs_ingest("in-radians", &rad, true)).await;
    apply(&local, &macs_ingest("in-degrees", &deg, false)).await;
    apply(&local, &macs_ingest("in-mags", &mag, false)).await;
    // A cone where the catalog has nothing.
    let mut elsewhere = macs_ingest("elsewhere", &rad, true);
    elsewhere["spec"]["region"] =
        serde_json::json!({"ra": 10.0, "dec": 10.0, "radius": "0.4 degree"});
    apply(&local, &elsewhere).await;
    let figures = |s: &CatalogIngestStatus| -> Vec<(String, i64, i64, i64, i64)> {
        s.tables
            .iter()
            .map(|t| {
                (
                    t.name.clone(),
                    t.rows_read,
                    t.rows_loaded,
                    t.chunks,
                    t.overlap_rows,
                )
            })
            .collect()
    };
    let radians = finished(&local, "in-radians", 900).await;
    let degrees = finished(&local, "in-degrees", 900).await;
    for s in [&radians, &degrees] {
        let ready = condition::find(&s.conditions, READY).unwrap();
        assert_eq!(s.phase, Some(IngestPhase::Succeeded), "{}", ready.message);
        assert!(s.checks.iter().all(|c| c.passed), "{:#?}", s.checks);
        assert!(s.checks.iter().any(|c| c.name == "chunks/deepCoadd_meas"));
    }
    assert_eq!(figures(&radians), figures(&degrees));
    assert_eq!(radians.rows_loaded, Some(6395 + 6395 + 1961));
    for table in ["deepCoadd_meas", "deepCoadd_forced_src", "forced_src"] {
        let r = qserv_ids(&local, "in_radians", table).await;
        assert!(!r.is_empty());
        assert_eq!(r, qserv_ids(&local, "in_degrees", table).await, "{table}");
    }

    let mags = finished(&local, "in-mags", 900).await;
    assert_eq!(mags.phase, Some(IngestPhase::Failed));
    let ready = condition::find(&mags.conditions, READY).unwrap();
    assert!(
        ready
            .message
            .contains("position column `coord_ra` has unit `mag`, which is not an angle"),
        "{}",
        ready.message
    );
    assert_eq!(replication_state(&local, "in_mags").await, None);
    let nothing = finished(&local, "elsewhere", 900).await;
    assert_eq!(nothing.phase, Some(IngestPhase::Failed));
    let ready = condition::find(&nothing.conditions, READY).unwrap();
    assert!(
        ready
            .message
            .contains("the selection (the spec's cone or bands) kept none of the "),
        "{}",
        ready.message
    );
    assert_eq!(replication_state(&local, "elsewhere").await, None);
    local.shutdown().await;
}
