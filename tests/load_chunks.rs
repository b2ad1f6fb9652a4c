//! The direct chunk loader on two real MariaDB workers: case01 Object (director, with overlap)
//! and Source (child) partitioned through `from_spec::partition::table_plan` as a CatalogIngest would,
//! then loaded. Counts are checked against the chunk files, re-runs replace, failures name the
//! file, table and row and leave the previous tables intact with no staging table behind.

mod common;

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use mysql_async::Conn;
use mysql_async::prelude::Queryable;
use qserv_operator::api::CatalogIngest;
use qserv_operator::catalog::SchemaFile;
use qserv_operator::db::Endpoint;
use qserv_operator::from_spec::partition::table_plan;
use qserv_operator::load::{
    ChunkFiles, ChunkLoad, ChunkLoadSummary, LoadError, TableDdl, load_chunks,
};
use qserv_operator::partition::{PartitionConfig, partition_files};
use qserv_operator::qserv::chunk_tables::{DUMMY_CHUNK, chunk_table, overlap_table};

use common::mariadb::{MariaDb, free_port};
use common::{scalar, table_exists};

fn case01() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/data/qserv_testdata/case01/data")
}

/// The two workers every test of this binary shares (each test uses its own database).
fn workers() -> &'static [MariaDb; 2] {
    static WORKERS: OnceLock<[MariaDb; 2]> = OnceLock::new();
    WORKERS.get_or_init(|| [MariaDb::start(), MariaDb::start()])
}

fn endpoints() -> Vec<Endpoint> {
    workers()
        .iter()
        .map(|w| Endpoint::parse(&w.url()).unwrap())
        .collect()
}

async fn connect(worker: usize) -> Conn {
    Conn::from_url(workers()[worker].url()).await.unwrap()
}

/// Partitions table `index` of examples/catalogingest-case01.yaml into `out`.
fn partition(index: usize, out: &Path) -> PartitionConfig {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let ingest: CatalogIngest = serde_norway::from_str(
        &std::fs::read_to_string(root.join("examples/catalogingest-case01.yaml")).unwrap(),
    )
    .unwrap();
    // The example's source is the dataset directory, its files under data/.
    let source = case01().parent().unwrap().to_path_buf();
    let (config, opts) = table_plan(&ingest.spec, &ingest.spec.tables[index], &source, out)
        .unwrap_or_else(|err| panic!("plan: {err}"));
    partition_files(&config, &opts).unwrap_or_else(|err| panic!("partition: {err}"));
    config
}

fn chunk_load(database: &str, table: &str, dir: &Path, config: &PartitionConfig) -> ChunkLoad {
    ChunkLoad {
        database: database.into(),
        table: table.into(),
        ddl: TableDdl::from_schema_file(&SchemaFile::new(
            case01().join(format!("schema/{table}.schema")),
            table,
        ))
        .unwrap(),
        files: ChunkFiles::from_config(dir, config),
    }
}

fn lines(file: &Path) -> u64 {
    std::fs::read(file).map_or(0, |b| b.iter().filter(|&&c| c == b'\n').count() as u64)
}

/// Checks every table of `load` on the workers against its chunk files; returns the total of
/// the chunk tables' rows.
async fn check_tables(load: &ChunkLoad, summary: &ChunkLoadSummary) -> u64 {
    let (db, table) = (&load.database, &load.table);
    let mut total = 0;
    for (w, assigned) in summary.plan.workers.iter().enumerate() {
        assert_eq!(assigned.worker, endpoints()[w].address());
        let mut conn = connect(w).await;
        assert_eq!(count(&mut conn, db, table.clone()).await, 0, "prototype");
        for t in [
            chunk_table(table, DUMMY_CHUNK),
            overlap_table(table, DUMMY_CHUNK),
        ] {
            assert_eq!(
                count(&mut conn, db, t.clone()).await,
                0,
                "{t} on worker {w}"
            );
        }
        for &chunk in &assigned.chunks {
            let rows = count(&mut conn, db, chunk_table(table, chunk)).await;
            assert_eq!(rows, lines(&load.files.file(chunk, false)), "chunk {chunk}");
            let overlap = count(&mut conn, db, overlap_table(table, chunk)).await;
            assert_eq!(
                overlap,
                lines(&load.files.file(chunk, true)),
                "chunk {chunk}"
            );
            let wrong = format!(
                "SELECT COUNT(*) FROM `{db}`.`{}` WHERE chunkId <> {chunk}",
                chunk_table(table, chunk)
            );
            assert_eq!(
                scalar(&mut conn, &wrong).await,
                0,
                "chunkId of chunk {chunk}"
            );
            total += rows;
        }
        // The other worker's chunks are not here.
        for &chunk in &summary.plan.workers[1 - w].chunks {
            assert!(!table_exists(&mut conn, db, &chunk_table(table, chunk)).await);
        }
        assert_no_leftovers(&mut conn, db).await;
    }
    total
}

