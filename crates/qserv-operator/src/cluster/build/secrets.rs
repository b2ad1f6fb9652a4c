//! The cluster's Secret: MariaDB passwords and the replication system's auth keys.
//!
//! The values are inputs: the controller generates them once ([`generate_secrets`]), keeps them in
//! the Secret across reconciles, and passes them back here. They never appear in a pod spec
//! (containers read them with `secretKeyRef`), in logs (`Debug` is redacted), status or events.

use std::collections::BTreeMap;
use std::fmt;

use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::Secret;

use super::meta::{Component, Ctx};

/// The keys of the Secret.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SecretKey {
    /// `root` of every MariaDB of the instance (czar, workers, replication, reference); the
    /// docker-compose setup uses one root password for all of them too.
    MariadbRootPassword,
    /// `qsmaster` on the czar (the proxy's `--db-uri`, from which the czar's migration creates
    /// the account: `Q@2026.3.3-rc1:python/lsst/qserv/admin/cli/script.py:603-621`; the check
    /// Jobs log in to the query endpoint with it) and on the reference MariaDB. The workers'
    /// qsmaster is the release's hard-coded `CHANGEME` (`script.py:59,452`), not this one.
    QsmasterPassword,
    /// `--repl-auth-key` / `--auth-key` of the replication system.
    ReplicationAuthKey,
    /// `--repl-admin-auth-key` / `--admin-auth-key`.
    ReplicationAdminAuthKey,
}

impl SecretKey {
    pub const ALL: [SecretKey; 4] = [
        SecretKey::MariadbRootPassword,
        SecretKey::QsmasterPassword,
        SecretKey::ReplicationAuthKey,
        SecretKey::ReplicationAdminAuthKey,
    ];

    pub fn key(self) -> &'static str {
        match self {
            SecretKey::MariadbRootPassword => "mariadb-root-password",
            SecretKey::QsmasterPassword => "qsmaster-password",
            SecretKey::ReplicationAuthKey => "replication-auth-key",
            SecretKey::ReplicationAdminAuthKey => "replication-admin-auth-key",
        }
    }
}

/// The secret values of one cluster.
#[derive(Clone, PartialEq, Eq)]
pub struct GeneratedSecrets {
    pub mariadb_root_password: String,
    pub qsmaster_password: String,
    pub replication_auth_key: String,
    pub replication_admin_auth_key: String,
}

impl fmt::Debug for GeneratedSecrets {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("GeneratedSecrets { <redacted> }")
    }
}

impl GeneratedSecrets {
    pub fn get(&self, key: SecretKey) -> &str {
        match key {
            SecretKey::MariadbRootPassword => &self.mariadb_root_password,
            SecretKey::QsmasterPassword => &self.qsmaster_password,
            SecretKey::ReplicationAuthKey => &self.replication_auth_key,
            SecretKey::ReplicationAdminAuthKey => &self.replication_admin_auth_key,
        }
    }

    /// Reads the values back from an existing Secret (the controller keeps them across
    /// reconciles); `None` when a key is missing or not UTF-8.
    pub fn from_secret(secret: &Secret) -> Option<GeneratedSecrets> {
        let data = secret.data.as_ref()?;
        let get = |key: SecretKey| {
            data.get(key.key())
                .and_then(|b| String::from_utf8(b.0.clone()).ok())
        };
        Some(GeneratedSecrets {
            mariadb_root_password: get(SecretKey::MariadbRootPassword)?,
            qsmaster_password: get(SecretKey::QsmasterPassword)?,
            replication_auth_key: get(SecretKey::ReplicationAuthKey)?,
            replication_admin_auth_key: get(SecretKey::ReplicationAdminAuthKey)?,
        })
    }
}

/// Length of every generated value: 32 characters of [A-Za-z0-9], about 190 bits.
pub const SECRET_LEN: usize = 32;
const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

/// Fresh secret values from a source of random 64-bit words (the controller passes an OS-seeded
/// RNG; tests pass a fixed sequence). Alphanumeric only, so the values are safe inside
/// `mysql://user:password@host` URIs and shell-free argument expansion.
pub fn generate_secrets(mut random_u64: impl FnMut() -> u64) -> GeneratedSecrets {
    let mut value = || {
        let mut out = String::with_capacity(SECRET_LEN);
        while out.len() < SECRET_LEN {
            for byte in random_u64().to_le_bytes() {
                // Rejection sampling: 248 = 4 * 62, so every character is equally likely.
                if byte < 248 && out.len() < SECRET_LEN {
                    out.push(ALPHABET[usize::from(byte) % ALPHABET.len()] as char);
                }
            }
        }
        out
    };
    GeneratedSecrets {
        mariadb_root_password: value(),
        qsmaster_password: value(),
        replication_auth_key: value(),
        replication_admin_auth_key: value(),
    }
}

/// The Secret `<cluster>-secrets`.
pub fn secret(ctx: &Ctx, secrets: &GeneratedSecrets) -> Secret {
    let data = SecretKey::ALL
        .into_iter()
        .map(|k| {
            (
                k.key().to_string(),
                ByteString(secrets.get(k).as_bytes().to_vec()),
            )
        })
        .collect::<BTreeMap<_, _>>();
    Secret {
        metadata: ctx.meta(ctx.secret_name(), Component::Cluster),
        type_: Some("Opaque".into()),
        data: Some(data),
        ..Secret::default()
    }
}
