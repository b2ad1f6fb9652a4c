//! The MariaDB accounts a pod's database holds once the pod has started, as the real images
//! and Qserv's schema migrations create them, so a client that logs in with the wrong user or
//! password is refused here as it would be on a real instance:
//! - `root`: the MariaDB image's `MYSQL_ROOT_PASSWORD` (see `mariadb.rs`);
//! - `MARIADB_USER`/`MARIADB_PASSWORD` of the MariaDB container (the official image's first
//!   start creates `'user'@'%'` and grants it all on `MARIADB_DATABASE` when one is named,
//!   nothing else: mariadb docker-library `docker-entrypoint.sh`, `docker_setup_db`);
//! - `qsmaster` where a Qserv container of the pod runs the schema migration that creates it:
//!   - `entrypoint proxy`: identified by the password of its `--db-uri`
//!     (`Q@2026.3.3-rc1:python/lsst/qserv/admin/cli/script.py:603-621`), which Jinja renders as
//!     `None` when the URI has none (`…/schema_mig_mgr.py:326-333`); SELECT on everything, all on
//!     qservMeta, qservCssData, qservResult (`…/schema/migrations/czar/migrate-None-to-17.sql.jinja:5-17,303-304,327-328`);
//!   - `entrypoint worker-xrootd`: identified by the hard-coded `CHANGEME`, whatever its
//!     `--db-uri` says (`script.py:59,452`); SELECT on everything, all on `qservw_worker` and the
//!     sub-chunk databases (`…/migrations/worker/migrate-None-to-3.sql.jinja:5-24`).
//!
//! Differences from the real pods (bugs until fixed): the accounts exist from the server's first
//! start, where Qserv creates qsmaster only once the proxy or worker-xrootd container has run its
//! migration; the password is taken at the first start only (as the migration runs once).

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{Container, Pod};

use super::env::{self, Sources};

/// One account: created at `'localhost'` and `'%'` unless `any_host_only`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Account {
    pub user: String,
    pub password: String,
    /// `GRANT <privileges> ON <what>` clauses, e.g. `SELECT ON *.*`.
    pub grants: Vec<String>,
    pub any_host_only: bool,
}

impl Account {
    /// The statements that create it, one per line (for `--init-file`).
    pub fn sql(&self) -> Vec<String> {
        let hosts: &[&str] = if self.any_host_only {
            &["%"]
        } else {
            &["localhost", "%"]
        };
        let mut out = Vec::new();
        for host in hosts {
            let who = format!("{}@{}", sql_string(&self.user), sql_string(host));
            out.push(format!(
                "CREATE USER IF NOT EXISTS {who} IDENTIFIED BY {};",
                sql_string(&self.password)
            ));
            for grant in &self.grants {
                let (privileges, what) = grant.split_once(" ON ").unwrap_or((grant, "*.*"));
                out.push(format!("GRANT {privileges} ON {what} TO {who};"));
            }
        }
        out
    }
}

/// The worker's qsmaster password, hard-coded by the release (`script.py:59`).
const WORKER_QSMASTER_PASSWORD: &str = "CHANGEME";

/// The accounts of the MariaDB container `mariadb` of `pod`, besides root.
pub fn accounts(pod: &Pod, mariadb: &Container, src: &Sources) -> Result<Vec<Account>, String> {
    let mut out = Vec::new();
    let own = env::resolve(pod, mariadb, src)?;
    let var = |a: &str, b: &str| own.get(a).or_else(|| own.get(b)).cloned();
    if let (Some(user), Some(password)) = (
        var("MARIADB_USER", "MYSQL_USER"),
        var("MARIADB_PASSWORD", "MYSQL_PASSWORD"),
    ) {
        let grants = var("MARIADB_DATABASE", "MYSQL_DATABASE")
            .map(|db| vec![format!("ALL ON `{}`.*", db.replace('`', "``"))])
            .unwrap_or_default();
        out.push(Account {
            user,
            password,
            grants,
            any_host_only: true,
        });
    }
    let containers = pod.spec.as_ref().map(|s| s.containers.as_slice());
    for container in containers.unwrap_or_default() {
        match entrypoint_command(container) {
            Some("proxy") => {
                let vars = env::resolve(pod, container, src)?;
                let password = db_uri_password(container, &vars)?
                    // Jinja renders Python's None as the string "None".
                    .unwrap_or_else(|| "None".into());
                out.push(qsmaster(
                    password,
                    &["qservMeta", "qservCssData", "qservResult"],
                ));
            }
            Some("worker-xrootd") => out.push(qsmaster(
                WORKER_QSMASTER_PASSWORD.into(),
                &["qservw_worker", "q\\_memoryLockDb", "Subchunks\\_%"],
            )),
            _ => {}
        }
    }
    Ok(out)
}

