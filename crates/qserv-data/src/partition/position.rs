//! The check every input position passes before it is located: Qserv's tool would crash or
//! write garbage on a bad coordinate, this partitioner names the row instead.

/// Validates a position in degrees; `Err((0 | 1, reason))` names ra or dec.
pub fn check_position(
    ra: f64,
    dec: f64,
    normalize_ra: bool,
) -> Result<(f64, f64), (usize, String)> {
    if !(-90.0..=90.0).contains(&dec) {
        return Err((1, format!("declination {dec} is outside [-90, 90]")));
    }
    let ra = if normalize_ra {
        let r = ra.rem_euclid(360.0);
        if r >= 360.0 { 0.0 } else { r }
    } else {
        ra
    };
    if !(0.0..360.0).contains(&ra) {
        return Err((
            0,
            format!("right ascension {ra} is outside [0, 360) (--normalize-ra wraps it)"),
        ));
    }
    Ok((ra, dec))
}
