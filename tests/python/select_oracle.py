"""Independent oracle for column globs, cone and band selection, with astropy and numpy.

usage: select_oracle.py FILE.h5 DATASET RA_DEG DEC_DEG RADIUS_DEG BANDS PATTERNS KEEP
BANDS, PATTERNS and KEEP are comma-separated (BANDS empty: no band filter). Positions are
coord_ra/coord_dec in radians. Output: like dump_table.py, for the selected rows and columns.
"""
import fnmatch
import json
import math
import struct
import sys

import astropy.units as u
import numpy as np
from astropy.coordinates import SkyCoord
from astropy.table import Table

path, dataset = sys.argv[1], sys.argv[2]
ra, dec, radius = (float(x) for x in sys.argv[3:6])
bands = [b for b in sys.argv[6].split(",") if b]
patterns, keep = sys.argv[7].split(","), sys.argv[8].split(",")

t = Table.read(path, path=dataset)
center = SkyCoord(ra * u.deg, dec * u.deg)
points = SkyCoord(np.asarray(t["coord_ra"]) * u.rad, np.asarray(t["coord_dec"]) * u.rad)
mask = points.separation(center).deg <= radius
if bands and "filter" in t.colnames:
    mask &= np.isin(np.char.decode(np.asarray(t["filter"])), bands)
names = [n for n in t.colnames if n in keep or any(fnmatch.fnmatchcase(n, p) for p in patterns)]


def plain(value):
    if isinstance(value, bytes):
        return value.decode("utf-8")
    value = value.item() if hasattr(value, "item") else value
    if isinstance(value, float):
        if math.isnan(value):
            return None
        return "f:%016x" % struct.unpack("<Q", struct.pack("<d", value))[0]
    return value


rows = [[plain(row[n]) for n in names] for row in t[mask]]
json.dump({"columns": [{"name": n} for n in names], "rows": rows, "total": len(t)}, sys.stdout)
