//! sph-partition's configuration: the same JSON config files (`common.json` + `Object.json`),
//! flattened to dotted keys (`part.num-stripes`, `in.csv.field`), later files and flags
//! overriding earlier ones, then checked into a typed [`PartitionConfig`].
//!
//! Keys and defaults follow lsst/qserv `src/partition/` (`Chunker::defineOptions`,
//! `csv::Dialect::defineOptions`, `PartitionTool::Worker::defineOptions`). Keys that only other
//! Qserv tools read (`id`, `dirTable`, `sharedScan`, ...) are ignored, as sph-partition does.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde_json::Value;

use super::block::Slot;
use super::csv::Dialect;

/// A problem in the configuration, naming the key (and file when it comes from one).
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("reading config file {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("config file {path}: not JSON: {source}")]
    Json {
        path: PathBuf,
        source: serde_json::Error,
    },
    #[error("config file {path}: the top level must be a JSON object")]
    NotObject { path: PathBuf },
    #[error("config key {key}: {message}")]
    Key { key: String, message: String },
}

/// The CSV dialect of `<prefix>` (`in.csv.`, `out.csv.`): reads `<prefix>delimiter`, `quote`, `no-quote`, `escape`, `no-escape`, `null` with
/// sph-partition's defaults (tab, `"`, `\`, and NULL = `NULL` when quoting else `\N`).
pub fn dialect_from_store(store: &ConfigStore, prefix: &str) -> Result<Dialect, ConfigError> {
    let key = |k: &str| format!("{prefix}{k}");
    let delimiter = store.char(&key("delimiter"), b'\t')?;
    let quote = if store.flag(&key("no-quote"))? {
        None
    } else {
        Some(store.char(&key("quote"), b'"')?)
    };
    let escape = if store.flag(&key("no-escape"))? {
        None
    } else {
        Some(store.char(&key("escape"), b'\\')?)
    };
    let null = store.string(&key("null"))?.map(String::into_bytes);
    let dialect = Dialect::new(delimiter, quote, escape, null);
    dialect.check().map_err(|message| ConfigError::Key {
        key: format!("{prefix}*"),
        message,
    })?;
    Ok(dialect)
}

fn key_error(key: &str, message: impl Into<String>) -> ConfigError {
    ConfigError::Key {
        key: key.to_string(),
        message: message.into(),
    }
}

/// Flat dotted-key view of the merged configuration.
#[derive(Debug, Clone, Default)]
pub struct ConfigStore {
    values: BTreeMap<String, Value>,
}

