//! Assignment of sky positions to Qserv chunks and sub-chunks.
//!
//! This is a port of the partitioner's `Chunker` from the Qserv sources
//! (`lsst/qserv`: `src/partition/Chunker.h`, `src/partition/Chunker.cc`) together
//! with the helpers it uses from `src/partition/Geometry.{h,cc}` and
//! `src/partition/Constants.h`. Every floating point expression that decides a
//! chunk or a sub-chunk is written with the same `f64` operations, in the same
//! order, as the C++ code, so a row lands exactly where `sph-partition` would
//! put it. Query-side chunk selection (`chunks_in_box`, `chunks_in_cone`)
//! follows `lsst::sphgeom::Chunker::getChunksIntersecting` (`lsst/sphgeom`:
//! `src/Chunker.cc`), which is what the Qserv czar uses.
//!
//! # Layout
//!
//! All angles are in degrees. The sky is cut into `S` stripes of equal height
//! `180/S` in declination. Stripe `i` is cut into `nc[i]` chunks of equal
//! width in right ascension, chosen so that two points of the stripe one chunk
//! apart are at least a stripe height apart on the sky (`segments`). Each
//! stripe is also cut into `SS` sub-stripes of height `h = 180/(S*SS)`, and
//! each sub-stripe into `nc[i] * nsc[ss]` sub-chunks, `nsc[ss]` per chunk.
//! Stripes and sub-stripes touching a pole hold a single chunk/sub-chunk.
//!
//! Chunk ids are `stripe * 2 * S + chunk`; sub-chunk ids, which are only
//! unique within a chunk, are `ss_in_stripe * M + sub_chunk_in_chunk`, where
//! `M` is the largest `nsc` of the layout.
//!
//! # Overlap
//!
//! A row is also copied, flagged as overlap, into every sub-chunk whose
//! overlap region holds it: the sub-chunk box widened by `overlap` in
//! declination and by `alpha` (the half-width in right ascension of an
//! `overlap`-radius circle at the sub-stripe's most polar latitude) in right
//! ascension. Qserv restricts this to the sub-stripes directly below and
//! above and to the left and right neighbours within the home sub-stripe,
//! which is complete because the constructor rejects overlaps larger than the
//! sub-stripe height or any sub-chunk width.

use std::fmt;

/// 180/π, as written in `src/partition/Constants.h`.
#[allow(clippy::excessive_precision)]
const DEG_PER_RAD: f64 = 57.2957795130823208767981548141;
/// π/180, as written in `src/partition/Constants.h`.
#[allow(clippy::excessive_precision)]
const RAD_PER_DEG: f64 = 0.0174532925199432957692369076849;
/// 1 milli-arcsecond (`EPSILON_DEG` in `src/partition/Constants.h`).
const EPSILON_DEG: f64 = 0.001 / 3600.0;
/// Largest overlap radius accepted by `Chunker::_initialize` (`Chunker.cc`).
const MAX_OVERLAP_DEG: f64 = 10.0;
/// Finest layout `lsst::sphgeom::Chunker` accepts (`sphgeom src/Chunker.cc`):
/// sub-stripes of at least one arcsecond. It also keeps `segments` away from
/// its degenerate `width < 1/3600` branch.
const MAX_SUB_STRIPES: u64 = 180 * 3600;
/// `BOX_EPSILON` of `sphgeom src/Chunker.cc` (5e-12 rad, ~1 µas) in degrees:
/// sphgeom dilates region and chunk boxes by it before testing intersection.
const BOX_EPSILON_DEG: f64 = 5.0e-12 * DEG_PER_RAD;
/// Slack added to a cone radius so that rounding in the distance computation
/// can never drop a chunk the cone truly touches (~3.6 µas).
const CONE_TOLERANCE_DEG: f64 = 1.0e-9;

/// A chunk and sub-chunk pair; the sub-chunk id is only unique within its chunk.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Location {
    pub chunk_id: i32,
    pub sub_chunk_id: i32,
}

/// Why a layout was rejected by [`Chunker::new`].
#[derive(Debug, Clone, PartialEq)]
pub enum ChunkerError {
    /// The number of stripes or of sub-stripes per stripe is zero.
    ZeroStripes,
    /// The layout is finer than one arcsecond per sub-stripe, or its chunk
    /// or sub-chunk ids would not fit in an `i32`.
    LayoutTooFine {
        num_stripes: u32,
        num_sub_stripes_per_stripe: u32,
    },
    /// The overlap radius is NaN or outside `[0, 10]` degrees.
    InvalidOverlap(f64),
    /// The overlap radius exceeds the sub-stripe height.
    OverlapExceedsSubStripeHeight {
        overlap: f64,
        sub_stripe_height: f64,
    },
    /// The overlap radius exceeds the sub-chunk width of a sub-stripe.
    OverlapExceedsSubChunkWidth { overlap: f64, sub_stripe: i32 },
}

