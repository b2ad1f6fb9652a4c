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

/// The czar's qsmaster password as `entrypoint proxy` renders it: the password of its `--db-uri`
/// (`Q@2026.3.3-rc1:python/lsst/qserv/admin/cli/script.py:603-617`), which the czar's schema
/// migration also creates the account with (`…/schema/migrations/czar/migrate-None-to-17.sql.jinja:5-6`).
/// Qserv's own template writes `CHANGEME` here; the operator passes a generated password instead.
pub const CZAR_QSMASTER_PASSWORD: &str = "{{ mysqld_user_qserv_password }}";

/// The worker's qsmaster password. It is not ours to choose: `entrypoint worker-xrootd` creates the
/// account with the hard-coded `CHANGEME` (`Q@2026.3.3-rc1:python/lsst/qserv/admin/cli/script.py:59,452`),
/// and `worker-cmsd` renders the xrdssi file with its click arguments only (`:371-372`), where a
/// `{{ mysqld_user_qserv_password }}` would be undefined. The account is reachable only over
/// the pod's loopback (the NetworkPolicy keeps 3306 of workers off the open paths).
pub const WORKER_QSMASTER_PASSWORD: &str = "CHANGEME";

/// `[replication]` of the czar and worker configs: the registry the process registers with and
/// the security context it proves, filled by the entrypoint from its `--repl-*` options, as in
/// `Q@2026.3.3-rc1:src/admin/templates/proxy/etc/qserv-czar.cnf.jinja:116-166` and
/// `…/xrootd/etc/xrdssi.cf.jinja:85-131`. The C++ loaders require them: the czar throws on an
/// empty `registry_host` or a zero `registry_port` (`Q@2026.3.3-rc1:src/cconfig/CzarConfig.cc:97-103`),
/// the worker on any missing required key (`src/wconfig/WorkerConfig.h:315-321`,
/// `WorkerConfig.cc:84-86`). `http_port = 0` (the `--repl-http-port` default, as in
/// `deploy/compose/docker-compose.yml`) lets the management service take the first free port and
/// report it to the registry; worker-xrootd and worker-cmsd share the pod's network, so a fixed
/// port would be bound twice.
const REPLICATION_SECTION: &[(&str, &str)] = &[
    ("instance_id", "{{ repl_instance_id }}"),
    ("auth_key", "{{ repl_auth_key }}"),
    ("admin_auth_key", "{{ repl_admin_auth_key }}"),
    ("registry_host", "{{ repl_registry_host }}"),
    ("registry_port", "{{ repl_registry_port }}"),
    ("registry_heartbeat_ival_sec", "1"),
    ("http_port", "{{ repl_http_port }}"),
    ("num_http_threads", "2"),
];

/// The `[replication]` options the entrypoint fills; `spec.config` may not override them.
pub const REPLICATION_TEMPLATED: &[&str] = &[
    "replication.instance_id",
    "replication.auth_key",
    "replication.admin_auth_key",
    "replication.registry_host",
    "replication.registry_port",
    "replication.http_port",
];

/// Defaults of `Q@2026.3.3-rc1:src/admin/templates/proxy/etc/qserv-czar.cnf.jinja`; the `{{ }}`
/// values are exactly the variables `entrypoint proxy` provides (its click options plus
/// `czar_db_host/port/socket`, `mysqld_user_qserv_password`, `proxy_backend_address`:
/// `Q@2026.3.3-rc1:python/lsst/qserv/admin/cli/script.py:603-617`), rendered under
/// `StrictUndefined` (`…/admin/template.py:94-96`). No `[partitioner]`/`empty_chunk_path`: gone
/// since 2024.5 (the empty-chunk list is a table in `qservCssData`).
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
                ("password", CZAR_QSMASTER_PASSWORD),
                ("database", "qservCssData"),
            ],
        ),
        (
            "resultdb",
            &[
                ("user", "qsmaster"),
                ("passwd", CZAR_QSMASTER_PASSWORD),
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
                ("passwd", CZAR_QSMASTER_PASSWORD),
                ("db", "qservMeta"),
                ("maxMsgSourceStore", "5"),
            ],
        ),
        (
            "qstatus",
            &[
                ("user", "qsmaster"),
                ("passwd", CZAR_QSMASTER_PASSWORD),
                ("db", "qservMeta"),
                ("host", "{{ czar_db_host }}"),
                ("port", "{{ czar_db_port }}"),
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
        ("replication", REPLICATION_SECTION),
    ]);
    for section in ["resultdb", "qmeta"] {
        let options = settings.entry(section.into()).or_default();
        for (o, v) in db {
            options.insert(o.to_string(), v.to_string());
        }
    }
    settings
}

/// Defaults of `Q@2026.3.3-rc1:src/admin/templates/xrootd/etc/xrdssi.cf.jinja`; `[mysql]` host,
/// port and socket are filled by the entrypoint from `--db-uri` (`script.py:367-369,447-449`),
/// `[results] dirname` from `--results-dirname`, `[replication]` from `--repl-*`. No `[memman]`
/// (memman left Qserv in 2025.6).
pub fn worker_defaults() -> Ini {
    ini(&[
        (
            "mysql",
            &[
                ("hostname", "{{ db_host }}"),
                ("port", "{{ db_port }}"),
                ("socket", "{{ db_socket }}"),
                ("username", "qsmaster"),
                ("password", WORKER_QSMASTER_PASSWORD),
            ],
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
            &[("maxsqlconn", "980"), ("reservedinteractivesqlconn", "930")],
        ),
        (
            "results",
            &[
                ("dirname", "{{ results_dirname }}"),
                ("xrootd_port", "1094"),
                ("num_http_threads", "4"),
                ("clean_up_on_start", "1"),
            ],
        ),
        ("replication", REPLICATION_SECTION),
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
