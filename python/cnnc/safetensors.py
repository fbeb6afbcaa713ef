"""Reading and writing safetensors files with numpy alone: the format of
cnnc's weights files and PyTorch's (docs/cli.md). F32 and I64 tensors are
supported, the dtypes cnnc writes (I64 for batch norms' num_batches_tracked).
"""
import json
import os
import struct
import tempfile

import numpy as np

_DTYPES = {"F32": np.dtype("<f4"), "I64": np.dtype("<i8")}
_CODES = {np.dtype("float32"): "F32", np.dtype("int64"): "I64"}
# Larger headers are refused: no real weights file comes close.
_MAX_HEADER = 100 << 20


def load_file(path):
    """Returns ({name: numpy array}, {metadata key: value}). Raises ValueError
    naming the file for anything but a well-formed file of F32/I64 tensors."""
    with open(path, "rb") as f:
        data = f.read()

    def bad(why):
        return ValueError(f"{path}: {why}")

    if len(data) < 8:
        raise bad("too short for a safetensors file")
    (header_len,) = struct.unpack("<Q", data[:8])
    if header_len > min(len(data) - 8, _MAX_HEADER):
        raise bad(f"header length {header_len} exceeds the file")
    try:
        header = json.loads(data[8:8 + header_len].decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise bad(f"the header is not JSON ({e})") from None
    if not isinstance(header, dict):
        raise bad("the header is not a JSON object")
    base = 8 + header_len
    size = len(data) - base
    metadata = header.pop("__metadata__", {}) or {}
    if not isinstance(metadata, dict):
        raise bad("'__metadata__' is not a JSON object")
    tensors = {}
    for name, info in header.items():
        try:
            dtype = _DTYPES[info["dtype"]]
            if not isinstance(info["shape"], list) or \
                    not isinstance(info["data_offsets"], list):
                raise TypeError("shape and data_offsets must be lists")
            shape = [int(d) for d in info["shape"]]
            begin, end = (int(o) for o in info["data_offsets"])
        except (KeyError, TypeError, ValueError):
            raise bad(f"tensor '{name}': unsupported dtype or malformed entry "
                      f"{info!r} (cnnc reads F32 and I64)") from None
        count = 1
        for d in shape:  # Python integers: no overflow to hide a bad shape
            count *= d
        if min(shape, default=0) < 0 or not 0 <= begin <= end <= size or \
                end - begin != count * dtype.itemsize:
            raise bad(f"tensor '{name}': shape {shape} and data offsets "
                      f"[{begin}, {end}] do not fit the file")
        array = np.frombuffer(data, dtype, count, base + begin)
        tensors[name] = array.reshape(shape).astype(dtype.newbyteorder("="))
    return tensors, {str(k): str(v) for k, v in metadata.items()}


def save_file(path, tensors, metadata=None):
    """Writes {name: array} (float32 or int64 arrays; other dtypes are
    converted to float32) in name order, atomically: a temporary file in the
    same directory, then a rename, so a crash never leaves half a file."""
    header, blobs, offset = {}, [], 0
    if metadata:
        header["__metadata__"] = {str(k): str(v) for k, v in metadata.items()}
    for name in sorted(tensors):
        array = np.asarray(tensors[name])
        if array.dtype not in _CODES:
            array = array.astype(np.float32)
        code = _CODES[array.dtype]
        blob = np.ascontiguousarray(array, dtype=_DTYPES[code]).tobytes()
        header[name] = {"dtype": code, "shape": list(array.shape),
                        "data_offsets": [offset, offset + len(blob)]}
        blobs.append(blob)
        offset += len(blob)
    text = json.dumps(header).encode()
    text += b" " * (-len(text) % 8)
    directory = os.path.dirname(os.path.abspath(path))
    fd, temporary = tempfile.mkstemp(dir=directory, prefix=".cnnc-")
    try:
        # mkstemp's 0600 would hide the file: the old file's mode, else what
        # the umask gives a new file.
        try:
            mode = os.stat(path).st_mode & 0o777
        except OSError:
            umask = os.umask(0)
            os.umask(umask)
            mode = 0o666 & ~umask
        os.fchmod(fd, mode)
        with os.fdopen(fd, "wb") as f:
            f.write(struct.pack("<Q", len(text)))
            f.write(text)
            for blob in blobs:
                f.write(blob)
        os.replace(temporary, path)
    except BaseException:
        os.unlink(temporary)
        raise