impl fmt::Display for ChunkerError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ChunkerError::ZeroStripes => write!(
                f,
                "the number of stripes and sub-stripes per stripe must be positive"
            ),
            ChunkerError::LayoutTooFine {
                num_stripes,
                num_sub_stripes_per_stripe,
            } => write!(
                f,
                "layout of {num_stripes} stripes x {num_sub_stripes_per_stripe} sub-stripes \
                 is too fine (sub-stripes under 1 arcsec or ids overflowing i32)"
            ),
            ChunkerError::InvalidOverlap(o) => {
                write!(f, "the overlap radius {o} must lie in [0, 10] deg")
            }
            ChunkerError::OverlapExceedsSubStripeHeight {
                overlap,
                sub_stripe_height,
            } => write!(
                f,
                "the overlap radius {overlap} deg is greater than the sub-stripe height \
                 {sub_stripe_height} deg"
            ),
            ChunkerError::OverlapExceedsSubChunkWidth {
                overlap,
                sub_stripe,
            } => write!(
                f,
                "the overlap radius {overlap} deg is greater than the sub-chunk width \
                 of sub-stripe {sub_stripe}"
            ),
        }
    }
}

impl std::error::Error for ChunkerError {}

/// `clampLon` of `src/partition/Geometry.h`: a computed upper bound within
/// 1 mas of 360 is snapped to exactly 360.
fn clamp_lon(lon: f64) -> f64 {
    if lon > 360.0 - EPSILON_DEG {
        360.0
    } else {
        lon
    }
}

/// `clampLat` of `src/partition/Geometry.h`.
fn clamp_lat(lat: f64) -> f64 {
    lat.clamp(-90.0, 90.0)
}

/// `reduceLon` of `src/partition/Geometry.cc`: range-reduce to `[0, 360)`.
fn reduce_lon(lon: f64) -> f64 {
    let mut lon = lon % 360.0;
    if lon < 0.0 {
        lon += 360.0;
        if lon == 360.0 {
            lon = 0.0;
        }
    }
    lon
}

/// `segments` of `src/partition/Chunker.cc`: the number of equal-width
/// segments to cut the latitude range into, such that points one segment
/// apart are at least `width` apart on the sky.
fn segments(lat_min: f64, lat_max: f64, width: f64) -> i32 {
    let mut lat = lat_min.abs().max(lat_max.abs());
    if lat > 90.0 - 1.0 / 3600.0 {
        return 1;
    }
    let mut width = width;
    if width >= 180.0 {
        return 1;
    } else if width < 1.0 / 3600.0 {
        // The C++ writes `width = 1 / 3600;`, an integer division giving 0.
        // Unreachable here: `Chunker::new` rejects layouts that fine.
        width = 0.0;
    }
    lat *= RAD_PER_DEG;
    let cw = (width * RAD_PER_DEG).cos();
    let sl = lat.sin();
    let cl = lat.cos();
    let x = cw - sl * sl;
    let u = cl * cl;
    let y = (u * u - x * x).abs().sqrt();
    (360.0 / (DEG_PER_RAD * y.atan2(x)).abs()).floor() as i32
}

/// `maxAlpha` of `src/partition/Geometry.cc`: the half-width in longitude of
/// the circle of radius `r` centred at latitude `center_lat`, or 180 if the
/// circle (nearly) reaches a pole. `r` must lie in `[0, 90]`.
fn max_alpha(r: f64, center_lat: f64) -> f64 {
    if r == 0.0 {
        return 0.0;
    }
    let lat = clamp_lat(center_lat);
    if lat.abs() + r > 90.0 - 1.0 / 3600.0 {
        return 180.0;
    }
    let r = r * RAD_PER_DEG;
    let lat = lat * RAD_PER_DEG;
    let y = r.sin();
    let x = ((lat - r).cos() * (lat + r).cos()).abs().sqrt();
    DEG_PER_RAD * (y / x).atan().abs()
}

/// Per-sub-stripe constants, precomputed so that locating a point costs two
/// divisions, two floors and a few integer operations.
#[derive(Debug, Clone, Copy)]
struct SubStripe {
    /// Sub-chunks per chunk (`_numSubChunksPerChunk`).
    num_sub_chunks_per_chunk: i32,
    /// `num_chunks * num_sub_chunks_per_chunk`.
    num_sub_chunks: i32,
    /// `_subChunkWidth`: 360 / num_sub_chunks.
    sub_chunk_width: f64,
    /// `_alpha`: overlap half-width in longitude for this sub-stripe.
    alpha: f64,
    /// `clampLat(ss * h - 90)` and `clampLat((ss + 1) * h - 90)`.
    lat_min: f64,
    lat_max: f64,
    /// `stripe * 2 * S`, added to the chunk index to form a chunk id.
    chunk_id_base: i32,
    /// `(ss - stripe * SS) * M`, added to the sub-chunk index within the
    /// chunk to form a sub-chunk id.
    sub_chunk_id_base: i32,
}

impl SubStripe {
    /// Sub-chunk index of `ra` within the sub-stripe (`locate` in `Chunker.cc`).
    /// The lower clamp only matters for inputs that break the preconditions.
    #[inline]
    fn sub_chunk_of(&self, ra: f64) -> i32 {
        ((ra / self.sub_chunk_width).floor() as i32).clamp(0, self.num_sub_chunks - 1)
    }

