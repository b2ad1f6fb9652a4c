//! What to keep of a table, applied batch by batch: columns by glob pattern (the Clusters
//! config's `keys`), rows inside a cone on the sky, rows of some bands.

use std::collections::HashSet;
use std::sync::Arc;

use arrow_array::cast::AsArray;
use arrow_array::types::{Float32Type, Float64Type};
use arrow_array::{Array, BooleanArray, RecordBatch};
use arrow_schema::{DataType, Field, Schema, SchemaRef};
use arrow_select::filter::filter_record_batch;
use globset::Glob;

pub use super::angle::{AngleUnit, UnitOf};
use super::error::{CatalogError, Result};

/// The position columns of a table and, when the spec names one, their unit.
#[derive(Clone, Debug, PartialEq)]
pub struct Position {
    pub ra: String,
    pub dec: String,
    /// The unit the spec names (`angleUnit`, `--angle-unit`); `None`: the file's own, from its
    /// columns' metadata.
    pub unit: Option<AngleUnit>,
}

/// The unit of position column `field`: the file's, or the one `given` where the file names
/// none or one not known here. A unit that is not an angle, and a file and a spec that name
/// different angles, are errors; so is no unit at all.
pub fn position_unit(
    field: &Field,
    given: Option<AngleUnit>,
) -> std::result::Result<AngleUnit, String> {
    let name = field.name();
    match (AngleUnit::of_field(field), given) {
        (UnitOf::Angle(file), Some(spec)) if file != spec => Err(format!(
            "position column `{name}` is in {file} (the file's unit) but the spec says {spec}"
        )),
        (UnitOf::Angle(file), _) => Ok(file),
        (UnitOf::NotAngle(unit), _) => Err(format!(
            "position column `{name}` has unit `{unit}`, which is not an angle"
        )),
        (UnitOf::Unknown(_) | UnitOf::Missing, Some(spec)) => Ok(spec),
        (UnitOf::Unknown(unit), None) => Err(format!(
            "position column `{name}` has unit `{unit}`, not an angle unit known here (deg, rad, \
             arcmin, arcsec, mas, hourangle): name its unit (angleUnit, --angle-unit)"
        )),
        (UnitOf::Missing, None) => Err(format!(
            "position column `{name}` has no unit in the file: name it (angleUnit, --angle-unit)"
        )),
    }
}

/// A cone on the sky, all in degrees.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Cone {
    pub ra: f64,
    pub dec: f64,
    pub radius: f64,
}

/// Keep rows whose `column` is one of `values`.
#[derive(Clone, Debug, PartialEq)]
pub struct BandFilter {
    pub column: String,
    pub values: Vec<String>,
}

/// A table's selection. Columns named in `keep` (id, ra, dec, foreign key) are kept whatever
/// the patterns say, because the partitioner and the loaders need them.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct SelectionSpec {
    /// Table name, for error messages.
    pub table: String,
    /// Glob patterns over column names; every column when empty.
    pub columns: Vec<String>,
    pub keep: Vec<String>,
    pub position: Option<Position>,
    /// Applied when the table has a position.
    pub cone: Option<Cone>,
    /// Applied when the table has the band column.
    pub band: Option<BandFilter>,
}

/// A selection compiled against one input schema.
#[derive(Clone, Debug)]
pub struct Selection {
    projection: Vec<usize>,
    output: SchemaRef,
    /// The units of the position columns (ra, dec), when the spec has a position.
    units: Option<(AngleUnit, AngleUnit)>,
    cone: Option<ConeTest>,
    band: Option<(usize, HashSet<String>)>,
}

#[derive(Clone, Debug)]
struct ConeTest {
    ra: usize,
    dec: usize,
    ra_unit: AngleUnit,
    dec_unit: AngleUnit,
    center_ra: f64,
    center_dec: f64,
    radius: f64,
}

