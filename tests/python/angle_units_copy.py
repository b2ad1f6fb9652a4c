"""Copy the Clusters catalog's tables with their coordinate columns in another unit, as astropy
writes them: `deg` (values converted from radians), `none` (no unit), or `mag` (a unit that is
not an angle, values unchanged).

usage: angle_units_copy.py IN.h5 OUT.h5 deg|none|mag
"""
import sys

import astropy.units as u
from astropy.table import Table

src, out, unit = sys.argv[1:4]
for i, path in enumerate(["deepCoadd_meas", "deepCoadd_forced_src", "forced_src"]):
    t = Table.read(src, path=path)
    for col in ("coord_ra", "coord_dec"):
        if t[col].unit is None:
            t[col].unit = u.rad  # forced_src says nothing; its values are radians too
        if unit == "deg":
            t[col] = t[col].quantity.to(u.deg)
        elif unit == "none":
            t[col].unit = None
        elif unit == "mag":
            t[col].unit = u.mag
    t.write(out, path=path, serialize_meta=True, overwrite=(i == 0), append=(i > 0))
print(out)