    /// `_getChunkId` / `_getSubChunkId` of `Chunker.h` for a sub-chunk index.
    #[inline]
    fn location(&self, sub_chunk: i32) -> Location {
        let chunk = sub_chunk / self.num_sub_chunks_per_chunk;
        Location {
            chunk_id: self.chunk_id_base + chunk,
            sub_chunk_id: self.sub_chunk_id_base
                + (sub_chunk - chunk * self.num_sub_chunks_per_chunk),
        }
    }
}

/// A longitude interval `[a, b]` in degrees with sphgeom's
/// `NormalizedAngleInterval` semantics: it wraps through 0/360 when `a > b`,
/// and `[0, 360]` is the full circle.
#[derive(Debug, Clone, Copy, PartialEq)]
struct LonInterval {
    a: f64,
    b: f64,
}

impl LonInterval {
    const FULL: LonInterval = LonInterval { a: 0.0, b: 360.0 };

    /// `NormalizedAngle(double)` of sphgeom, in degrees: values in `[0, 360]`
    /// are kept as they are.
    fn normalize(x: f64) -> f64 {
        if x < 0.0 {
            x % 360.0 + 360.0
        } else if x > 360.0 {
            x % 360.0
        } else {
            x
        }
    }

    /// `NormalizedAngleInterval(Angle x, Angle y)` of sphgeom, for `x <= y`
    /// whenever either end lies outside `[0, 360]`.
    fn new(x: f64, y: f64) -> LonInterval {
        let normalized = |v: f64| (0.0..=360.0).contains(&v);
        if (!normalized(x) || !normalized(y)) && y - x >= 360.0 {
            return LonInterval::FULL;
        }
        LonInterval {
            a: Self::normalize(x),
            b: Self::normalize(y),
        }
    }

    fn is_full(&self) -> bool {
        self.a == 0.0 && self.b == 360.0
    }

    fn wraps(&self) -> bool {
        self.a > self.b
    }

    /// `NormalizedAngleInterval::dilatedBy` of sphgeom for `w >= 0`.
    fn dilated_by(self, w: f64) -> LonInterval {
        if self.is_full() || w == 0.0 {
            return self;
        }
        if w >= 180.0 {
            return LonInterval::FULL;
        }
        let mut a = self.a - w;
        let mut b = self.b + w;
        if self.wraps() {
            if a <= b {
                return LonInterval::FULL;
            }
        } else {
            if a < 0.0 {
                a += 360.0;
                if a <= b {
                    return LonInterval::FULL;
                }
            }
            if b > 360.0 {
                b -= 360.0;
                if a <= b {
                    return LonInterval::FULL;
                }
            }
        }
        LonInterval::new(a, b)
    }

    /// `NormalizedAngleInterval::isDisjointFrom` of sphgeom (closed intervals).
    fn is_disjoint_from(&self, x: &LonInterval) -> bool {
        if x.wraps() {
            return if self.wraps() {
                false
            } else {
                x.a > self.b && x.b < self.a
            };
        }
        if self.wraps() {
            return self.a > x.b && self.b < x.a;
        }
        x.b < self.a || x.a > self.b
    }
}

/// A non-empty longitude/latitude box in degrees (sphgeom `Box` semantics).
#[derive(Debug, Clone, Copy, PartialEq)]
struct LonLatBox {
    lon: LonInterval,
    lat_min: f64,
    lat_max: f64,
}

impl LonLatBox {
    fn is_full(&self) -> bool {
        self.lon.is_full() && self.lat_min == -90.0 && self.lat_max == 90.0
    }

    /// `Box::dilatedBy(Angle r)` of sphgeom (`src/Box.cc`), in degrees.
    fn dilated_by(self, r: f64) -> LonLatBox {
        if self.is_full() || r <= 0.0 {
            return self;
        }
        let max_abs_lat = self.lat_min.abs().max(self.lat_max.abs());
        let w = half_width_for_circle(r, max_abs_lat);
        let lat_min = if self.lat_min > -90.0 {
            self.lat_min - r
        } else {
            self.lat_min
        };
        let lat_max = if self.lat_max < 90.0 {
            self.lat_max + r
        } else {
            self.lat_max
        };
        LonLatBox {
            lon: self.lon.dilated_by(w),
            lat_min: clamp_lat(lat_min),
            lat_max: clamp_lat(lat_max),
        }
    }

    /// `(Box::relate(Box) & DISJOINT) != 0` of sphgeom.
    fn is_disjoint_from(&self, other: &LonLatBox) -> bool {
        self.lat_min > other.lat_max
            || self.lat_max < other.lat_min
            || self.lon.is_disjoint_from(&other.lon)
    }
}

/// `Box::halfWidthForCircle` of sphgeom (`src/Box.cc`), in degrees: the
/// half-width in longitude of the bounding box of a circle of radius `r`
/// centred at latitude `lat`.
fn half_width_for_circle(r: f64, lat: f64) -> f64 {
    if r <= 0.0 {
        return 0.0;
    }
    if lat.abs() + r >= 90.0 {
        return 180.0;
    }
    let s = ((r * RAD_PER_DEG).sin() / (lat * RAD_PER_DEG).cos()).abs();
    if s >= 1.0 {
        return 90.0;
    }
    s.asin() * DEG_PER_RAD
}