async fn count(conn: &mut Conn, db: &str, table: String) -> u64 {
    scalar(conn, &format!("SELECT COUNT(*) FROM `{db}`.`{table}`")).await as u64
}

async fn assert_no_leftovers(conn: &mut Conn, db: &str) {
    let leftovers: Vec<String> = conn
        .exec(
            "SELECT TABLE_NAME FROM information_schema.TABLES WHERE TABLE_SCHEMA = ? \
             AND (TABLE_NAME LIKE '%\\_\\_loading' OR TABLE_NAME LIKE '%\\_\\_replaced')",
            (db,),
        )
        .await
        .unwrap();
    assert!(leftovers.is_empty(), "left behind: {leftovers:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn case01_object_and_source_load_onto_two_workers_and_reload_without_duplicates() {
    let tmp = tempfile::tempdir().unwrap();
    let db = "chunks_case01";
    for (index, table, input_rows) in [(0, "Object", 88), (1, "Source", 3339)] {
        let dir = tmp.path().join(table);
        let config = partition(index, &dir);
        let load = chunk_load(db, table, &dir, &config);
        let summary = load_chunks(&endpoints(), &load, None).await.unwrap();
        println!(
            "{table}: {} rows + {} overlap rows, {} tables in {:.3}s ({:.0} rows/s)\n{}",
            summary.rows,
            summary.overlap_rows,
            summary.tables,
            summary.elapsed.as_secs_f64(),
            summary.rows_per_second(),
            summary.plan
        );
        let chunks = load.files.chunks().unwrap();
        let planned: Vec<u32> = summary
            .plan
            .workers
            .iter()
            .flat_map(|w| w.chunks.clone())
            .collect();
        assert_eq!(planned.len(), chunks.len());
        assert!(summary.plan.workers.iter().all(|w| !w.chunks.is_empty()));
        assert_eq!(summary.rows, input_rows);
        assert_eq!(check_tables(&load, &summary).await, input_rows);
        if table == "Object" {
            assert!(summary.overlap_rows > 0, "case01 Object has overlap rows");
        }
        // A second run replaces: same counts, nothing doubled.
        let again = load_chunks(&endpoints(), &load, None).await.unwrap();
        assert_eq!(
            (again.rows, again.overlap_rows),
            (summary.rows, summary.overlap_rows)
        );
        assert_eq!(check_tables(&load, &again).await, input_rows);
    }
}

/// A copy of the chunk files of `dir` into `to`, with line `row` (1-based) of the largest chunk
/// file given a bad number in its third field (`filterId`, a TINYINT); returns that chunk.
fn corrupt_copy(dir: &Path, to: &Path, files: &ChunkFiles, row: usize) -> u32 {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        std::fs::copy(&path, to.join(path.file_name().unwrap())).unwrap();
    }
    let chunk = files
        .chunks()
        .unwrap()
        .into_iter()
        .max_by_key(|&c| lines(&files.file(c, false)))
        .unwrap();
    let file = to.join(files.file(chunk, false).file_name().unwrap());
    // Bytes, not text: case01 rows hold latin1 text and blobs.
    let delimiter = files.dialect.delimiter;
    let data = std::fs::read(&file).unwrap();
    let mut out: Vec<Vec<u8>> = data.split(|&b| b == b'\n').map(<[u8]>::to_vec).collect();
    assert!(out.len() > row, "chunk {chunk} has {} rows", out.len() - 1);
    let mut fields: Vec<Vec<u8>> = out[row - 1]
        .split(|&b| b == delimiter)
        .map(<[u8]>::to_vec)
        .collect();
    fields[2] = b"12.5.7".to_vec();
    out[row - 1] = fields.join(&delimiter);
    std::fs::write(&file, out.join(&b'\n')).unwrap();
    chunk
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bad_number_names_file_table_and_row_and_keeps_the_previous_tables() {
    let tmp = tempfile::tempdir().unwrap();
    let db = "chunks_bad_row";
    let dir = tmp.path().join("Source");
    let config = partition(1, &dir);
    let good = chunk_load(db, "Source", &dir, &config);
    let summary = load_chunks(&endpoints(), &good, None).await.unwrap();

    let bad_dir = tmp.path().join("bad");
    let chunk = corrupt_copy(&dir, &bad_dir, &good.files, 3);
    let mut bad = good.clone();
    bad.files.dir = bad_dir.clone();
    let err = load_chunks(&endpoints(), &bad, None).await.unwrap_err();
    match &err {
        LoadError::RowRejected {
            table, file, row, ..
        } => {
            assert_eq!(table, &format!("{db}.{}", chunk_table("Source", chunk)));
            assert_eq!(file, &bad.files.file(chunk, false));
            assert_eq!(*row, 3);
        }
        other => panic!("expected a rejected row, got {other:?}"),
    }
    let message = err.to_string();
    assert!(message.contains("column 'filterId' at row 3"), "{message}");
    // Every table still holds the first load, and no staging table is left on either worker.
    assert_eq!(check_tables(&good, &summary).await, 3339);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_ddl_error_carries_mariadbs_message_and_creates_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let db = "chunks_bad_ddl";
    let dir = tmp.path().join("Object");
    let config = partition(0, &dir);
    let mut load = chunk_load(db, "Object", &dir, &config);
    load.ddl.columns.push_str(",\n  `broken` NOSUCHTYPE(3)");
    let err = load_chunks(&endpoints(), &load, None).await.unwrap_err();
    let message = err.to_string();
    match &err {
        LoadError::Sql { table, action, .. } => {
            assert_eq!(table, &format!("{db}.Object"));
            assert_eq!(action, "create the prototype table");
        }
        other => panic!("expected an SQL error, got {other:?}"),
    }
    assert!(
        message.contains("Unknown data type: 'NOSUCHTYPE'"),
        "{message}"
    );
    for w in 0..2 {
        let mut conn = connect(w).await;
        let n = scalar(
            &mut conn,
            &format!("SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA = '{db}'"),
        )
        .await;
        assert_eq!(n, 0, "worker {w} has tables");
    }
}

/// A worker that cannot be reached fails the load before anything is published: the reachable
/// worker's staging tables are dropped.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_worker_fails_the_whole_load() {
    let tmp = tempfile::tempdir().unwrap();
    let db = "chunks_unreachable";
    let dir = tmp.path().join("Object");
    let config = partition(0, &dir);
    let load = chunk_load(db, "Object", &dir, &config);
    let dead = Endpoint::parse(&format!("mysql://root@127.0.0.1:{}", free_port())).unwrap();
    let err = load_chunks(&[endpoints()[0].clone(), dead.clone()], &load, None)
        .await
        .unwrap_err();
    assert!(
        matches!(&err, LoadError::Connect { endpoint, .. } if *endpoint == dead.address()),
        "{err:?}"
    );
    let mut conn = connect(0).await;
    let n = scalar(
        &mut conn,
        &format!("SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA = '{db}'"),
    )
    .await;
    assert_eq!(n, 0, "tables left on the reachable worker");
    // One server given twice is refused before anything happens.
    let twice = [endpoints()[1].clone(), endpoints()[1].clone()];
    let err = load_chunks(&twice, &load, None)
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.ends_with(&format!(
            "worker {} is given twice",
            endpoints()[1].address()
        )),
        "{err}"
    );
}