impl ConfigStore {
    /// Merges a JSON config file; its keys override those already present.
    pub fn add_file(&mut self, path: &Path) -> Result<(), ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        let value: Value = serde_json::from_str(&text).map_err(|source| ConfigError::Json {
            path: path.to_path_buf(),
            source,
        })?;
        if !value.is_object() {
            return Err(ConfigError::NotObject {
                path: path.to_path_buf(),
            });
        }
        self.add_json("", &value);
        Ok(())
    }

    fn add_json(&mut self, prefix: &str, value: &Value) {
        match value {
            Value::Object(map) => {
                for (k, v) in map {
                    let key = if prefix.is_empty() {
                        k.clone()
                    } else {
                        format!("{prefix}.{k}")
                    };
                    self.add_json(&key, v);
                }
            }
            // A JSON merge patch (`ConfigStore::add`, `Q@2026.3.3-rc1:src/partition/ConfigStore.cc:45-50`):
            // null removes the key.
            Value::Null => {
                let below = format!("{prefix}.");
                self.values
                    .retain(|key, _| key != prefix && !key.starts_with(&below));
            }
            other => {
                self.values.insert(prefix.to_string(), other.clone());
            }
        }
    }

    /// Sets one key (from a command-line flag), overriding files.
    pub fn set(&mut self, key: &str, value: Value) {
        self.values.insert(key.to_string(), value);
    }

    pub fn has(&self, key: &str) -> bool {
        self.values.contains_key(key)
    }

    pub fn string(&self, key: &str) -> Result<Option<String>, ConfigError> {
        match self.values.get(key) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(Value::Number(n)) => Ok(Some(n.to_string())),
            Some(other) => Err(key_error(key, format!("expected a string, got {other}"))),
        }
    }

    pub fn f64(&self, key: &str) -> Result<Option<f64>, ConfigError> {
        match self.values.get(key) {
            None => Ok(None),
            Some(Value::Number(n)) => Ok(n.as_f64()),
            Some(Value::String(s)) => s
                .trim()
                .parse()
                .map(Some)
                .map_err(|_| key_error(key, format!("expected a number, got {s:?}"))),
            Some(other) => Err(key_error(key, format!("expected a number, got {other}"))),
        }
    }

    pub fn u32(&self, key: &str) -> Result<Option<u32>, ConfigError> {
        match self.f64(key)? {
            None => Ok(None),
            Some(v) if v >= 0.0 && v.fract() == 0.0 && v <= f64::from(u32::MAX) => {
                Ok(Some(v as u32))
            }
            Some(v) => Err(key_error(
                key,
                format!("expected a non-negative integer, got {v}"),
            )),
        }
    }

    /// A boolean switch (`true`/`false`, 1/0) such as `out.csv.no-quote`.
    pub fn flag(&self, key: &str) -> Result<bool, ConfigError> {
        match self.values.get(key) {
            None => Ok(false),
            Some(Value::Bool(b)) => Ok(*b),
            Some(Value::Number(n)) => Ok(n.as_f64() != Some(0.0)),
            Some(Value::String(s)) if s == "true" || s == "1" => Ok(true),
            Some(Value::String(s)) if s == "false" || s == "0" => Ok(false),
            Some(other) => Err(key_error(
                key,
                format!("expected true or false, got {other}"),
            )),
        }
    }

    pub fn string_list(&self, key: &str) -> Result<Option<Vec<String>>, ConfigError> {
        match self.values.get(key) {
            None => Ok(None),
            Some(Value::Array(items)) => items
                .iter()
                .map(|v| match v {
                    Value::String(s) => Ok(s.clone()),
                    other => Err(key_error(
                        key,
                        format!("expected a list of strings, got {other}"),
                    )),
                })
                .collect::<Result<Vec<_>, _>>()
                .map(Some),
            // A single field name, or a space/comma separated list on the command line.
            Some(Value::String(s)) => Ok(Some(
                s.split(|c: char| c == ',' || c.is_whitespace())
                    .filter(|x| !x.is_empty())
                    .map(str::to_string)
                    .collect(),
            )),
            Some(other) => Err(key_error(
                key,
                format!("expected a list of strings, got {other}"),
            )),
        }
    }

    /// A single character option such as `in.csv.delimiter` (`"\t"` or `"\\t"` both mean tab).
    pub fn char(&self, key: &str, default: u8) -> Result<u8, ConfigError> {
        let Some(s) = self.string(key)? else {
            return Ok(default);
        };
        let bytes = match s.as_str() {
            "\\t" => return Ok(b'\t'),
            other => other.as_bytes(),
        };
        match bytes {
            [c] => Ok(*c),
            _ => Err(key_error(key, format!("expected one character, got {s:?}"))),
        }
    }
}

pub use crate::catalog::AngleUnit;

/// Everything the partitioner needs, checked.
#[derive(Debug, Clone)]
pub struct PartitionConfig {
    pub num_stripes: u32,
    pub num_sub_stripes: u32,
    /// Overlap radius in degrees (`part.overlap`).
    pub overlap: f64,
    /// Names of the longitude and latitude fields (`part.pos`).
    pub pos: (String, String),
    /// Object id field (`part.id`): when set, `<prefix>_object_index.txt` is written.
    pub id: Option<String>,
    /// Output field names of the chunk and sub-chunk ids.
    pub chunk_field: String,
    pub sub_chunk_field: String,
    /// File name prefix (`chunk_<id>.txt`).
    pub prefix: String,
    pub input_fields: Vec<String>,
    pub output_fields: Vec<String>,
    pub input_dialect: Dialect,
    pub output_dialect: Dialect,
    /// Units of the position fields (`part.pos`) in the input: degrees for sph-partition's
    /// CSV/TSV, the file's own (or the spec's) for catalogs.
    pub ra_unit: AngleUnit,
    pub dec_unit: AngleUnit,
    /// Map ra into [0, 360) before checking it (off: out-of-range ra is a rejected row).
    pub normalize_ra: bool,
}

