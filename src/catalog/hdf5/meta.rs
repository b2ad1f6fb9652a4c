//! astropy's column metadata: `Table.write(..., serialize_meta=True)` stores a YAML document
//! (the ECSV header, one line per element) in the dataset `<table>.__table_column_meta__`:
//!
//! ```yaml
//! datatype:
//! - {name: coord_ra, unit: rad, datatype: float64}
//! - {name: flux, unit: ct, datatype: float64, description: PSF flux}
//! meta: !!omap
//! - {CLUSTER: MACSJ2243.3-0935}
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

/// Parses the meta lines into column name → unit/description.
pub(crate) fn parse_column_meta(lines: &[String]) -> Result<HashMap<String, ColumnDoc>, String> {
    let text = lines.join("\n");
    // astropy tags the table-level `meta` as `!!omap`, a YAML 1.1 type serde does not know;
    // only the column list matters here, so the table meta is cut off before parsing.
    let columns_part = match text.find("\nmeta:") {
        Some(end) => &text[..end],
        None => text.as_str(),
    };
    let header: Header = serde_norway::from_str(columns_part).map_err(|err| err.to_string())?;
    Ok(header
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
        .collect())
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
        let meta = parse_column_meta(&lines).unwrap();
        assert_eq!(meta["id"], ColumnDoc::default());
        assert_eq!(meta["coord_ra"].unit.as_deref(), Some("rad"));
        assert_eq!(
            meta["flux"].description.as_deref(),
            Some("PSF flux, calibrated")
        );
    }

    #[test]
    fn malformed_yaml_is_an_error() {
        let lines = vec!["datatype:".to_string(), "- {name: [unclosed".to_string()];
        assert!(parse_column_meta(&lines).is_err());
    }
}