/// Runs `qserv-operator load --to-workers <both workers> ARGS`; returns stdout.
fn load_command(args: &[&std::ffi::OsStr]) -> String {
    let urls: Vec<String> = workers().iter().map(|w| w.url()).collect();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_qserv-operator"))
        .args(["load", "--to-workers", &urls.join(",")])
        .args(args)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

async fn rows_on_workers(db: &str, table: &str, chunks: &[u32]) -> u64 {
    let mut total = 0;
    for w in 0..2 {
        let mut conn = connect(w).await;
        for &chunk in chunks {
            if table_exists(&mut conn, db, &chunk_table(table, chunk)).await {
                total += count(&mut conn, db, chunk_table(table, chunk)).await;
            }
        }
    }
    total
}

/// The CLI on the output of a CatalogIngest table (default output fields and dialect) with the
/// table's `.schema`, and on sph-partition output described by its own config files.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cli_loads_partitioned_output_and_prints_the_plan() {
    let tmp = tempfile::tempdir().unwrap();
    let spec_dir = tmp.path().join("spec");
    let spec_config = partition(0, &spec_dir);
    let schema = case01().join("schema/Object.schema");
    let stdout = load_command(&[
        "--database".as_ref(),
        "chunks_cli".as_ref(),
        "--table".as_ref(),
        "Object".as_ref(),
        "--partitioned".as_ref(),
        spec_dir.as_os_str(),
        "--schema".as_ref(),
        schema.as_os_str(),
    ]);
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 3, "{stdout}");
    for (line, w) in lines.iter().zip(endpoints()) {
        assert!(line.starts_with(&format!("{}: ", w.address())), "{stdout}");
    }
    assert!(
        lines[2].starts_with(
            "loaded 88 rows (+24 overlap rows) into chunks_cli.Object on 2 workers (32 tables) in "
        ),
        "{stdout}"
    );
    let files = ChunkFiles::from_config(&spec_dir, &spec_config);
    let chunks = files.chunks().unwrap();
    assert_eq!(rows_on_workers("chunks_cli", "Object", &chunks).await, 88);

    // sph-partition's own configs: ',' delimited, no quoting, fields listed in Object.json.
    let sph_dir = tmp.path().join("sph");
    let mut store = qserv_operator::partition::ConfigStore::default();
    let configs = [
        case01().join("partition/common.json"),
        case01().join("partition/Object.json"),
    ];
    for c in &configs {
        store.add_file(c).unwrap();
    }
    let config = PartitionConfig::from_store(&store).unwrap();
    let opts = qserv_operator::partition::Options::new(
        vec![case01().join("Object.tsv.gz")],
        sph_dir.clone(),
    );
    partition_files(&config, &opts).unwrap();
    let stdout = load_command(&[
        "--database".as_ref(),
        "chunks_cli_sph".as_ref(),
        "--table".as_ref(),
        "Object".as_ref(),
        "--partitioned".as_ref(),
        sph_dir.as_os_str(),
        "--schema".as_ref(),
        schema.as_os_str(),
        "--part-config".as_ref(),
        configs[0].as_os_str(),
        "--part-config".as_ref(),
        configs[1].as_os_str(),
    ]);
    assert!(
        stdout.contains("loaded 88 rows (+24 overlap rows) into chunks_cli_sph.Object"),
        "{stdout}"
    );
    assert_eq!(
        rows_on_workers("chunks_cli_sph", "Object", &chunks).await,
        88
    );
}

