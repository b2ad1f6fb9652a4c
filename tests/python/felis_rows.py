"""Rows for a table of a Felis schema, as CSV with a header line: the column types come from
lsst-felis's own model of the file (not from our reader), values are random but reproducible.

usage: felis_rows.py FELIS_YAML TABLE ROWS OUT.csv [--ra COL --dec COL --center RA,DEC]

Positions fall within 0.5 degree of the center; the primary-key column counts from 1; other
nullable columns are NULL (`\\N`) one time in ten; floats are float32 values for `float`
columns so the text reads back exactly; timestamps have the column's precision.
"""

import argparse
import csv
import random
import struct

from felis.datamodel import Schema


def float32(x):
    return struct.unpack("f", struct.pack("f", x))[0]


def value(column, rng):
    t = column.datatype.value
    if t == "boolean":
        return rng.choice(["0", "1"])
    if t == "byte":
        return str(rng.randint(-128, 127))
    if t == "short":
        return str(rng.randint(-32768, 32767))
    if t == "int":
        return str(rng.randint(-(2**31), 2**31 - 1))
    if t == "long":
        return str(rng.randint(-(2**63), 2**63 - 1))
    if t == "float":
        return repr(float32(rng.uniform(-1e6, 1e6)))
    if t == "double":
        return repr(rng.uniform(-1e6, 1e6))
    if t in ("char", "string", "unicode"):
        n = rng.randint(1, column.length)
        return "".join(rng.choice("abcdefghijklmnopqrstuvwxyz ,'\"ABC") for _ in range(n))
    if t == "text":
        return "text " + str(rng.randint(0, 10**9))
    if t == "timestamp":
        stamp = "2022-%02d-%02d %02d:%02d:%02d" % (
            rng.randint(1, 12), rng.randint(1, 28), rng.randint(0, 23),
            rng.randint(0, 59), rng.randint(0, 59))
        if column.precision:
            stamp += "." + "".join(rng.choice("0123456789") for _ in range(column.precision))
        return stamp
    raise SystemExit(f"no generator for {t} (column {column.name})")


def main():
    p = argparse.ArgumentParser()
    p.add_argument("schema")
    p.add_argument("table")
    p.add_argument("rows", type=int)
    p.add_argument("out")
    p.add_argument("--ra")
    p.add_argument("--dec")
    p.add_argument("--center", default="60,-35")
    a = p.parse_args()
    schema = Schema.from_uri(a.schema, context={"id_generation": True})
    table = next(t for t in schema.tables if t.name == a.table)
    key = table.primary_key if isinstance(table.primary_key, list) else [table.primary_key]
    key_names = {c.name for c in table.columns if c.id in key}
    ra0, dec0 = (float(x) for x in a.center.split(","))
    rng = random.Random(20260315)
    with open(a.out, "w", newline="") as f:
        out = csv.writer(f, lineterminator="\n")
        out.writerow([c.name for c in table.columns])
        for row in range(1, a.rows + 1):
            values = []
            for c in table.columns:
                if c.name in key_names:
                    values.append(str(row))
                elif c.name == a.ra:
                    values.append(repr(ra0 + rng.uniform(-0.5, 0.5)))
                elif c.name == a.dec:
                    values.append(repr(dec0 + rng.uniform(-0.5, 0.5)))
                elif c.nullable and rng.random() < 0.1:
                    values.append("\\N")
                else:
                    values.append(value(c, rng))
            out.writerow(values)


main()