/// Unit vector for a position in degrees.
fn unit_vector(lon: f64, lat: f64) -> [f64; 3] {
    let (sin_lon, cos_lon) = (lon * RAD_PER_DEG).sin_cos();
    let (sin_lat, cos_lat) = (lat * RAD_PER_DEG).sin_cos();
    [cos_lon * cos_lat, sin_lon * cos_lat, sin_lat]
}

/// Angle between two unit vectors in degrees, accurate at all separations.
fn angular_separation(p: [f64; 3], q: [f64; 3]) -> f64 {
    let c = [
        p[1] * q[2] - p[2] * q[1],
        p[2] * q[0] - p[0] * q[2],
        p[0] * q[1] - p[1] * q[0],
    ];
    let sin = (c[0] * c[0] + c[1] * c[1] + c[2] * c[2]).sqrt();
    let cos = p[0] * q[0] + p[1] * q[1] + p[2] * q[2];
    sin.atan2(cos) * DEG_PER_RAD
}

/// Minimum angular distance in degrees from `(ra, dec)` to the box
/// `[lon_min, lon_max] x [lat_min, lat_max]` (non-wrapping, as Qserv chunk
/// bounds are), 0 inside. If the point's longitude lies in the box's range,
/// the nearest box point is straight up or down. Otherwise it lies on one of
/// the two bounding meridians, where the dot product with the point is a
/// sinusoid of latitude: its maximum on the edge is at an end point or at
/// the sinusoid's peak.
fn distance_to_box(
    ra: f64,
    dec: f64,
    lon_min: f64,
    lon_max: f64,
    lat_min: f64,
    lat_max: f64,
) -> f64 {
    if lon_max - lon_min >= 360.0 || (ra >= lon_min && ra <= lon_max) {
        return (lat_min - dec).max(dec - lat_max).max(0.0);
    }
    let p = unit_vector(ra, dec);
    let (sin_dec, cos_dec) = (dec * RAD_PER_DEG).sin_cos();
    let mut best = f64::INFINITY;
    for edge in [lon_min, lon_max] {
        let peak = sin_dec.atan2(cos_dec * ((ra - edge) * RAD_PER_DEG).cos()) * DEG_PER_RAD;
        for lat in [lat_min, lat_max, peak] {
            if lat >= lat_min && lat <= lat_max {
                best = best.min(angular_separation(p, unit_vector(edge, lat)));
            }
        }
    }
    best
}

/// Locates sky positions in Qserv's chunk/sub-chunk layout; see the module
/// documentation for the layout and its source.
#[derive(Debug, Clone)]
pub struct Chunker {
    overlap: f64,
    num_stripes: i32,
    num_sub_stripes_per_stripe: i32,
    num_sub_stripes: i32,
    sub_stripe_height: f64,
    max_sub_chunks_per_chunk: i32,
    num_chunks_per_stripe: Vec<i32>,
    sub_stripes: Vec<SubStripe>,
}