impl PartitionConfig {
    /// Checks the merged configuration. Every key has sph-partition's default.
    pub fn from_store(store: &ConfigStore) -> Result<PartitionConfig, ConfigError> {
        let num_stripes = store.u32("part.num-stripes")?.unwrap_or(18);
        let num_sub_stripes = store.u32("part.num-sub-stripes")?.unwrap_or(100);
        if num_stripes == 0 {
            return Err(key_error("part.num-stripes", "must be > 0"));
        }
        if num_sub_stripes == 0 {
            return Err(key_error("part.num-sub-stripes", "must be > 0"));
        }
        // sph-partition's default (`Q@2026.3.3-rc1:src/partition/Chunker.cc:256`); the
        // `part.default-overlap` of qserv_testdata's common.json is not one of its keys.
        let overlap = store.f64("part.overlap")?.unwrap_or(0.01);
        if !(0.0..10.0).contains(&overlap) {
            return Err(key_error(
                "part.overlap",
                format!("must be in [0, 10) degrees, got {overlap}"),
            ));
        }
        let pos_text = store
            .string("part.pos")?
            .ok_or_else(|| key_error("part.pos", "is required (\"ra_field, dec_field\")"))?;
        let pos = match pos_text
            .split(',')
            .map(str::trim)
            .collect::<Vec<_>>()
            .as_slice()
        {
            [ra, dec] if !ra.is_empty() && !dec.is_empty() => (ra.to_string(), dec.to_string()),
            _ => {
                return Err(key_error(
                    "part.pos",
                    format!("expected two field names separated by a comma, got {pos_text:?}"),
                ));
            }
        };
        let input_fields = store
            .string_list("in.csv.field")?
            .filter(|f| !f.is_empty())
            .ok_or_else(|| key_error("in.csv.field", "input field names are required"))?;
        let mut seen = std::collections::BTreeSet::new();
        for f in &input_fields {
            if !seen.insert(f.as_str()) {
                return Err(key_error(
                    "in.csv.field",
                    format!("duplicate field name {f:?}"),
                ));
            }
        }
        for (key, name) in [("part.pos", &pos.0), ("part.pos", &pos.1)] {
            if !input_fields.contains(name) {
                return Err(key_error(
                    key,
                    format!("field {name:?} is not an input field (in.csv.field)"),
                ));
            }
        }
        let id = store.string("part.id")?;
        if let Some(id) = &id
            && !input_fields.contains(id)
        {
            return Err(key_error(
                "part.id",
                format!("field {id:?} is not an input field (in.csv.field)"),
            ));
        }
        let chunk_field = store
            .string("part.chunk")?
            .unwrap_or_else(|| "chunkId".into());
        let sub_chunk_field = store
            .string("part.sub-chunk")?
            .unwrap_or_else(|| "subChunkId".into());
        let mut output_fields = store
            .string_list("out.csv.field")?
            .unwrap_or_else(|| input_fields.clone());
        // As sph-partition's ensureOutputFieldExists: ids are appended unless already listed.
        for f in [&chunk_field, &sub_chunk_field] {
            if !output_fields.contains(f) {
                output_fields.push(f.clone());
            }
        }
        Ok(PartitionConfig {
            num_stripes,
            num_sub_stripes,
            overlap,
            pos,
            id,
            chunk_field,
            sub_chunk_field,
            prefix: store
                .string("part.prefix")?
                .unwrap_or_else(|| "chunk".into()),
            input_fields,
            output_fields,
            input_dialect: dialect_from_store(store, "in.csv.")?,
            output_dialect: dialect_from_store(store, "out.csv.")?,
            ra_unit: AngleUnit::Degree,
            dec_unit: AngleUnit::Degree,
            normalize_ra: false,
        })
    }

    /// Index of an input field by name.
    pub fn input_index(&self, name: &str) -> Option<usize> {
        self.input_fields.iter().position(|f| f == name)
    }

    /// Where each output field and the position and id fields come from.
    pub fn layout(&self) -> RowLayout {
        let plan = self
            .output_fields
            .iter()
            .map(|name| {
                if *name == self.chunk_field {
                    OutField::Slot(Slot::ChunkId)
                } else if *name == self.sub_chunk_field {
                    OutField::Slot(Slot::SubChunkId)
                } else {
                    self.input_index(name)
                        .map_or(OutField::Null, OutField::Input)
                }
            })
            .collect();
        let index = |name: &str| self.input_index(name).expect("checked by from_store");
        RowLayout {
            plan,
            ra: index(&self.pos.0),
            dec: index(&self.pos.1),
            id: self.id.as_deref().map(index),
        }
    }
}

/// What each output field is made of: an input field (by index), NULL for an output field
/// that is not an input field (as sph-partition's Editor does), or a location id.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutField {
    Input(usize),
    Null,
    Slot(Slot),
}

