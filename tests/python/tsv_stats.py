"""Independent oracle for the TSV reader: row count and per-column statistics of a MySQL-dialect
TSV (gzip), decoded here byte by byte, typed by the CREATE TABLE of a mysqldump schema.

usage: tsv_stats.py FILE.tsv.gz TABLE.schema
Output: {"rows": N, "columns": {name: {"count": non-null values, "sum": S}}} where S is the
exact integer sum for integer columns, the sequential double sum as "f:<hex bits>" for DOUBLE
columns, the sum of (byte + 1) over every byte of the unescaped values for text and binary
columns (so lengths and contents both count), and
null for FLOAT columns (decimal → float32 rounding is not reproduced here).
"""
import gzip
import json
import re
import struct
import sys

path, schema_path = sys.argv[1], sys.argv[2]
types = re.findall(r"^\s+`(\w+)` (\w+)", open(schema_path).read(), re.M)
ESC = {ord("0"): 0, ord("b"): 8, ord("n"): 10, ord("r"): 13, ord("t"): 9, ord("Z"): 26}


def records(data):
    fields, cur, null, i, n = [], bytearray(), False, 0, len(data)
    while i < n:
        b = data[i]
        if b == 0x5C and i + 1 < n:
            nxt = data[i + 1]
            if nxt == ord("N") and not cur and (i + 2 == n or data[i + 2] in (9, 10)):
                null = True
            else:
                cur.append(ESC.get(nxt, nxt))
            i += 2
            continue
        if b in (9, 10):
            fields.append(None if null else bytes(cur))
            cur, null = bytearray(), False
            if b == 10:
                yield fields
                fields = []
        else:
            cur.append(b)
        i += 1
    if fields or cur:
        fields.append(None if null else bytes(cur))
        yield fields


INTS = ("tinyint", "smallint", "int", "bigint")
stats = {
    name: {"count": 0, "sum": None if kind == "float" else (0.0 if kind == "double" else 0)}
    for name, kind in types
}
rows = 0
for rec in records(gzip.open(path, "rb").read()):
    assert len(rec) == len(types), (rows, len(rec), len(types))
    rows += 1
    for (name, kind), value in zip(types, rec):
        if value is None:
            continue
        s = stats[name]
        s["count"] += 1
        if kind in INTS:
            s["sum"] += int(value)
        elif kind == "double":
            s["sum"] += float(value)
        elif kind != "float":
            s["sum"] += sum(value) + len(value)
for s in stats.values():
    if isinstance(s["sum"], float):
        s["sum"] = "f:%016x" % struct.unpack("<Q", struct.pack("<d", s["sum"]))[0]
json.dump({"rows": rows, "columns": stats}, sys.stdout)
