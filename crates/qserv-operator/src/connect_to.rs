//! Where a `host:port` is really reached from this process, like curl's `--connect-to`.
//!
//! Clients of this crate name what they talk to as the cluster does: Service and pod DNS
//! names (`qserv-ci-worker-0.qserv-ci-worker:3306`, `http://qserv-ci-repl-ctl:8080`). Outside the
//! cluster's DNS those names do not resolve: a person running `qserv-operator check` or `query`
//! on a laptop through `kubectl port-forward`, or a Job of local mode, whose pods listen on free
//! loopback ports. An address map says where each `host:port` answers instead: a JSON file
//! `{"entries": {"host:port": "ip:port"}}` named by [`ENV`], re-read at each connection (the
//! ports behind it may move while a client runs), or registered in-process with
//! [`register_map`]. Every client resolves through [`resolve`] / [`resolve_url`] before it
//! connects; without a map (on a real cluster) both are the identity.
//!
//! A host is matched as written and with the usual cluster suffixes stripped
//! (`.svc.cluster.local`, `.svc`, `.<namespace>`), so `a.b.ns.svc.cluster.local`, `a.b.ns` and
//! `a.b` find the same entry when the map has `a.b`.

use std::collections::BTreeMap;
use std::io;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::RwLock;

use serde::{Deserialize, Serialize};

/// Environment variable naming the address map file.
pub const ENV: &str = "QSERV_OPERATOR_CONNECT_TO";

/// `"host:port"` → the loopback address that serves it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AddressMap {
    pub entries: BTreeMap<String, SocketAddr>,
}

impl AddressMap {
    /// Reads a map file; a missing file is an empty map.
    pub fn load(path: &Path) -> io::Result<AddressMap> {
        match std::fs::read(path) {
            Ok(bytes) => serde_json::from_slice(&bytes).map_err(|e| {
                io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!("address map {}: {e}", path.display()),
                )
            }),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(AddressMap::default()),
            Err(e) => Err(e),
        }
    }

    /// Writes the map atomically (temp file + rename), so a reader never sees half a file.
    pub fn save(&self, path: &Path) -> io::Result<()> {
        let tmp = path.with_extension("tmp");
        let json = serde_json::to_vec_pretty(self).map_err(io::Error::other)?;
        std::fs::write(&tmp, json)?;
        std::fs::rename(&tmp, path)
    }

    pub fn insert(&mut self, host: &str, port: u16, reached_at: SocketAddr) {
        self.entries.insert(format!("{host}:{port}"), reached_at);
    }

    pub fn remove_host(&mut self, host: &str) {
        let prefix = format!("{host}:");
        self.entries.retain(|k, _| !k.starts_with(&prefix));
    }

    /// Where `host:port` is reached, trying the host without cluster DNS suffixes too.
    pub fn get(&self, host: &str, port: u16) -> Option<SocketAddr> {
        candidates(host).find_map(|h| self.entries.get(&format!("{h}:{port}")).copied())
    }
}

/// `host` as written, then without `.cluster.local`, `.svc` and finally the last label.
fn candidates(host: &str) -> impl Iterator<Item = String> {
    let mut out = vec![host.to_string()];
    let mut h = host;
    for suffix in [".cluster.local", ".svc"] {
        if let Some(stripped) = h.strip_suffix(suffix) {
            h = stripped;
            out.push(h.to_string());
        }
    }
    // `<service>.<namespace>` or `<pod>.<service>.<namespace>`: the last label may be the
    // namespace (a map key never has one).
    if let Some((rest, _namespace)) = h.rsplit_once('.') {
        out.push(rest.to_string());
    }
    out.into_iter()
}

/// Maps registered in this process: where a program runs the operator beside whatever serves
/// the mapped addresses (local mode, tests), an environment variable would be a process-wide
/// race.
static REGISTERED: RwLock<Vec<PathBuf>> = RwLock::new(Vec::new());

/// Makes [`resolve`] in this process consult the map at `path` (before [`ENV`]).
pub fn register_map(path: &Path) {
    let mut maps = REGISTERED.write().unwrap_or_else(|p| p.into_inner());
    if !maps.iter().any(|p| p == path) {
        maps.push(path.to_path_buf());
    }
}