fn qsmaster(password: String, databases: &[&str]) -> Account {
    let mut grants = vec!["SELECT ON *.*".to_string()];
    grants.extend(databases.iter().map(|db| format!("ALL ON `{db}`.*")));
    Account {
        user: "qsmaster".into(),
        password,
        grants,
        any_host_only: false,
    }
}

/// `proxy` for `command: [entrypoint]`, `args: [proxy, ...]` (and for `entrypoint proxy` in
/// `command` alone), skipping the group's own options such as `--log-level X`.
fn entrypoint_command(container: &Container) -> Option<&str> {
    let words: Vec<&str> = container
        .command
        .iter()
        .flatten()
        .chain(container.args.iter().flatten())
        .map(String::as_str)
        .collect();
    let (first, rest) = words.split_first()?;
    if first.rsplit('/').next() != Some("entrypoint") {
        return None;
    }
    let mut rest = rest.iter();
    while let Some(word) = rest.next() {
        match *word {
            "--log-level" => {
                rest.next();
            }
            w if w.starts_with('-') => {}
            w => return Some(w),
        }
    }
    None
}

/// The password of the container's `--db-uri` (`--db-uri=URI` or `--db-uri URI`), `$(VAR)`
/// expanded; `None` when the URI has no password.
fn db_uri_password(
    container: &Container,
    vars: &BTreeMap<String, String>,
) -> Result<Option<String>, String> {
    let args: Vec<&String> = container.args.iter().flatten().collect();
    let uri = args.iter().enumerate().find_map(|(i, a)| {
        a.strip_prefix("--db-uri=").map(str::to_string).or_else(|| {
            (a.as_str() == "--db-uri").then(|| args.get(i + 1).map(|s| s.to_string()))?
        })
    });
    let Some(uri) = uri else {
        return Err(format!(
            "container {}: `entrypoint proxy` without --db-uri (a required option)",
            container.name
        ));
    };
    let uri = env::expand(&uri, vars);
    let opts = mysql_async::Opts::from_url(&uri)
        .map_err(|e| format!("container {}: --db-uri {uri:?}: {e}", container.name))?;
    Ok(opts.pass().filter(|p| !p.is_empty()).map(str::to_string))
}

fn sql_string(s: &str) -> String {
    let escaped = s.replace('\\', "\\\\").replace('\'', "\\'");
    format!("'{escaped}'")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn container(name: &str, command: &[&str], args: &[&str]) -> Container {
        Container {
            name: name.into(),
            command: Some(command.iter().map(|s| s.to_string()).collect()),
            args: Some(args.iter().map(|s| s.to_string()).collect()),
            ..Container::default()
        }
    }

    #[test]
    fn the_entrypoint_command_skips_group_options() {
        let c = container(
            "p",
            &["entrypoint"],
            &["--log-level", "DEBUG", "proxy", "--x"],
        );
        assert_eq!(entrypoint_command(&c), Some("proxy"));
        let c = container("w", &["/usr/local/bin/entrypoint", "worker-xrootd"], &[]);
        assert_eq!(entrypoint_command(&c), Some("worker-xrootd"));
        assert_eq!(entrypoint_command(&container("m", &["mysqld"], &[])), None);
    }

    #[test]
    fn the_proxy_password_comes_from_its_db_uri_and_none_is_the_string_none() {
        let vars = BTreeMap::from([("PW".to_string(), "s3cret".to_string())]);
        let c = container(
            "proxy",
            &["entrypoint"],
            &["proxy", "--db-uri=mysql://qsmaster:$(PW)@127.0.0.1:3306"],
        );
        assert_eq!(
            db_uri_password(&c, &vars).unwrap().as_deref(),
            Some("s3cret")
        );
        let c = container(
            "proxy",
            &["entrypoint"],
            &["proxy", "--db-uri", "mysql://qsmaster@127.0.0.1:3306"],
        );
        assert_eq!(db_uri_password(&c, &vars).unwrap(), None);
        let c = container("proxy", &["entrypoint"], &["proxy"]);
        assert!(db_uri_password(&c, &vars).unwrap_err().contains("--db-uri"));
    }

    #[test]
    fn qsmaster_is_read_only_outside_its_own_databases() {
        let sql = qsmaster("pw".into(), &["qservMeta"]).sql();
        assert_eq!(
            sql,
            [
                "CREATE USER IF NOT EXISTS 'qsmaster'@'localhost' IDENTIFIED BY 'pw';",
                "GRANT SELECT ON *.* TO 'qsmaster'@'localhost';",
                "GRANT ALL ON `qservMeta`.* TO 'qsmaster'@'localhost';",
                "CREATE USER IF NOT EXISTS 'qsmaster'@'%' IDENTIFIED BY 'pw';",
                "GRANT SELECT ON *.* TO 'qsmaster'@'%';",
                "GRANT ALL ON `qservMeta`.* TO 'qsmaster'@'%';",
            ]
        );
    }
}
