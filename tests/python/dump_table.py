"""Independent oracle: dump an astropy HDF5 table as JSON, read by astropy (not our reader).

usage: dump_table.py FILE.h5 DATASET
Output: {"columns": [{"name", "unit", "description"}], "rows": [[v, ...], ...]} where NaN is
null, as is a masked value, byte strings are decoded as UTF-8, integers and bools are JSON numbers and bools, and
floats are "f:<16 hex digits of the IEEE double>" so the comparison is exact (float32 values
are widened to double first, as the Rust side does).
"""
import json
import math
import struct
import sys

import numpy as np
from astropy.table import Table

path, dataset = sys.argv[1], sys.argv[2]
table = Table.read(path, path=dataset)


def plain(value):
    if value is np.ma.masked:
        return None
    if isinstance(value, bytes):
        return value.decode("utf-8")
    value = value.item() if hasattr(value, "item") else value
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, float):
        return "f:%016x" % struct.unpack("<Q", struct.pack("<d", value))[0]
    return value


columns = [
    {
        "name": name,
        "unit": None if table[name].unit is None else table[name].unit.to_string(),
        "description": table[name].description,
    }
    for name in table.colnames
]
rows = [[plain(v) for v in row] for row in table.as_array()]
json.dump({"columns": columns, "rows": rows}, sys.stdout)