impl Chunker {
    /// Builds the layout of `num_stripes` stripes of `num_sub_stripes_per_stripe`
    /// sub-stripes with an overlap radius of `overlap_deg` degrees
    /// (`Chunker::_initialize` in `Chunker.cc`).
    ///
    /// Rejected as in Qserv: zero stripes or sub-stripes, an overlap outside
    /// `[0, 10]` (NaN too, which the C++ would let through), an overlap above
    /// the sub-stripe height or above any sub-chunk width. Also rejected,
    /// because ids are `i32` and sphgeom refuses them: layouts with
    /// sub-stripes under one arcsecond or ids that overflow `i32`.
    pub fn new(
        num_stripes: u32,
        num_sub_stripes_per_stripe: u32,
        overlap_deg: f64,
    ) -> Result<Chunker, ChunkerError> {
        if num_stripes == 0 || num_sub_stripes_per_stripe == 0 {
            return Err(ChunkerError::ZeroStripes);
        }
        let too_fine = ChunkerError::LayoutTooFine {
            num_stripes,
            num_sub_stripes_per_stripe,
        };
        let total = u64::from(num_stripes) * u64::from(num_sub_stripes_per_stripe);
        // Chunk ids go up to stripe * 2 * S + nc - 1 < 2 * S * S.
        if total > MAX_SUB_STRIPES || 2 * u64::from(num_stripes).pow(2) > i32::MAX as u64 {
            return Err(too_fine);
        }
        if !(0.0..=MAX_OVERLAP_DEG).contains(&overlap_deg) {
            return Err(ChunkerError::InvalidOverlap(overlap_deg));
        }
        let overlap = overlap_deg;
        let num_stripes = num_stripes as i32;
        let num_sub_stripes_per_stripe = num_sub_stripes_per_stripe as i32;
        let num_sub_stripes = total as i32;
        let stripe_height = 180.0 / f64::from(num_stripes);
        let sub_stripe_height = 180.0 / f64::from(num_sub_stripes);
        if sub_stripe_height < overlap {
            return Err(ChunkerError::OverlapExceedsSubStripeHeight {
                overlap,
                sub_stripe_height,
            });
        }
        let mut num_chunks_per_stripe = Vec::with_capacity(num_stripes as usize);
        // (num_chunks, nsc, sub_chunk_width, alpha) per sub-stripe.
        let mut raw = Vec::with_capacity(num_sub_stripes as usize);
        let mut max_sub_chunks_per_chunk = 0;
        for i in 0..num_stripes {
            let nc = segments(
                f64::from(i) * stripe_height - 90.0,
                f64::from(i + 1) * stripe_height - 90.0,
                stripe_height,
            );
            num_chunks_per_stripe.push(nc);
            for j in 0..num_sub_stripes_per_stripe {
                let ss = i * num_sub_stripes_per_stripe + j;
                let lat_min = f64::from(ss) * sub_stripe_height - 90.0;
                let lat_max = f64::from(ss + 1) * sub_stripe_height - 90.0;
                let nsc = segments(lat_min, lat_max, sub_stripe_height) / nc;
                let num_sub_chunks = i64::from(nsc) * i64::from(nc);
                if nsc < 1 || num_sub_chunks > i64::from(i32::MAX) {
                    return Err(too_fine);
                }
                max_sub_chunks_per_chunk = max_sub_chunks_per_chunk.max(nsc);
                let scw = 360.0 / f64::from(nsc * nc);
                let a = max_alpha(overlap, lat_min.abs().max(lat_max.abs()));
                if a > scw {
                    return Err(ChunkerError::OverlapExceedsSubChunkWidth {
                        overlap,
                        sub_stripe: ss,
                    });
                }
                raw.push((nc, nsc, scw, a));
            }
        }
        if i64::from(max_sub_chunks_per_chunk) * i64::from(num_sub_stripes_per_stripe)
            > i64::from(i32::MAX)
        {
            return Err(too_fine);
        }
        let sub_stripes = raw
            .into_iter()
            .enumerate()
            .map(|(ss, (nc, nsc, scw, alpha))| {
                let ss = ss as i32;
                let stripe = ss / num_sub_stripes_per_stripe;
                SubStripe {
                    num_sub_chunks_per_chunk: nsc,
                    num_sub_chunks: nc * nsc,
                    sub_chunk_width: scw,
                    alpha,
                    lat_min: clamp_lat(f64::from(ss) * sub_stripe_height - 90.0),
                    lat_max: clamp_lat(f64::from(ss + 1) * sub_stripe_height - 90.0),
                    chunk_id_base: stripe * 2 * num_stripes,
                    sub_chunk_id_base: (ss - stripe * num_sub_stripes_per_stripe)
                        * max_sub_chunks_per_chunk,
                }
            })
            .collect();
        Ok(Chunker {
            overlap,
            num_stripes,
            num_sub_stripes_per_stripe,
            num_sub_stripes,
            sub_stripe_height,
            max_sub_chunks_per_chunk,
            num_chunks_per_stripe,
            sub_stripes,
        })
    }

    /// The overlap radius in degrees.
    pub fn overlap(&self) -> f64 {
        self.overlap
    }

    /// The number of stripes `S`.
    pub fn num_stripes(&self) -> u32 {
        self.num_stripes as u32
    }

    /// The number of sub-stripes per stripe `SS`.
    pub fn num_sub_stripes_per_stripe(&self) -> u32 {
        self.num_sub_stripes_per_stripe as u32
    }

    /// `M`, the largest number of sub-chunks per chunk in any sub-stripe; the
    /// stride of sub-chunk ids between sub-stripes.
    pub fn max_sub_chunks_per_chunk(&self) -> i32 {
        self.max_sub_chunks_per_chunk
    }

    /// The number of chunks in `stripe`, or `None` outside `[0, S)`.
    pub fn num_chunks_in_stripe(&self, stripe: i32) -> Option<i32> {
        usize::try_from(stripe)
            .ok()
            .and_then(|s| self.num_chunks_per_stripe.get(s).copied())
    }

    /// The stripe of a chunk id (`_getStripe` in `Chunker.h`); meaningful
    /// only for valid chunk ids.
    pub fn stripe(&self, chunk_id: i32) -> i32 {
        chunk_id / (2 * self.num_stripes)
    }

    /// Whether `chunk_id` names a chunk of this layout.
    pub fn is_valid_chunk(&self, chunk_id: i32) -> bool {
        self.split_chunk_id(chunk_id).is_some()
    }

    /// Whether `loc` names a sub-chunk of this layout.
    pub fn is_valid_location(&self, loc: Location) -> bool {
        self.split_location(loc).is_some()
    }

    /// The home location of a position (`Chunker::locate(position)`).
    ///
    /// Precondition, not checked on this hot path: `ra` and `dec` are finite
    /// with `0 <= ra < 360` and `-90 <= dec <= 90` (the caller validates
    /// rows). `ra == 360` and `dec == 90` land in the last sub-chunk /
    /// sub-stripe as in Qserv; other out-of-range inputs are clamped to the
    /// nearest sub-stripe and sub-chunk rather than panicking.
    #[inline]
    pub fn locate(&self, ra: f64, dec: f64) -> Location {
        let t = &self.sub_stripes[self.sub_stripe_of(dec)];
        t.location(t.sub_chunk_of(ra))
    }