/// Undoes [`register_map`].
pub fn unregister_map(path: &Path) {
    REGISTERED
        .write()
        .unwrap_or_else(|p| p.into_inner())
        .retain(|p| p != path);
}

/// Where `host:port` is reached from this process: the entry of the first registered map, or
/// of the map [`ENV`] names, that has it; else `host:port` unchanged.
pub fn resolve(host: &str, port: u16) -> (String, u16) {
    let mut paths: Vec<PathBuf> = REGISTERED.read().unwrap_or_else(|p| p.into_inner()).clone();
    paths.extend(std::env::var_os(ENV).map(PathBuf::from));
    for path in paths {
        match AddressMap::load(&path) {
            Ok(map) => {
                if let Some(addr) = map.get(host, port) {
                    return (addr.ip().to_string(), addr.port());
                }
            }
            Err(e) => tracing::warn!(%e, "cannot read an address map"),
        }
    }
    (host.to_string(), port)
}

/// [`resolve`] applied to the host and port of an `http(s)://` or `mysql://` URL.
pub fn resolve_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_string();
    };
    let (authority, path) = match rest.find('/') {
        Some(i) => rest.split_at(i),
        None => (rest, ""),
    };
    let (userinfo, hostport) = match authority.rsplit_once('@') {
        Some((u, h)) => (Some(u), h),
        None => (None, authority),
    };
    let Some((host, port)) = hostport
        .rsplit_once(':')
        .and_then(|(h, p)| Some((h, p.parse::<u16>().ok()?)))
    else {
        return url.to_string();
    };
    let (host, port) = resolve(host, port);
    match userinfo {
        Some(u) => format!("{scheme}://{u}@{host}:{port}{path}"),
        None => format!("{scheme}://{host}:{port}{path}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cluster_suffixes_are_stripped() {
        let mut map = AddressMap::default();
        let local: SocketAddr = "127.0.0.1:41000".parse().unwrap();
        map.insert("qserv-ci-worker-0.qserv-ci-worker", 3306, local);
        for host in [
            "qserv-ci-worker-0.qserv-ci-worker",
            "qserv-ci-worker-0.qserv-ci-worker.qserv",
            "qserv-ci-worker-0.qserv-ci-worker.qserv.svc",
            "qserv-ci-worker-0.qserv-ci-worker.qserv.svc.cluster.local",
        ] {
            assert_eq!(map.get(host, 3306), Some(local), "{host}");
        }
        assert_eq!(map.get("qserv-ci-worker-0.qserv-ci-worker", 3307), None);
        assert_eq!(map.get("qserv-ci-worker-1.qserv-ci-worker", 3306), None);
    }

    #[test]
    fn map_round_trips_through_a_file_and_missing_file_is_empty() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("addresses.json");
        assert_eq!(AddressMap::load(&path).unwrap(), AddressMap::default());
        let mut map = AddressMap::default();
        map.insert("czar", 4040, "127.0.0.1:40001".parse().unwrap());
        map.insert("czar", 3306, "127.0.0.1:40002".parse().unwrap());
        map.save(&path).unwrap();
        let mut back = AddressMap::load(&path).unwrap();
        assert_eq!(back, map);
        back.remove_host("czar");
        assert!(back.entries.is_empty());

        // A registered map is consulted by resolve and resolve_url.
        assert_eq!(resolve("czar", 4040), ("czar".to_string(), 4040));
        register_map(&path);
        assert_eq!(
            resolve("czar.ns.svc", 4040),
            ("127.0.0.1".to_string(), 40001)
        );
        assert_eq!(
            resolve_url("mysql://root:pw@czar.ns:3306/db"),
            "mysql://root:pw@127.0.0.1:40002/db"
        );
        assert_eq!(resolve_url("http://other:8080/x"), "http://other:8080/x");
        unregister_map(&path);
        assert_eq!(resolve("czar", 4040), ("czar".to_string(), 4040));
    }
}
