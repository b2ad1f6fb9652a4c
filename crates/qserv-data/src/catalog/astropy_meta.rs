//! astropy's column metadata: the ECSV header YAML that `Table.write` stores with a table, in
//! HDF5 (`serialize_meta=True`: the dataset `<table>.__table_column_meta__`, one line per
//! element) and in Parquet (the schema metadata key `table_meta_yaml`):
//!
//! ```yaml
//! datatype:
//! - {name: coord_ra, unit: rad, datatype: float64}
//! - {name: flux, unit: ct, datatype: float64, description: PSF flux}
//! meta: !!omap
//! - {CLUSTER: MACSJ2243.3-0935}
//! ```
//!
//! A masked column `a` is stored as two columns, `a` (the data) and `a.mask` (bool), tied
//! together in the table meta:
//!
//! ```yaml
//! - __serialized_columns__:
//!     a:
//!       __class__: astropy.table.column.MaskedColumn
//!       data: !astropy.table.SerializedColumn {name: a}
//!       mask: !astropy.table.SerializedColumn {name: a.mask}
//! ```

use std::collections::HashMap;

use serde::Deserialize;

/// Unit and description of one column.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct ColumnDoc {
    pub unit: Option<String>,
    pub description: Option<String>,
}

#[derive(Deserialize)]
struct Header {
    #[serde(default)]
    datatype: Vec<HeaderColumn>,
}

#[derive(Deserialize)]
struct HeaderColumn {
    name: String,
    #[serde(default)]
    unit: Option<String>,
    #[serde(default)]
    description: Option<String>,
}

/// What the meta says about the columns.
#[derive(Debug, Default)]
pub(crate) struct TableMeta {
    /// Column name → unit and description.
    pub docs: HashMap<String, ColumnDoc>,
    /// (data column, mask column) of each masked column.
    pub masks: Vec<(String, String)>,
}

/// Parses the meta lines.
pub(crate) fn parse_column_meta(lines: &[String]) -> Result<TableMeta, String> {
    let text = lines.join("\n");
    // astropy tags the table-level `meta` as `!!omap`, a YAML 1.1 type serde does not know;
    // only the column list matters here, so the table meta is cut off before parsing.
    let columns_part = match text.find("\nmeta:") {
        Some(end) => &text[..end],
        None => text.as_str(),
    };
    let header: Header = serde_norway::from_str(columns_part).map_err(|err| err.to_string())?;
    let docs = header
        .datatype
        .into_iter()
        .map(|c| {
            (
                c.name,
                ColumnDoc {
                    unit: c.unit,
                    description: c.description,
                },
            )
        })
        .collect();
    Ok(TableMeta {
        docs,
        masks: masked_columns(&text[columns_part.len()..]),
    })
}

/// The (data, mask) column pairs of `__serialized_columns__`. The entries carry astropy's own
/// YAML tags, so they are matched line by line rather than deserialised.
fn masked_columns(table_meta: &str) -> Vec<(String, String)> {
    const TAG: &str = "!astropy.table.SerializedColumn {name: ";
    let name_after = |line: &str, key: &str| -> Option<String> {
        let rest = line
            .trim()
            .strip_prefix(key)?
            .trim_start()
            .strip_prefix(TAG)?;
        let name = rest.strip_suffix('}')?.trim();
        Some(name.trim_matches(|c| c == '\'' || c == '"').to_string())
    };
    let mut pairs = Vec::new();
    let mut data = None;
    for line in table_meta.lines() {
        if let Some(name) = name_after(line, "data:") {
            data = Some(name);
        } else if let Some(mask) = name_after(line, "mask:")
            && let Some(d) = data.take()
        {
            pairs.push((d, mask));
        }
    }
    pairs
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_units_and_descriptions_and_skips_the_table_meta() {
        let lines: Vec<String> = [
            "# %ECSV 1.0",
            "datatype:",
            "- {name: id, datatype: int64}",
            "- {name: coord_ra, unit: rad, datatype: float64}",
            "- {name: flux, unit: ct, datatype: float64, description: 'PSF flux, calibrated'}",
            "meta: !!omap",
            "- {CLUSTER: MACSJ2243.3-0935}",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        let meta = parse_column_meta(&lines).unwrap().docs;
        assert_eq!(meta["id"], ColumnDoc::default());
        assert_eq!(meta["coord_ra"].unit.as_deref(), Some("rad"));
        assert_eq!(
            meta["flux"].description.as_deref(),
            Some("PSF flux, calibrated")
        );
    }

    #[test]
    fn masked_columns_are_paired_with_their_masks() {
        let lines: Vec<String> = [
            "datatype:",
            "- {name: a, datatype: int32}",
            "- {name: a.mask, datatype: bool}",
            "meta: !!omap",
            "- __serialized_columns__:",
            "    a:",
            "      __class__: astropy.table.column.MaskedColumn",
            "      data: !astropy.table.SerializedColumn {name: a}",
            "      mask: !astropy.table.SerializedColumn {name: a.mask}",
            "    'b c':",
            "      __class__: astropy.table.column.MaskedColumn",
            "      data: !astropy.table.SerializedColumn {name: 'b c'}",
            "      mask: !astropy.table.SerializedColumn {name: 'b c.mask'}",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        let masks = parse_column_meta(&lines).unwrap().masks;
        let pair = |a: &str, b: &str| (a.to_string(), b.to_string());
        assert_eq!(masks, vec![pair("a", "a.mask"), pair("b c", "b c.mask")]);
    }

    #[test]
    fn malformed_yaml_is_an_error() {
        let lines = vec!["datatype:".to_string(), "- {name: [unclosed".to_string()];
        assert!(parse_column_meta(&lines).is_err());
    }
}
