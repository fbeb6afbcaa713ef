"""Plain numpy reader and writer of safetensors files (F32 and I64 tensors,
the latter a batch norm's num_batches_tracked), so that the end-to-end tests
do not trust cnnc's own reader and writer."""
import json
import struct

import numpy as np

DTYPES = {"F32": "<f4", "I64": "<i8"}


def read_safetensors(path):
    """{name: array} (float32 or int64); other dtypes are refused."""
    with open(path, "rb") as f:
        data = f.read()
    (header_len,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8:8 + header_len])
    base = 8 + header_len
    tensors = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        assert info["dtype"] in DTYPES, (name, info["dtype"])
        begin, end = info["data_offsets"]
        array = np.frombuffer(data[base + begin:base + end], dtype=DTYPES[info["dtype"]])
        tensors[name] = array.reshape(info["shape"]).copy()
    return tensors


def write_safetensors(path, tensors):
    """Writes {name: array} in name order: integer arrays as I64, the rest
    as F32, little-endian."""
    header, blobs, offset = {}, [], 0
    for name in sorted(tensors):
        array = np.asarray(tensors[name])
        code = "I64" if np.issubdtype(array.dtype, np.integer) else "F32"
        blob = np.ascontiguousarray(array, dtype=DTYPES[code]).tobytes()
        header[name] = {"dtype": code, "shape": list(array.shape),
                        "data_offsets": [offset, offset + len(blob)]}
        blobs.append(blob)
        offset += len(blob)
    text = json.dumps(header).encode()
    text += b" " * (-len(text) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text + b"".join(blobs))
