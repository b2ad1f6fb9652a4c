//! The ports of the Qserv components, in one place (the containers' ports, the Services, the
//! NetworkPolicies and the config files all take them from here).

/// Port of the replication controller's and registry's REST APIs (the Go operator's `HTTPPort`,
/// passed as `--controller-http-server-port` and `--registry-port`:
/// lsst/qserv-operator `configmap/repl-ctl/start/start.sh`).
pub const REPLICATION_HTTP_PORT: i32 = 8080;

/// The worker's HTTP ingest service (`worker.http-loader-port`, default 25004 in lsst/qserv
/// `src/replica/config/ConfigurationSchema.cc`; it serves `GET /meta/version`,
/// `src/replica/IngestHttpSvc.cc`).
pub const WORKER_HTTP_LOADER_PORT: i32 = 25004;

/// The MySQL-protocol query port of the czar proxy (`expose: "4040"` of `czar-proxy` in the
/// docker-compose file; `ProxyPort` in lsst/qserv-operator `pkg/constants/constants.go`).
pub const PROXY_PORT: i32 = 4040;

/// MariaDB port of the czar, worker, replication and reference databases (docker-compose.yml in
/// lsst/qserv `admin/local/docker/compose/`: `command: --port 3306`).
pub const MARIADB_PORT: i32 = 3306;

/// xrootd data port of workers and redirector (`expose: "1094"` in the docker-compose file,
/// `XrootdPort` in lsst/qserv-operator `pkg/constants/constants.go`).
pub const XROOTD_PORT: i32 = 1094;

/// The cmsd manager port (`expose: "2131"` of `manager-xrootd` in the docker-compose file,
/// `CmsdPort` in lsst/qserv-operator `pkg/constants/constants.go`).
pub const CMSD_PORT: i32 = 2131;