impl Selection {
    pub fn new(input: &Schema, spec: &SelectionSpec) -> Result<Self> {
        let error = |reason: String| CatalogError::Selection {
            table: spec.table.clone(),
            reason,
        };
        let index = |name: &str| {
            input
                .index_of(name)
                .map_err(|_| error(format!("no column `{name}` in the input")))
        };
        let mut wanted = vec![spec.columns.is_empty(); input.fields().len()];
        for pattern in &spec.columns {
            let matcher = Glob::new(pattern)
                .map_err(|err| error(format!("column pattern: {err}")))?
                .compile_matcher();
            let mut matched = false;
            for (i, field) in input.fields().iter().enumerate() {
                if matcher.is_match(field.name()) {
                    wanted[i] = true;
                    matched = true;
                }
            }
            if !matched {
                return Err(error(format!(
                    "column pattern `{pattern}` matches no column"
                )));
            }
        }
        for name in &spec.keep {
            wanted[index(name)?] = true;
        }
        let projection: Vec<usize> = (0..wanted.len()).filter(|&i| wanted[i]).collect();
        let output = Arc::new(
            input
                .project(&projection)
                .map_err(|err| error(err.to_string()))?,
        );

        let units = match &spec.position {
            Some(pos) => {
                let unit = |name: &str| -> Result<AngleUnit> {
                    position_unit(input.field(index(name)?), pos.unit).map_err(error)
                };
                Some((unit(&pos.ra)?, unit(&pos.dec)?))
            }
            None => None,
        };
        let cone = match (&spec.cone, &spec.position, units) {
            (Some(cone), Some(pos), Some((ra_unit, dec_unit))) => {
                let (ra, dec) = (index(&pos.ra)?, index(&pos.dec)?);
                for i in [ra, dec] {
                    let field = input.field(i);
                    if !matches!(field.data_type(), DataType::Float64 | DataType::Float32) {
                        return Err(error(format!(
                            "position column `{}` is {}, not a float",
                            field.name(),
                            field.data_type()
                        )));
                    }
                }
                Some(ConeTest {
                    ra,
                    dec,
                    ra_unit,
                    dec_unit,
                    center_ra: cone.ra.to_radians(),
                    center_dec: cone.dec.to_radians(),
                    radius: cone.radius,
                })
            }
            _ => None,
        };
        let band = match &spec.band {
            Some(band) => match input.index_of(&band.column) {
                Ok(i) if input.field(i).data_type() == &DataType::Utf8 => {
                    Some((i, band.values.iter().cloned().collect()))
                }
                Ok(i) => {
                    return Err(error(format!(
                        "band column `{}` is {}, not text",
                        band.column,
                        input.field(i).data_type()
                    )));
                }
                Err(_) => None,
            },
            None => None,
        };
        Ok(Selection {
            projection,
            output,
            units,
            cone,
            band,
        })
    }

    /// The units of the position columns (ra, dec): the file's or the spec's.
    pub fn position_units(&self) -> Option<(AngleUnit, AngleUnit)> {
        self.units
    }

    /// The schema of the selected batches.
    pub fn schema(&self) -> SchemaRef {
        self.output.clone()
    }

    /// Applies the row filters, then the column projection, to one batch.
    pub fn apply(&self, batch: &RecordBatch) -> Result<RecordBatch> {
        let mut keep: Option<Vec<bool>> = None;
        if let Some(cone) = &self.cone {
            keep = Some(cone.mask(batch));
        }
        if let Some((column, values)) = &self.band {
            let bands = batch.column(*column).as_string::<i32>();
            let mask = keep.get_or_insert_with(|| vec![true; batch.num_rows()]);
            for (i, keep) in mask.iter_mut().enumerate() {
                *keep = *keep && bands.is_valid(i) && values.contains(bands.value(i));
            }
        }
        let filtered = match keep {
            Some(mask) => filter_record_batch(batch, &BooleanArray::from(mask)),
            None => Ok(batch.clone()),
        };
        filtered
            .and_then(|b| b.project(&self.projection))
            .map_err(|err| CatalogError::Selection {
                table: String::new(),
                reason: err.to_string(),
            })
    }
}

impl ConeTest {
    fn mask(&self, batch: &RecordBatch) -> Vec<bool> {
        let (ra, dec) = (
            floats(batch.column(self.ra)),
            floats(batch.column(self.dec)),
        );
        ra.into_iter()
            .zip(dec)
            .map(|(ra, dec)| match (ra, dec) {
                (Some(ra), Some(dec)) => {
                    let (ra, dec) = (self.ra_unit.to_radians(ra), self.dec_unit.to_radians(dec));
                    separation(self.center_ra, self.center_dec, ra, dec).to_degrees() <= self.radius
                }
                // A row without a position is in no cone.
                _ => false,
            })
            .collect()
    }
}

fn floats(array: &dyn Array) -> Vec<Option<f64>> {
    match array.data_type() {
        DataType::Float32 => array
            .as_primitive::<Float32Type>()
            .iter()
            .map(|v| v.map(f64::from))
            .collect(),
        _ => array.as_primitive::<Float64Type>().iter().collect(),
    }
}

/// Angular separation in radians by Vincenty's formula (exact for all separations, unlike the
/// haversine near antipodes or the cosine rule near zero); astropy uses the same formula.
pub fn separation(ra1: f64, dec1: f64, ra2: f64, dec2: f64) -> f64 {
    let (sdra, cdra) = (ra2 - ra1).sin_cos();
    let (sd1, cd1) = dec1.sin_cos();
    let (sd2, cd2) = dec2.sin_cos();
    let num1 = cd2 * sdra;
    let num2 = cd1 * sd2 - sd1 * cd2 * cdra;
    let denominator = sd1 * sd2 + cd1 * cd2 * cdra;
    num1.hypot(num2).atan2(denominator)
}

/// Batches of `inner` with a selection applied to each.
pub struct Selected<I> {
    inner: I,
    selection: Selection,
    table: String,
    rows_in: u64,
}

impl<I> Selected<I> {
    pub fn new(inner: I, selection: Selection, table: &str) -> Self {
        Selected {
            inner,
            selection,
            table: table.to_string(),
            rows_in: 0,
        }
    }

