"""Write an astropy HDF5 table as Parquet with pyarrow, in several row groups.

usage: make_parquet.py FILE.h5 DATASET OUT.parquet
Byte-string columns become UTF-8 strings; NaN floats stay NaN (the reader must null them).
"""
import sys

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from astropy.table import Table

t = Table.read(sys.argv[1], path=sys.argv[2])
columns = {}
for name in t.colnames:
    values = np.asarray(t[name])
    if values.dtype.kind == "S":
        values = np.char.decode(values, "utf-8")
    columns[name] = pa.array(values)
pq.write_table(pa.table(columns), sys.argv[3], row_group_size=3000)