/// The macs2243 CatalogIngest without region, band filter or column selection, its tables read
/// from HDF5 `file`.
fn macs2243_spec(file: &str) -> qserv_operator::api::CatalogIngestSpec {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let ingest: CatalogIngest = serde_norway::from_str(
        &std::fs::read_to_string(root.join("examples/catalogingest-macs2243.yaml")).unwrap(),
    )
    .unwrap();
    let mut spec = ingest.spec;
    spec.region = None;
    spec.filters = None;
    for t in &mut spec.tables {
        t.columns.clear();
        t.files = vec![file.to_string()];
    }
    spec
}

/// Partitions HDF5 `table` of `dir/file` into `work` and chunk-loads it into `db` (columns
/// from the catalog schema, as the CLI does without `--schema`).
async fn load_hdf5_table(
    dir: &Path,
    file: &str,
    table: &str,
    work: &Path,
    db: &str,
) -> ChunkLoadSummary {
    let spec = macs2243_spec(file);
    let t = spec.tables.iter().find(|t| t.name == table).unwrap();
    let out = work.join(format!("{db}-{table}"));
    let (config, opts) = table_plan(&spec, t, dir, &out).unwrap();
    let started = std::time::Instant::now();
    let partitioned = partition_files(&config, &opts).unwrap();
    println!(
        "partitioned {} rows into {} chunks in {:.2}s",
        partitioned.rows_read,
        partitioned.chunks.len(),
        started.elapsed().as_secs_f64()
    );
    let input = qserv_operator::load::Input {
        files: opts.inputs.clone(),
        format: opts.format.clone().unwrap(),
        selection: opts.selection.clone().unwrap(),
        batch_rows: 1024,
    };
    let schema = qserv_operator::load::stream::open(&input.files[0], &input)
        .unwrap()
        .schema();
    let load = ChunkLoad {
        database: db.into(),
        table: table.into(),
        ddl: TableDdl::from_schema(table, &schema).unwrap(),
        files: ChunkFiles::from_config(&out, &config),
    };
    load_chunks(&endpoints(), &load, None).await.unwrap()
}