    pub fn schema(&self) -> SchemaRef {
        self.selection.schema()
    }

    /// Rows read so far, before the row filters.
    pub fn rows_in(&self) -> u64 {
        self.rows_in
    }

    /// Whether rows are filtered (a cone or bands), not only columns.
    pub fn filters_rows(&self) -> bool {
        self.selection.cone.is_some() || self.selection.band.is_some()
    }
}

impl<I: Iterator<Item = Result<RecordBatch>>> Iterator for Selected<I> {
    type Item = Result<RecordBatch>;

    fn next(&mut self) -> Option<Self::Item> {
        let batch = self.inner.next()?;
        if let Ok(b) = &batch {
            self.rows_in += b.num_rows() as u64;
        }
        Some(batch.and_then(|b| {
            self.selection.apply(&b).map_err(|err| match err {
                CatalogError::Selection { reason, .. } => CatalogError::Selection {
                    table: self.table.clone(),
                    reason,
                },
                other => other,
            })
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow_array::{Float64Array, Int64Array, StringArray};

    /// Degrees, RA wrap, a null position and the band filter on a hand-made batch.
    #[test]
    fn cone_in_degrees_with_ra_wrap_nulls_and_bands() {
        let schema = Arc::new(Schema::new(vec![
            Field::new("id", DataType::Int64, false),
            Field::new("ra", DataType::Float64, true),
            Field::new("decl", DataType::Float64, true),
            Field::new("band", DataType::Utf8, true),
            Field::new("flux", DataType::Float64, true),
        ]));
        let batch = RecordBatch::try_new(
            schema.clone(),
            vec![
                Arc::new(Int64Array::from(vec![1, 2, 3, 4, 5, 6])),
                Arc::new(Float64Array::from(vec![
                    Some(0.5),
                    Some(359.6),
                    Some(0.2),
                    None,
                    Some(0.2),
                    Some(0.2),
                ])),
                Arc::new(Float64Array::from(vec![
                    Some(0.0),
                    Some(0.0),
                    Some(1.25),
                    Some(0.0),
                    Some(0.0),
                    Some(-0.9),
                ])),
                Arc::new(StringArray::from(vec![
                    Some("g"),
                    Some("r"),
                    Some("g"),
                    Some("g"),
                    None,
                    Some("i"),
                ])),
                Arc::new(Float64Array::from(vec![1.0; 6])),
            ],
        )
        .unwrap();
        let spec = SelectionSpec {
            table: "t".into(),
            columns: vec!["fl*".into()],
            keep: vec!["id".into()],
            position: Some(Position {
                ra: "ra".into(),
                dec: "decl".into(),
                unit: Some(AngleUnit::Degree),
            }),
            cone: Some(Cone {
                ra: 0.2,
                dec: 0.0,
                radius: 1.0,
            }),
            band: None,
        };
        let ids = |spec: &SelectionSpec| {
            let selection = Selection::new(&schema, spec).unwrap();
            let out = selection.apply(&batch).unwrap();
            let names: Vec<_> = out
                .schema()
                .fields()
                .iter()
                .map(|f| f.name().clone())
                .collect();
            assert_eq!(names, ["id", "flux"]);
            out.column(0)
                .as_primitive::<arrow_array::types::Int64Type>()
                .values()
                .to_vec()
        };
        // 1: 0.3 deg; 2: 0.6 deg across RA 0; 3: 1.25 deg (out); 4: no position; 5, 6: in.
        assert_eq!(ids(&spec), vec![1, 2, 5, 6]);
        let bands = BandFilter {
            column: "band".into(),
            values: vec!["g".into(), "r".into()],
        };
        assert_eq!(
            ids(&SelectionSpec {
                band: Some(bands),
                ..spec.clone()
            }),
            vec![1, 2]
        );
        // Tables without the band column ignore the band filter.
        let other = BandFilter {
            column: "filter".into(),
            values: vec!["u".into()],
        };
        assert_eq!(
            ids(&SelectionSpec {
                band: Some(other),
                ..spec
            }),
            vec![1, 2, 5, 6]
        );
    }

    #[test]
    fn separation_is_exact_at_zero_small_and_antipodal_distances() {
        let d = |a: f64, b: f64, c: f64, e: f64| {
            separation(
                a.to_radians(),
                b.to_radians(),
                c.to_radians(),
                e.to_radians(),
            )
            .to_degrees()
        };
        assert_eq!(d(10.0, 20.0, 10.0, 20.0), 0.0);
        assert!((d(0.0, 0.0, 0.0, 1e-9) - 1e-9).abs() < 1e-20);
        assert!((d(0.0, 0.0, 180.0, 0.0) - 180.0).abs() < 1e-12);
        assert!((d(359.9, 0.0, 0.1, 0.0) - 0.2).abs() < 1e-12, "RA wrap");
        assert!((d(0.0, 90.0, 123.0, 89.0) - 1.0).abs() < 1e-12, "pole");
    }
}
