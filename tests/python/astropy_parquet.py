"""Write an astropy HDF5 table as Parquet with astropy itself (`Table.write`), which keeps the
columns' units and descriptions in the schema metadata key `table_meta_yaml`; with `pyarrow`,
the units go in each field's own metadata instead (`{"unit": ...}`), as pyarrow users write them.

usage: astropy_parquet.py FILE.h5 DATASET OUT.parquet astropy|pyarrow
"""
import sys

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from astropy.table import Table

src, dataset, out, how = sys.argv[1:5]
t = Table.read(src, path=dataset)
if how == "astropy":
    for name in t.colnames:
        if t[name].dtype.kind == "S":
            t[name] = np.char.decode(np.asarray(t[name]), "utf-8")
    t.write(out, overwrite=True)
else:
    fields, arrays = [], []
    for name in t.colnames:
        values = np.asarray(t[name])
        if values.dtype.kind == "S":
            values = np.char.decode(values, "utf-8")
        array = pa.array(values)
        unit = t[name].unit
        meta = {"unit": str(unit)} if unit is not None else None
        fields.append(pa.field(name, array.type, metadata=meta))
        arrays.append(array)
    pq.write_table(pa.Table.from_arrays(arrays, schema=pa.schema(fields)), out)
print(out)