    /// Writes into `out` (cleared first) the home location of a position,
    /// flagged `false`, followed by every overlap location, flagged `true`,
    /// in the order Qserv emits them (`Chunker::locate(position, -1,
    /// locations)`): home; the sub-chunks of the sub-stripe below, by
    /// increasing RA, except that when the range wraps through RA 0 those
    /// just below 360 come first; likewise the sub-stripe above; the left
    /// neighbour; the right neighbour. No location appears twice (Qserv does
    /// no de-duplication and needs none, see `up_down_overlap`).
    /// Same precondition as [`Self::locate`]. Allocation-free once `out` has
    /// grown to the largest result.
    pub fn locate_with_overlap(&self, ra: f64, dec: f64, out: &mut Vec<(Location, bool)>) {
        self.locate_filtered(ra, dec, None, out);
    }

    /// Like [`Self::locate_with_overlap`], but keeps only the locations in
    /// chunk `chunk_id`: what the partitioner and the duplicator do when
    /// they build a single chunk (`Chunker::locate(position, chunkId, ...)`).
    pub fn locate_in_chunk(
        &self,
        ra: f64,
        dec: f64,
        chunk_id: i32,
        out: &mut Vec<(Location, bool)>,
    ) {
        self.locate_filtered(ra, dec, Some(chunk_id), out);
    }

    #[inline]
    fn sub_stripe_of(&self, dec: f64) -> usize {
        let ss = ((dec + 90.0) / self.sub_stripe_height).floor() as i32;
        ss.clamp(0, self.num_sub_stripes - 1) as usize
    }

    /// Port of the overlap-aware `Chunker::locate` in `Chunker.cc`.
    fn locate_filtered(
        &self,
        ra: f64,
        dec: f64,
        filter: Option<i32>,
        out: &mut Vec<(Location, bool)>,
    ) {
        out.clear();
        let ss = self.sub_stripe_of(dec);
        let t = &self.sub_stripes[ss];
        let sub_chunk = t.sub_chunk_of(ra);
        push_if(out, filter, t.location(sub_chunk), false);
        if self.overlap == 0.0 {
            return;
        }
        // Qserv derives the sub-chunk bounds the same way as getSubChunkBounds.
        let lon_min = f64::from(sub_chunk) * t.sub_chunk_width;
        let lon_max = clamp_lon(f64::from(sub_chunk + 1) * t.sub_chunk_width);
        if ss > 0 && dec < t.lat_min + self.overlap {
            self.up_down_overlap(ra, filter, ss - 1, out);
        }
        if ss + 1 < self.sub_stripes.len() && dec >= t.lat_max - self.overlap {
            self.up_down_overlap(ra, filter, ss + 1, out);
        }
        let n = t.num_sub_chunks;
        if n == 1 {
            return;
        }
        // With n >= 4 (see `up_down_overlap`) the left and right neighbours
        // are distinct, so no location is emitted twice.
        if ra < lon_min + t.alpha {
            let sc = if sub_chunk == 0 { n - 1 } else { sub_chunk - 1 };
            push_if(out, filter, t.location(sc), true);
        }
        if ra > lon_max - t.alpha {
            let sc = if sub_chunk == n - 1 { 0 } else { sub_chunk + 1 };
            push_if(out, filter, t.location(sc), true);
        }
    }

    /// `Chunker::_upDownOverlap` of `Chunker.cc`: every sub-chunk of
    /// sub-stripe `ss` whose longitude range widened by that sub-stripe's
    /// alpha contains `ra`, in increasing order after the 0/360 wrap.
    ///
    /// The wrap handling is exact because `alpha <= sub_chunk_width` (checked
    /// in `new`), so `ra +/- alpha` spans at most 3 sub-chunks, and a
    /// sub-stripe has either 1 sub-chunk (at a pole) or at least 4: away
    /// from the poles `segments` never returns less than 4 (test
    /// `sub_stripes_have_one_or_at_least_four_sub_chunks`).
    fn up_down_overlap(
        &self,
        ra: f64,
        filter: Option<i32>,
        ss: usize,
        out: &mut Vec<(Location, bool)>,
    ) {
        let t = &self.sub_stripes[ss];
        let n = t.num_sub_chunks;
        let mut min_sc = ((ra - t.alpha) / t.sub_chunk_width).floor() as i32;
        let mut max_sc = ((ra + t.alpha) / t.sub_chunk_width).floor() as i32;
        if min_sc < 0 {
            min_sc += n;
        }
        if max_sc >= n {
            max_sc -= n;
        }
        if min_sc > max_sc {
            for sc in min_sc..n {
                push_if(out, filter, t.location(sc), true);
            }
            min_sc = 0;
        }
        for sc in min_sc..=max_sc {
            push_if(out, filter, t.location(sc), true);
        }
    }

    /// Every chunk id of the layout, ascending (sphgeom `getAllChunks`).
    pub fn all_chunks(&self) -> Vec<i32> {
        let mut ids = Vec::new();
        for (s, &nc) in self.num_chunks_per_stripe.iter().enumerate() {
            let base = s as i32 * 2 * self.num_stripes;
            ids.extend((0..nc).map(|c| base + c));
        }
        ids
    }

