"""Compares two astropy HDF5 tables column by column with astropy: same columns, same
values (NaN equal to NaN, nothing masked), same dtype kind, units and descriptions; byte
strings may be wider in the second. Prints "equal <columns> <rows>" or the differences."""
import sys

import numpy as np
from astropy.table import Table

a = Table.read(sys.argv[1], path=sys.argv[2])
b = Table.read(sys.argv[3], path=sys.argv[4])
problems = []
if a.colnames != b.colnames:
    problems.append(f"columns {a.colnames} != {b.colnames}")
if len(a) != len(b):
    problems.append(f"rows {len(a)} != {len(b)}")
for name in a.colnames:
    if name not in b.colnames or len(a) != len(b):
        continue
    x, y = a[name], b[name]
    if getattr(y, "mask", None) is not None and np.any(y.mask):
        problems.append(f"{name}: masked values")
    yd = np.asarray(y.data if hasattr(y, "mask") else y)
    xd = np.asarray(x)
    if xd.dtype.kind != yd.dtype.kind or (xd.dtype.kind != "S" and xd.dtype != yd.dtype):
        problems.append(f"{name}: dtype {xd.dtype} != {yd.dtype}")
        continue
    if xd.dtype.kind == "S" and yd.dtype.itemsize < xd.dtype.itemsize:
        problems.append(f"{name}: narrower strings {yd.dtype}")
    if xd.dtype.kind == "f":
        same = np.array_equal(xd, yd, equal_nan=True) and np.array_equal(
            xd.view(f"u{xd.dtype.itemsize}")[~np.isnan(xd)],
            yd.view(f"u{yd.dtype.itemsize}")[~np.isnan(yd)],
        )
    else:
        same = np.array_equal(xd, yd)
    if not same:
        problems.append(f"{name}: values differ")
    if x.unit != y.unit:
        problems.append(f"{name}: unit {x.unit} != {y.unit}")
    if (x.description or None) != (y.description or None):
        problems.append(f"{name}: description {x.description!r} != {y.description!r}")
print("\n".join(problems) if problems else f"equal {len(a.colnames)} {len(a)}")
