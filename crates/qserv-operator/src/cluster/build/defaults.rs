//! Qserv's default configuration, transcribed from its templates (cited per item), which
//! [`super::config`] renders with the `spec.config` overrides applied.

use super::ports::MARIADB_PORT;
use std::collections::BTreeMap;

/// `section -> option -> value`, sorted so the rendering is deterministic.
pub type Ini = BTreeMap<String, BTreeMap<String, String>>;

pub fn ini(entries: &[(&str, &[(&str, &str)])]) -> Ini {
    entries
        .iter()
        .map(|(section, options)| {
            let options = options
                .iter()
                .map(|(o, v)| (o.to_string(), v.to_string()))
                .collect();
            (section.to_string(), options)
        })
        .collect()
}

/// Defaults of lsst/qserv `src/admin/templates/proxy/etc/qserv-czar.cnf.jinja`; the `{{ }}`
/// values are filled by `entrypoint proxy` from its `--db-uri` and `--xrootd-manager`.
pub fn czar_defaults() -> Ini {
    let db: &[(&str, &str)] = &[
        ("host", "{{ czar_db_host }}"),
        ("port", "{{ czar_db_port }}"),
        ("unix_socket", "{{ czar_db_socket }}"),
    ];
    let mut settings = ini(&[
        ("frontend", &[("xrootd", "{{ xrootd_manager }}:1094")]),
        (
            "css",
            &[
                ("technology", "mysql"),
                ("hostname", "{{ czar_db_host }}"),
                ("port", "{{ czar_db_port }}"),
                ("socket", "{{ czar_db_socket }}"),
                ("username", "qsmaster"),
                ("password", ""),
                ("database", "qservCssData"),
            ],
        ),
        (
            "resultdb",
            &[
                ("user", "qsmaster"),
                ("passwd", ""),
                ("db", "qservResult"),
                ("oldestResultKeptDays", "7"),
                ("maxsqlconnectionattempts", "10"),
                ("maxtablesize_mb", "5100"),
            ],
        ),
        (
            "qmeta",
            &[
                ("user", "qsmaster"),
                ("passwd", ""),
                ("db", "qservMeta"),
                ("maxMsgSourceStore", "5"),
            ],
        ),
        (
            "qstatus",
            &[
                ("user", "qsmaster"),
                ("passwd", ""),
                ("db", "qservMeta"),
                ("host", "{{ czar_db_host }}"),
                ("port", "{{ czar_db_port }}"),
            ],
        ),
        (
            "partitioner",
            &[
                ("emptyChunkPath", "{{ empty_chunk_path }}"),
                (
                    "emptyChunkListFile",
                    "{{ empty_chunk_path }}/emptyChunks.txt",
                ),
            ],
        ),
        (
            "tuning",
            &[
                ("largeResultConcurrentMerges", "6"),
                ("xrootdCBThreadsMax", "500"),
                ("xrootdCBThreadsInit", "50"),
                ("xrootdSpread", "0"),
                ("qMetaSecsBetweenChunkCompletionUpdates", "59"),
                ("notifyWorkersOnQueryFinish", "1"),
                ("notifyWorkersOnCzarRestart", "1"),
            ],
        ),
        (
            "qdisppool",
            &[
                ("poolSize", "50"),
                ("largestPriority", "3"),
                ("vectRunSizes", "50:50:50:50"),
                ("vectMinRunningSizes", "0:1:3:3"),
                ("qReqPseudoFifoMaxRunning", "299"),
            ],
        ),
    ]);
    for section in ["resultdb", "qmeta"] {
        let options = settings.entry(section.into()).or_default();
        for (o, v) in db {
            options.insert(o.to_string(), v.to_string());
        }
    }
    settings
}

/// Defaults of lsst/qserv `src/admin/templates/xrootd/etc/xrdssi.cf.jinja`; `[mysql]` host and
/// port are filled by the entrypoint from `--db-uri`.
pub fn worker_defaults() -> Ini {
    ini(&[
        (
            "mysql",
            &[
                ("hostname", "{{ db_host }}"),
                ("port", "{{ db_port }}"),
                ("socket", "{{ db_socket }}"),
                ("username", "qsmaster"),
                ("password", ""),
            ],
        ),
        (
            "memman",
            &[("memory", "7900"), ("location", "/qserv/data/mysql")],
        ),
        (
            "scheduler",
            &[
                ("thread_pool_size", "20"),
                ("required_tasks_completed", "1"),
                ("group_size", "10"),
                ("maxActiveChunks_snail", "1"),
                ("maxActiveChunks_slow", "4"),
                ("maxActiveChunks_med", "4"),
                ("maxActiveChunks_fast", "4"),
            ],
        ),
        (
            "sqlconnections",
            &[("maxsqlconn", "800"), ("reservedinteractivesqlconn", "20")],
        ),
        (
            "transmits",
            &[("maxtransmits", "50"), ("maxalreadytransmitting", "10")],
        ),
    ])
}

/// lsst/qserv `src/admin/templates/mariadb/etc/my.cnf` (czar and worker databases), without the
/// query log (a performance killer, off there too).
pub const QSERV_MY_CNF: &str = "\
[mysqld]
datadir=/qserv/data/mysql
port=3306
symbolic-links=0
tmp_table_size=4G
max_heap_table_size=4G
innodb_file_per_table=1
max_connections=16384
connect_timeout=28800
use_stat_tables='preferably'
optimizer_use_condition_selectivity=3
net_read_timeout=90000
net_write_timeout=90000
";

/// lsst/qserv `src/admin/templates/repl-db/etc/my.cnf` (replication database); `user = qserv`
/// dropped since MariaDB runs as its own non-root user here.
pub const REPLICATION_MY_CNF: &str = "\
[mysqld]
datadir=/qserv/data/mysql
port=3306
host_cache_size=0
max_connections=16384
connect_timeout=28800
net_read_timeout=90000
net_write_timeout=90000
query-cache-size=0
symbolic-links=0
log-warnings=2
";

/// log4cxx configuration, as lsst/qserv `admin/local/docker/compose/log/log.cnf` but at INFO:
/// to the console, where `kubectl logs` reads it.
pub const LOG_CNF: &str = "\
log4j.rootLogger=INFO, CONSOLE
log4j.appender.CONSOLE=org.apache.log4j.ConsoleAppender
log4j.appender.CONSOLE.layout=org.apache.log4j.PatternLayout
log4j.appender.CONSOLE.layout.ConversionPattern=%d{yyyy-MM-ddTHH:mm:ss.SSSZ}  LWP %-5X{LWP} %-5p  %m%n
log4j.logger.lsst.qserv.xrdssi.msgs=WARN
";

// MARIADB_PORT is written literally in the my.cnf constants above; keep them in step.
const _: () = assert!(MARIADB_PORT == 3306);