    /// The sub-chunk ids of a chunk, ascending (`Chunker::getSubChunks`);
    /// empty for an invalid chunk id.
    pub fn sub_chunks(&self, chunk_id: i32) -> Vec<i32> {
        let Some((stripe, _)) = self.split_chunk_id(chunk_id) else {
            return Vec::new();
        };
        let first = (stripe * self.num_sub_stripes_per_stripe) as usize;
        let range = first..first + self.num_sub_stripes_per_stripe as usize;
        self.sub_stripes[range]
            .iter()
            .flat_map(|t| (0..t.num_sub_chunks_per_chunk).map(|sc| t.sub_chunk_id_base + sc))
            .collect()
    }

    /// `(ra_min, ra_max, dec_min, dec_max)` of a chunk
    /// (`Chunker::getChunkBounds`); `ra_max` of the last chunk of a stripe
    /// is exactly 360. `None` for an invalid chunk id.
    pub fn chunk_bounds(&self, chunk_id: i32) -> Option<(f64, f64, f64, f64)> {
        let (stripe, chunk) = self.split_chunk_id(chunk_id)?;
        let width = 360.0 / f64::from(self.num_chunks_per_stripe[stripe as usize]);
        let ss_per = self.num_sub_stripes_per_stripe;
        Some((
            f64::from(chunk) * width,
            clamp_lon(f64::from(chunk + 1) * width),
            clamp_lat(f64::from(stripe * ss_per) * self.sub_stripe_height - 90.0),
            clamp_lat(f64::from((stripe + 1) * ss_per) * self.sub_stripe_height - 90.0),
        ))
    }

    /// `(ra_min, ra_max, dec_min, dec_max)` of a sub-chunk
    /// (`Chunker::getSubChunkBounds`). A located point satisfies
    /// `ra_min <= ra < ra_max` and `dec_min <= dec < dec_max` (both upper
    /// bounds inclusive in the last sub-chunk / sub-stripe). `None` for an
    /// invalid location.
    pub fn sub_chunk_bounds(&self, loc: Location) -> Option<(f64, f64, f64, f64)> {
        let (ss, sub_chunk) = self.split_location(loc)?;
        let t = &self.sub_stripes[ss];
        Some((
            f64::from(sub_chunk) * t.sub_chunk_width,
            clamp_lon(f64::from(sub_chunk + 1) * t.sub_chunk_width),
            t.lat_min,
            t.lat_max,
        ))
    }

    /// `(stripe, chunk index)` of a valid chunk id.
    fn split_chunk_id(&self, chunk_id: i32) -> Option<(i32, i32)> {
        if chunk_id < 0 {
            return None;
        }
        let stripe = self.stripe(chunk_id);
        let chunk = chunk_id - stripe * 2 * self.num_stripes;
        (chunk < *self.num_chunks_per_stripe.get(stripe as usize)?).then_some((stripe, chunk))
    }

    /// `(sub-stripe, sub-chunk index within the sub-stripe)` of a valid
    /// location (`_getSubStripe` / `_getSubChunk` of `Chunker.h`).
    fn split_location(&self, loc: Location) -> Option<(usize, i32)> {
        let (stripe, chunk) = self.split_chunk_id(loc.chunk_id)?;
        if loc.sub_chunk_id < 0 {
            return None;
        }
        let m = self.max_sub_chunks_per_chunk;
        let ss_in_stripe = loc.sub_chunk_id / m;
        let sc_in_chunk = loc.sub_chunk_id % m;
        if ss_in_stripe >= self.num_sub_stripes_per_stripe {
            return None;
        }
        let ss = (stripe * self.num_sub_stripes_per_stripe + ss_in_stripe) as usize;
        let nsc = self.sub_stripes[ss].num_sub_chunks_per_chunk;
        (sc_in_chunk < nsc).then_some((ss, chunk * nsc + sc_in_chunk))
    }

    /// Chunks intersecting the box `[ra_min, ra_max] x [dec_min, dec_max]`
    /// (degrees), ascending.
    ///
    /// `ra_min > ra_max` (after reduction to `[0, 360)`) means the box
    /// wraps through RA 0; `ra_max - ra_min >= 360` means all right
    /// ascensions (as Qserv's `SphericalBox` constructor). Declinations are
    /// clamped to `[-90, 90]`; an empty or non-finite box gives no chunks.
    ///
    /// Semantics are those of sphgeom's `Chunker::getChunksIntersecting(Box)`
    /// (what the czar uses): boundaries are closed and both the box and the
    /// chunk boxes are dilated by ~1 µas, so a box merely touching a chunk,
    /// or missing it by under ~1 µas, selects it. That is a superset of the
    /// partitioner's `Chunker::getChunksIn`, which tests exact closed boxes.
    pub fn chunks_in_box(&self, ra_min: f64, ra_max: f64, dec_min: f64, dec_max: f64) -> Vec<i32> {
        if !(ra_min.is_finite() && ra_max.is_finite() && dec_min.is_finite() && dec_max.is_finite())
            || dec_min > dec_max
            || dec_min > 90.0
            || dec_max < -90.0
        {
            return Vec::new();
        }
        let lon = if ra_max - ra_min >= 360.0 {
            LonInterval::FULL
        } else {
            LonInterval::new(reduce_lon(ra_min), reduce_lon(ra_max))
        };
        let region = LonLatBox {
            lon,
            lat_min: clamp_lat(dec_min),
            lat_max: clamp_lat(dec_max),
        };
        self.chunks_in_lon_lat_box(&region, |_, _| true)
    }

