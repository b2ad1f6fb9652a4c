//! Angle units of position columns: what a file's metadata says (astropy's `unit`, Parquet field
//! metadata, Felis `ivoa:unit`, the `[unit]` of a column COMMENT), and the conversion to the
//! degrees partitioning and cone selection work in.

use std::fmt;

use arrow_schema::Field;

use super::schema::ColumnMeta;

/// A unit of angle.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum AngleUnit {
    #[default]
    #[value(alias = "deg")]
    Degree,
    #[value(alias = "rad")]
    Radian,
    #[value(alias = "arcmin")]
    Arcminute,
    #[value(alias = "arcsec")]
    Arcsecond,
    #[value(alias = "mas")]
    Milliarcsecond,
    /// astropy's `hourangle`: 15 degrees (a right ascension in hours).
    #[value(name = "hourangle")]
    HourAngle,
}

impl AngleUnit {
    /// `value` in degrees (exact for degrees; `to_degrees` for radians).
    pub fn to_degrees(self, value: f64) -> f64 {
        match self {
            AngleUnit::Degree => value,
            AngleUnit::Radian => value.to_degrees(),
            AngleUnit::Arcminute => value / 60.0,
            AngleUnit::Arcsecond => value / 3600.0,
            AngleUnit::Milliarcsecond => value / 3_600_000.0,
            AngleUnit::HourAngle => value * 15.0,
        }
    }

    /// `value` in radians (exact for radians).
    pub fn to_radians(self, value: f64) -> f64 {
        match self {
            AngleUnit::Radian => value,
            other => other.to_degrees(value).to_radians(),
        }
    }

    /// The unit as astropy and VOUnit write it.
    pub fn symbol(self) -> &'static str {
        match self {
            AngleUnit::Degree => "deg",
            AngleUnit::Radian => "rad",
            AngleUnit::Arcminute => "arcmin",
            AngleUnit::Arcsecond => "arcsec",
            AngleUnit::Milliarcsecond => "mas",
            AngleUnit::HourAngle => "hourangle",
        }
    }

    /// What a unit string says: an angle, a unit that is not an angle, or one not known here.
    /// The names are astropy's (`astropy.units`: `deg`, `degree`, `rad`, `radian`, `arcmin`,
    /// `arcsec`, `mas`, `hourangle`, and their plurals) and the IVOA VOUnits standard's
    /// (`deg`, `rad`, `arcmin`, `arcsec`, `mas`).
    pub fn parse(text: &str) -> UnitOf {
        let t = text.trim();
        if t.is_empty() {
            return UnitOf::Missing;
        }
        let lower = t.to_ascii_lowercase();
        let angle = match lower.as_str() {
            "deg" | "degree" | "degrees" => AngleUnit::Degree,
            "rad" | "radian" | "radians" => AngleUnit::Radian,
            "arcmin" | "arcminute" | "arcminutes" => AngleUnit::Arcminute,
            "arcsec" | "arcsecond" | "arcseconds" => AngleUnit::Arcsecond,
            "mas" | "milliarcsecond" | "milliarcseconds" => AngleUnit::Milliarcsecond,
            "hourangle" => AngleUnit::HourAngle,
            _ if NOT_ANGLES.contains(&lower.as_str()) => return UnitOf::NotAngle(t.to_string()),
            _ => return UnitOf::Unknown(t.to_string()),
        };
        UnitOf::Angle(angle)
    }

    /// The unit `field`'s metadata gives (see [`ColumnMeta::unit`]).
    pub fn of_field(field: &Field) -> UnitOf {
        field.unit().map_or(UnitOf::Missing, AngleUnit::parse)
    }
}

impl fmt::Display for AngleUnit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.symbol())
    }
}

/// Units a position column may carry by mistake: magnitudes, fluxes, counts, lengths, times,
/// pixels (astropy and VOUnit spellings). Anything else that is not an angle is "unknown".
const NOT_ANGLES: &[&str] = &[
    "mag", "ct", "count", "counts", "jy", "njy", "ujy", "mjy", "pix", "pixel", "m", "km", "pc",
    "kpc", "mpc", "au", "s", "h", "d", "yr", "k", "hz", "erg", "w", "nmgy", "dex",
];

/// What a column's unit metadata says.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum UnitOf {
    Angle(AngleUnit),
    /// A unit, but not of an angle (`mag`, `pix`, ...).
    NotAngle(String),
    /// A unit string not known here.
    Unknown(String),
    Missing,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn units_as_astropy_and_vounit_write_them() {
        for (text, unit) in [
            ("deg", AngleUnit::Degree),
            ("degree", AngleUnit::Degree),
            ("Degrees", AngleUnit::Degree),
            ("rad", AngleUnit::Radian),
            ("radians", AngleUnit::Radian),
            ("arcsec", AngleUnit::Arcsecond),
            ("arcmin", AngleUnit::Arcminute),
            ("mas", AngleUnit::Milliarcsecond),
            ("hourangle", AngleUnit::HourAngle),
        ] {
            assert_eq!(AngleUnit::parse(text), UnitOf::Angle(unit), "{text}");
        }
        assert_eq!(AngleUnit::parse("mag"), UnitOf::NotAngle("mag".into()));
        assert_eq!(AngleUnit::parse("nJy"), UnitOf::NotAngle("nJy".into()));
        assert_eq!(AngleUnit::parse("ma"), UnitOf::Unknown("ma".into()));
        assert_eq!(
            AngleUnit::parse("furlong"),
            UnitOf::Unknown("furlong".into())
        );
        assert_eq!(AngleUnit::parse(" "), UnitOf::Missing);
    }

    #[test]
    fn conversions_to_degrees_and_radians() {
        assert_eq!(AngleUnit::Radian.to_radians(1.25), 1.25);
        assert_eq!(AngleUnit::Degree.to_degrees(340.83), 340.83);
        assert_eq!(AngleUnit::Radian.to_degrees(std::f64::consts::PI), 180.0);
        assert_eq!(AngleUnit::HourAngle.to_degrees(22.7), 22.7 * 15.0);
        assert_eq!(AngleUnit::Arcsecond.to_degrees(3600.0), 1.0);
        assert_eq!(AngleUnit::Milliarcsecond.to_degrees(3_600_000.0), 1.0);
    }
}