/// Every value of macs2243 deepCoadd_meas (NaN as NULL, bools, fixed strings, radians) is in
/// the chunk tables exactly as the reference loader stores it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hdf5_rows_land_in_chunk_tables_exactly_as_in_the_reference() {
    let data = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/data/clusters");
    let tmp = tempfile::tempdir().unwrap();
    let summary = load_hdf5_table(
        &data,
        "macs2243.h5",
        "deepCoadd_meas",
        tmp.path(),
        "chunks_meas",
    )
    .await;
    assert_eq!(summary.rows, 10000);
    // The reference copy, on worker 0 in another database.
    let input = common::hdf5_input(data.join("macs2243.h5"), "deepCoadd_meas", &[]);
    qserv_operator::load::load_reference(
        &endpoints()[0],
        &qserv_operator::load::ReferenceLoad::new("chunks_meas_ref", "deepCoadd_meas", input),
        None,
    )
    .await
    .unwrap();
    let mut conn = connect(0).await;
    let mut expected = common::rows(
        &mut conn,
        "SELECT * FROM chunks_meas_ref.deepCoadd_meas ORDER BY id",
    )
    .await;
    let mut got = Vec::new();
    for (w, assigned) in summary.plan.workers.iter().enumerate() {
        let mut conn = connect(w).await;
        for &chunk in &assigned.chunks {
            let sql = format!(
                "SELECT * FROM chunks_meas.{} ORDER BY id",
                chunk_table("deepCoadd_meas", chunk)
            );
            for mut row in common::rows(&mut conn, &sql).await {
                // chunkId, subChunkId come last.
                row.truncate(row.len() - 2);
                got.push(row);
            }
        }
    }
    got.sort_by_key(|r| r[0].as_i64());
    expected.sort_by_key(|r| r[0].as_i64());
    assert_eq!(got.len(), 10000);
    assert!(got == expected, "chunk tables differ from the reference");
}