    /// Chunks containing at least one point within `radius_deg` degrees of
    /// `(ra, dec)`, ascending. `ra` may be any finite value (it is reduced to
    /// `[0, 360)`), `dec` is clamped to `[-90, 90]`; a negative or
    /// non-finite radius gives no chunks.
    ///
    /// Candidates come from the cone's bounding box (what Qserv's
    /// `SphericalBox::expand` would give, with sphgeom's box test); each is
    /// then kept only if its angular distance to the centre is at most
    /// `radius_deg + 1e-9`. The result is therefore exact up to that
    /// ~3.6 µas slack: a superset of the chunks truly touching the cone, and
    /// never larger than the bounding-box answer.
    pub fn chunks_in_cone(&self, ra: f64, dec: f64, radius_deg: f64) -> Vec<i32> {
        if !(ra.is_finite() && dec.is_finite() && radius_deg.is_finite()) || radius_deg < 0.0 {
            return Vec::new();
        }
        let ra = reduce_lon(ra);
        let dec = clamp_lat(dec);
        let r = radius_deg + CONE_TOLERANCE_DEG;
        let lat_min = dec - r;
        let lat_max = dec + r;
        let lon = if lat_min <= -90.0 || lat_max >= 90.0 {
            LonInterval::FULL
        } else {
            let hw = half_width_for_circle(r, dec);
            if hw >= 180.0 {
                LonInterval::FULL
            } else {
                LonInterval::new(ra - hw, ra + hw)
            }
        };
        let region = LonLatBox {
            lon,
            lat_min: clamp_lat(lat_min),
            lat_max: clamp_lat(lat_max),
        };
        self.chunks_in_lon_lat_box(&region, |stripe, chunk| {
            let id = stripe * 2 * self.num_stripes + chunk;
            let (lo0, lo1, la0, la1) = self.chunk_bounds(id).expect("chunk from layout");
            distance_to_box(ra, dec, lo0, lo1, la0, la1) <= r
        })
    }

    /// sphgeom's `Chunker::getChunksIntersecting` for a box region, with an
    /// extra `keep(stripe, chunk)` filter.
    fn chunks_in_lon_lat_box(
        &self,
        region: &LonLatBox,
        mut keep: impl FnMut(i32, i32) -> bool,
    ) -> Vec<i32> {
        let b = region.dilated_by(BOX_EPSILON_DEG);
        let h = self.sub_stripe_height;
        let last = self.num_sub_stripes - 1;
        let min_ss = (((b.lat_min + 90.0) / h).floor() as i32).clamp(0, last);
        let max_ss = (((b.lat_max + 90.0) / h).floor() as i32).clamp(0, last);
        let mut ids = Vec::new();
        for s in min_ss / self.num_sub_stripes_per_stripe..=max_ss / self.num_sub_stripes_per_stripe
        {
            let nc = self.num_chunks_per_stripe[s as usize];
            let chunk_width = 360.0 / f64::from(nc);
            let mut ca = ((b.lon.a / chunk_width).floor() as i32).min(nc - 1);
            let mut cb = ((b.lon.b / chunk_width).floor() as i32).min(nc - 1);
            if ca == cb && b.lon.wraps() {
                ca = 0;
                cb = nc - 1;
            }
            let mut consider = |c: i32| {
                if !region.is_disjoint_from(&self.dilated_chunk_box(s, c)) && keep(s, c) {
                    ids.push(s * 2 * self.num_stripes + c);
                }
            };
            if ca <= cb {
                (ca..=cb).for_each(&mut consider);
            } else {
                (0..=cb).for_each(&mut consider);
                (ca..nc).for_each(&mut consider);
            }
        }
        ids.sort_unstable();
        ids.dedup();
        ids
    }

    /// sphgeom's `Chunker::getChunkBoundingBox`: the chunk box dilated by
    /// `BOX_EPSILON`, built from the Qserv (degree) chunk bounds.
    fn dilated_chunk_box(&self, stripe: i32, chunk: i32) -> LonLatBox {
        let id = stripe * 2 * self.num_stripes + chunk;
        let (lon_min, lon_max, lat_min, lat_max) =
            self.chunk_bounds(id).expect("chunk from layout");
        LonLatBox {
            lon: LonInterval::new(lon_min, lon_max),
            lat_min,
            lat_max,
        }
        .dilated_by(BOX_EPSILON_DEG)
    }
}

#[inline]
fn push_if(out: &mut Vec<(Location, bool)>, filter: Option<i32>, loc: Location, overlap: bool) {
    if filter.is_none_or(|c| c == loc.chunk_id) {
        out.push((loc, overlap));
    }
}

#[cfg(test)]
#[path = "chunker_tests.rs"]
mod tests;
