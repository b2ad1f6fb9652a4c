#!/usr/bin/env python3
"""Reference answers from lsst-sphgeom for the Rust chunker tests.

Install: python3 -m venv .venv && .venv/bin/pip install lsst-sphgeom

Reads requests from stdin, one per line, and prints exactly one answer line
per request, in order. Angles are in degrees. Requests:

  layout S SS                          all chunk ids
  subchunks S SS CHUNK                 all sub-chunk ids of CHUNK
  box S SS RA_MIN RA_MAX DEC_MIN DEC_MAX
                                       chunks intersecting the box (RA_MIN > RA_MAX
                                       wraps; RA_MAX - RA_MIN >= 360 is full RA)
  cone S SS RA DEC RADIUS              chunks intersecting the circle
  point S SS RA DEC SUBSTRIPE SUBCHUNK "CANDIDATES;LON_A LON_B LAT_A LAT_B;CONTAINS"
                                       where CANDIDATES lists chunk:subchunk pairs
                                       intersecting the point (comma separated) and the
                                       box is getSubChunkBoundingBox(SUBSTRIPE, SUBCHUNK)

Id lists are space separated and sorted.
"""

import sys

import lsst.sphgeom as sg


def main() -> None:
    chunkers = {}
    out = []
    for line in sys.stdin:
        f = line.split()
        if not f:
            continue
        kind, s, ss = f[0], int(f[1]), int(f[2])
        key = (s, ss)
        if key not in chunkers:
            chunkers[key] = sg.Chunker(s, ss)
        ch = chunkers[key]
        args = f[3:]
        if kind == "layout":
            out.append(" ".join(str(c) for c in sorted(ch.getAllChunks())))
        elif kind == "subchunks":
            out.append(" ".join(str(c) for c in sorted(ch.getAllSubChunks(int(args[0])))))
        elif kind == "box":
            ra_min, ra_max, dec_min, dec_max = map(float, args)
            if ra_max - ra_min >= 360.0:
                region = sg.Box(sg.NormalizedAngleInterval.full(),
                                sg.AngleInterval.fromDegrees(dec_min, dec_max))
            else:
                region = sg.Box.fromDegrees(ra_min, dec_min, ra_max, dec_max)
            out.append(" ".join(str(c) for c in sorted(ch.getChunksIntersecting(region))))
        elif kind == "cone":
            ra, dec, r = map(float, args)
            region = sg.Circle(sg.UnitVector3d(sg.LonLat.fromDegrees(ra, dec)),
                               sg.Angle.fromDegrees(r))
            out.append(" ".join(str(c) for c in sorted(ch.getChunksIntersecting(region))))
        elif kind == "point":
            ra, dec = float(args[0]), float(args[1])
            sub_stripe, sub_chunk = int(args[2]), int(args[3])
            found = ch.getSubChunksIntersecting(sg.Box.fromDegrees(ra, dec, ra, dec))
            cands = sorted((c, sc) for c, scs in found for sc in scs)
            bbox = ch.getSubChunkBoundingBox(sub_stripe, sub_chunk)
            lon, lat = bbox.getLon(), bbox.getLat()
            contains = bbox.contains(sg.LonLat.fromDegrees(ra, dec))
            out.append("{};{} {} {} {};{}".format(
                ",".join(f"{c}:{sc}" for c, sc in cands),
                repr(lon.getA().asDegrees()), repr(lon.getB().asDegrees()),
                repr(lat.getA().asDegrees()), repr(lat.getB().asDegrees()),
                int(bool(contains))))
        else:
            raise SystemExit(f"unknown request: {line.strip()}")
    sys.stdout.write("\n".join(out) + "\n")


if __name__ == "__main__":
    main()
