"""Reads an astropy HDF5 table with astropy and prints it as JSON, column by column:
dtype, unit, description, whether masked, and the values (null where masked; floats as
repr, which reads back to the same double, "nan" for NaN; bytes as latin-1 text)."""
import json
import math
import sys

from astropy.table import Table


def value(v):
    if hasattr(v, "item"):
        v = v.item()
    if isinstance(v, bytes):
        return v.decode("latin-1")
    if isinstance(v, float):
        return "nan" if math.isnan(v) else repr(v)
    return v


table = Table.read(sys.argv[1], path=sys.argv[2])
out = {"columns": table.colnames, "rows": len(table)}
for name in table.colnames:
    c = table[name]
    mask = getattr(c, "mask", None)
    masked = mask is not None and mask.shape == c.shape
    out[name] = {
        "dtype": c.dtype.str,
        "unit": None if c.unit is None else c.unit.to_string(),
        "description": c.description,
        "masked": bool(masked),
        "values": [
            # `.data`: astropy decodes bytes elements of a Column to str on indexing.
            None if masked and bool(mask[i]) else value(c.data[i])
            for i in range(len(c))
        ],
    }
print(json.dumps(out))