/// Chunk loader throughput on a synthetic catalog (deepCoadd_forced_src, 5 rows per object):
/// `QSERV_BENCH_OBJECTS=200000 cargo test --release --test load_chunks -- --ignored --nocapture`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "benchmark: run with --release --ignored --nocapture"]
async fn bench_chunk_loader_on_a_synthetic_catalog() {
    let objects = std::env::var("QSERV_BENCH_OBJECTS").unwrap_or_else(|_| "200000".into());
    let tmp = tempfile::tempdir().unwrap();
    let h5 = tmp.path().join("bench.h5");
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let out = std::process::Command::new(root.join(".venv/bin/python"))
        .arg(root.join("../shared/data/clusters/make_catalog.py"))
        .args([h5.as_os_str(), objects.as_ref()])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let summary = load_hdf5_table(
        tmp.path(),
        "bench.h5",
        "deepCoadd_forced_src",
        tmp.path(),
        "chunks_bench",
    )
    .await;
    println!(
        "chunk loader: {} rows + {} overlap rows, {} tables on 2 workers in {:.2}s: {:.0} rows/s",
        summary.rows,
        summary.overlap_rows,
        summary.tables,
        summary.elapsed.as_secs_f64(),
        summary.rows_per_second()
    );
}

/// A connection killed in the middle of a chunk file's `LOAD DATA` fails the load naming the
/// worker and the chunk table, and no staging table survives (dropped on a fresh connection).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_connection_lost_mid_file_is_reported_and_cleaned_up() {
    use qserv_operator::partition::csv::Dialect;
    let tmp = tempfile::tempdir().unwrap();
    let db = "chunks_killed";
    // One big chunk file, so the LOAD runs long enough to be caught.
    let mut text = String::new();
    for i in 0..400_000 {
        text.push_str(&format!("{i}\t{}.5\t100\t{}\n", i % 977, i % 12));
    }
    std::fs::write(tmp.path().join("chunk_100.txt"), text).unwrap();
    let load = ChunkLoad {
        database: db.into(),
        table: "T".into(),
        ddl: TableDdl {
            columns: "`id` BIGINT NOT NULL, `x` DOUBLE".into(),
            column_names: vec!["id".into(), "x".into()],
            options: "ENGINE=MyISAM".into(),
        },
        files: ChunkFiles {
            dir: tmp.path().to_path_buf(),
            prefix: "chunk".into(),
            fields: ["id", "x", "chunkId", "subChunkId"]
                .map(String::from)
                .to_vec(),
            dialect: Dialect {
                delimiter: b'\t',
                quote: None,
                escape: Some(b'\\'),
                null: b"\\N".to_vec(),
            },
        },
    };
    let worker = [endpoints()[0].clone()];
    let killer = tokio::spawn(async move {
        let mut conn = connect(0).await;
        for _ in 0..2000 {
            let id: Option<u64> = conn
                .query_first(
                    "SELECT ID FROM information_schema.PROCESSLIST \
                     WHERE INFO LIKE 'LOAD DATA LOCAL INFILE%chunks_killed%'",
                )
                .await
                .unwrap();
            if let Some(id) = id {
                conn.query_drop(format!("KILL CONNECTION {id}"))
                    .await
                    .unwrap();
                return true;
            }
            tokio::time::sleep(std::time::Duration::from_millis(2)).await;
        }
        false
    });
    let result = load_chunks(&worker, &load, None).await;
    assert!(killer.await.unwrap(), "the LOAD was never seen running");
    let err = result.unwrap_err();
    println!("{err}");
    let table = format!("{db}.T_100");
    match &err {
        LoadError::ConnectionLost {
            endpoint,
            table: t,
            reason,
        } => {
            assert_eq!(endpoint, &worker[0].address());
            assert_eq!(t, &table);
            let file = tmp.path().join("chunk_100.txt");
            assert!(
                reason.starts_with(&format!("while sending {}: ", file.display())),
                "{reason}"
            );
        }
        // MariaDB may still answer with the kill's own error before closing.
        LoadError::Sql { table: t, .. } => assert_eq!(t, &table),
        other => panic!("expected a lost connection, got {other:?}"),
    }
    let mut conn = connect(0).await;
    assert_no_leftovers(&mut conn, db).await;
    assert!(!table_exists(&mut conn, db, "T_100").await);
    assert!(!table_exists(&mut conn, db, "T").await);
}