/// The input fields a row is made of, resolved once per worker.
#[derive(Debug, Clone)]
pub struct RowLayout {
    pub plan: Vec<OutField>,
    pub ra: usize,
    pub dec: usize,
    pub id: Option<usize>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn case01(file: &str) -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../../shared/data/qserv_testdata/case01/data/partition")
            .join(file)
    }

    #[test]
    fn case01_object_config_is_read_like_sph_partition() {
        let mut store = ConfigStore::default();
        store.add_file(&case01("common.json")).unwrap();
        store.add_file(&case01("Object.json")).unwrap();
        let c = PartitionConfig::from_store(&store).unwrap();
        assert_eq!(
            (c.num_stripes, c.num_sub_stripes, c.overlap),
            (85, 12, 0.01667)
        );
        assert_eq!(c.pos, ("ra_PS".to_string(), "decl_PS".to_string()));
        assert_eq!(c.id, None);
        assert_eq!(c.input_fields.len(), 228);
        assert_eq!(c.input_fields[0], "objectId");
        assert_eq!(&c.output_fields[228..], ["chunkId", "subChunkId"]);
        assert_eq!(c.input_dialect.delimiter, b'\t');
        assert_eq!(c.input_dialect.null, b"\\N");
        assert_eq!(c.output_dialect.delimiter, b',');
        assert_eq!(c.output_dialect.quote, None);
        assert_eq!(c.output_dialect.escape, Some(b'\\'));
    }

    #[test]
    fn source_config_has_an_id_and_no_overlap() {
        let mut store = ConfigStore::default();
        store.add_file(&case01("common.json")).unwrap();
        store.add_file(&case01("Source.json")).unwrap();
        let c = PartitionConfig::from_store(&store).unwrap();
        assert_eq!(c.overlap, 0.0);
        assert_eq!(c.id.as_deref(), Some("objectId"));
        assert_eq!(c.pos, ("raObject".to_string(), "declObject".to_string()));
    }

    #[test]
    fn flags_override_files_and_errors_name_the_key() {
        let mut store = ConfigStore::default();
        store.add_file(&case01("common.json")).unwrap();
        store.add_file(&case01("Object.json")).unwrap();
        store.set("part.num-stripes", Value::from(340));
        store.set("part.num-sub-stripes", Value::from(3));
        let c = PartitionConfig::from_store(&store).unwrap();
        assert_eq!((c.num_stripes, c.num_sub_stripes), (340, 3));

        store.set("part.pos", Value::from("ra_PS"));
        let e = PartitionConfig::from_store(&store).unwrap_err().to_string();
        assert_eq!(
            e,
            "config key part.pos: expected two field names separated by a comma, got \"ra_PS\""
        );
        store.set("part.pos", Value::from("ra, decl_PS"));
        let e = PartitionConfig::from_store(&store).unwrap_err().to_string();
        assert_eq!(
            e,
            "config key part.pos: field \"ra\" is not an input field (in.csv.field)"
        );
        store.set("part.pos", Value::from("ra_PS, decl_PS"));
        store.set("part.overlap", Value::from(12.5));
        let e = PartitionConfig::from_store(&store).unwrap_err().to_string();
        assert_eq!(
            e,
            "config key part.overlap: must be in [0, 10) degrees, got 12.5"
        );
    }

    /// Files merge as sph-partition merges them at 2026.3.3-rc1: a JSON merge patch, later
    /// files winning, null removing a key; the overlap defaults to sph-partition's 0.01.
    #[test]
    fn files_merge_as_json_merge_patches_with_sph_defaults() {
        let dir = tempfile::tempdir().unwrap();
        let table = dir.path().join("T.json");
        let common = dir.path().join("common.json");
        std::fs::write(
            &table,
            r#"{"part": {"pos": "ra, dec", "overlap": 0}, "in": {"csv": {"field": ["ra", "dec"], "null": "x"}}}"#,
        )
        .unwrap();
        std::fs::write(
            &common,
            r#"{"part": {"overlap": 0.001, "default-overlap": 0.5}, "in": {"csv": {"null": null, "delimiter": ","}}}"#,
        )
        .unwrap();
        let mut store = ConfigStore::default();
        store.add_file(&table).unwrap();
        store.add_file(&common).unwrap();
        let c = PartitionConfig::from_store(&store).unwrap();
        // qserv's itest passes the table's file first and common.json last: common wins.
        assert_eq!(c.overlap, 0.001);
        assert_eq!(c.input_dialect.delimiter, b',');
        // The null token was removed, so the default applies (quoting on: NULL).
        assert_eq!(c.input_dialect.null, b"NULL");
        store.add_json("", &serde_json::json!({"part": {"overlap": null}}));
        assert_eq!(PartitionConfig::from_store(&store).unwrap().overlap, 0.01);
    }

    #[test]
    fn a_broken_config_file_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("bad.json");
        std::fs::write(&path, "{\"part\": ").unwrap();
        let e = ConfigStore::default()
            .add_file(&path)
            .unwrap_err()
            .to_string();
        assert!(
            e.starts_with(&format!("config file {}: not JSON", path.display())),
            "{e}"
        );
    }
}
