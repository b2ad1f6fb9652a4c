//! Angles with units, as the Clusters pipeline writes them (`"0.4 degree"`).

/// Parses `<number> <unit>` (unit: degree/deg/d, arcmin, arcsec, radian/rad; plural allowed;
/// a bare number is degrees) into degrees.
pub fn parse_angle_degrees(text: &str) -> Result<f64, String> {
    let t = text.trim();
    let split = t
        .find(|c: char| !(c.is_ascii_digit() || matches!(c, '.' | '-' | '+' | 'e' | 'E')))
        .unwrap_or(t.len());
    let (number, unit) = t.split_at(split);
    let value: f64 = number
        .trim()
        .parse()
        .map_err(|_| format!("not an angle like \"0.4 degree\" or \"24 arcmin\": {text:?}"))?;
    let unit = unit.trim().trim_end_matches('s');
    let factor = match unit {
        "" | "deg" | "degree" | "d" => 1.0,
        "arcmin" | "amin" => 1.0 / 60.0,
        "arcsec" | "asec" => 1.0 / 3600.0,
        "rad" | "radian" => 180.0 / std::f64::consts::PI,
        other => {
            return Err(format!(
                "unknown angle unit {other:?} in {text:?} (degree, arcmin, arcsec, radian)"
            ));
        }
    };
    let degrees = value * factor;
    if !degrees.is_finite() {
        return Err(format!("angle must be finite: {text:?}"));
    }
    Ok(degrees)
}

#[cfg(test)]
mod tests {
    use super::parse_angle_degrees;

    #[test]
    fn units() {
        assert_eq!(parse_angle_degrees("0.4 degree").unwrap(), 0.4);
        assert_eq!(parse_angle_degrees("0.4 degrees").unwrap(), 0.4);
        assert_eq!(parse_angle_degrees("2").unwrap(), 2.0);
        assert_eq!(parse_angle_degrees("24 arcmin").unwrap(), 0.4);
        assert_eq!(parse_angle_degrees("36arcsec").unwrap(), 0.01);
        assert!((parse_angle_degrees("1 radian").unwrap() - 57.29577951308232).abs() < 1e-12);
    }

    #[test]
    fn errors_name_the_input() {
        let e = parse_angle_degrees("0.4 furlong").unwrap_err();
        assert!(e.contains("unknown angle unit \"furlong\""), "{e}");
        let e = parse_angle_degrees("wide").unwrap_err();
        assert!(e.contains("\"wide\""), "{e}");
    }
}
