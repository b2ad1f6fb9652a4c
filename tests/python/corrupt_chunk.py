"""Overwrite the compressed bytes of one chunk of a chunked dataset with garbage, in place.

usage: corrupt_chunk.py FILE.h5 DATASET CHUNK_INDEX
Prints the first row of the corrupted chunk.
"""
import sys

import h5py

path, dataset, index = sys.argv[1], sys.argv[2], int(sys.argv[3])
with h5py.File(path, "r") as f:
    ds = f[dataset]
    info = ds.id.get_chunk_info(index)
    first_row = info.chunk_offset[0]
with open(path, "r+b") as raw:
    raw.seek(info.byte_offset)
    raw.write(b"\xff" * info.size)
print(first_row)
