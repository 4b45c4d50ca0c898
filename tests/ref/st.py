"""A pure-Python (numpy) safetensors reader and writer for dlc's reference
generators, which run where the `safetensors` package is not installed.

save(path, {name: ndarray}) keeps each array's dtype (float32 -> F32,
float64 -> F64, int32 -> I32, int64 -> I64, ...); load(path) -> {name: ndarray}.
Tensors are written in sorted name order with 8-byte aligned header, as the
reference implementation does, so the output is byte-for-byte deterministic.
"""
import json
import struct

import numpy as np

_DTYPES = {
    "F64": np.dtype("<f8"), "F32": np.dtype("<f4"), "F16": np.dtype("<f2"),
    "I64": np.dtype("<i8"), "I32": np.dtype("<i4"), "I16": np.dtype("<i2"),
    "I8": np.dtype("i1"), "U8": np.dtype("u1"), "BOOL": np.dtype("?"),
}


def _code(a):
    dt = a.dtype.newbyteorder("<") if a.dtype.byteorder == ">" else a.dtype
    for k, v in _DTYPES.items():
        if v == dt:
            return k, v
    raise TypeError("st.save: dtype %s has no safetensors code" % a.dtype)


def save(path, tensors, metadata=None):
    header = {}
    chunks = []
    offset = 0
    for name in sorted(tensors):
        a = np.asarray(tensors[name])
        code, dt = _code(a)
        raw = np.ascontiguousarray(a, dtype=dt).tobytes()
        header[name] = {"dtype": code, "shape": [int(d) for d in a.shape],
                        "data_offsets": [offset, offset + len(raw)]}
        chunks.append(raw)
        offset += len(raw)
    if metadata:
        header["__metadata__"] = {str(k): str(v) for k, v in metadata.items()}
    text = json.dumps(header, separators=(",", ":")).encode("utf-8")
    text += b" " * (-len(text) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for raw in chunks:
            f.write(raw)


def load(path):
    with open(path, "rb") as f:
        buf = f.read()
    if len(buf) < 8:
        raise ValueError("%s: too short for a safetensors file" % path)
    (n,) = struct.unpack("<Q", buf[:8])
    if 8 + n > len(buf):
        raise ValueError("%s: header length %d past the end of the file" % (path, n))
    header = json.loads(buf[8:8 + n].decode("utf-8"))
    base = 8 + n
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        dt = _DTYPES[info["dtype"]]
        start, end = info["data_offsets"]
        if base + end > len(buf) or start > end:
            raise ValueError("%s: tensor %s lies outside the file" % (path, name))
        a = np.frombuffer(buf[base + start:base + end], dtype=dt)
        out[name] = a.reshape(info["shape"]).copy()
    return out
