"""Write astropy HDF5 tables in the layouts our reader must handle, with h5py + astropy.

usage: make_variants.py OUT.h5 ROWS
Tables (same values in each, checked against astropy by the tests):
- `native`: every supported column type, little-endian, contiguous (astropy's default);
- `big_endian`: the same columns stored big-endian (checked below with h5py);
- `gzip`: the same, chunked (1000 rows per chunk) and gzip-compressed;
- `image`: a 2-D float dataset, which is not a table;
- `bad_utf8`: a 10-row table whose `name` in row 7 is not UTF-8;
- `masked`: astropy masked columns (int, float with NaN, string), stored as `x` + `x.mask`.
"""
import sys

import h5py
import numpy as np
from astropy.table import MaskedColumn, Table

out, n = sys.argv[1], int(sys.argv[2])
rng = np.random.default_rng(7)

t = Table()
t["i1"] = rng.integers(-128, 128, n).astype(np.int8)
t["i2"] = rng.integers(-32768, 32768, n).astype(np.int16)
t["i4"] = rng.integers(-(2**31), 2**31, n).astype(np.int32)
t["i8"] = rng.integers(-(2**63), 2**63 - 1, n, dtype=np.int64)
t["u1"] = rng.integers(0, 256, n).astype(np.uint8)
t["u2"] = rng.integers(0, 2**16, n).astype(np.uint16)
t["u4"] = rng.integers(0, 2**32, n).astype(np.uint32)
t["u8"] = rng.integers(0, 2**64 - 1, n, dtype=np.uint64)
f4 = rng.normal(0, 1e3, n).astype(np.float32)
f4[rng.random(n) < 0.1] = np.nan
t["f4"] = f4
f8 = rng.lognormal(0, 3, n)
f8[rng.random(n) < 0.1] = np.nan
t["f8"] = f8
t["flag"] = rng.random(n) < 0.5
words = ["", "a", "bc", "def", "ghij", "klmno", "é€"]
t["name"] = np.array([words[k].encode() for k in rng.integers(0, len(words), n)], dtype="S6")
t["i8"].unit = "ct"
t["f8"].unit = "rad"
t["f8"].description = "a float, with a comma"

t.write(out, path="native", serialize_meta=True, overwrite=True)

m = Table()
m["id"] = np.arange(n, dtype=np.int64)
m["i4"] = MaskedColumn(t["i4"], mask=rng.random(n) < 0.2)
m["f8"] = MaskedColumn(t["f8"], mask=rng.random(n) < 0.2)
m["name"] = MaskedColumn(t["name"], mask=rng.random(n) < 0.2)
m["i4"].unit = "ct"
m.write(out, path="masked", serialize_meta=True, append=True)

with h5py.File(out, "a") as f:
    native = f["native"][()]
    meta = f["native.__table_column_meta__"][()]
    # astropy normalises byte order on write, so the big-endian copy is written with h5py.
    big = np.dtype([(k, native.dtype[k].newbyteorder(">")) for k in native.dtype.names])
    f.create_dataset("big_endian", data=native.astype(big))
    assert f["big_endian"].dtype["i8"].byteorder == ">", f["big_endian"].dtype
    f.create_dataset("gzip", data=native, chunks=(min(1000, n),), compression="gzip")
    for name in ("big_endian", "gzip"):
        f[name + ".__table_column_meta__"] = meta
    f.create_dataset("image", data=np.zeros((4, 5)))
    bad = np.zeros(10, dtype=[("id", "<i8"), ("name", "S3")])
    bad["id"] = np.arange(10)
    bad["name"] = b"ok"
    bad["name"][7] = b"\xff\xfe"
    f.create_dataset("bad_utf8", data=bad)
