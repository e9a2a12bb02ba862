"""A small safetensors writer/reader in plain numpy (no safetensors package on Debian).

Format (https://github.com/huggingface/safetensors): 8-byte little-endian header length
N, N bytes of JSON {name: {"dtype", "shape", "data_offsets": [begin, end]}, optional
"__metadata__"}, then the data section. The header is padded with spaces to a multiple of
8 bytes so every tensor is aligned, as the reference writer does.
"""
import json
import struct

import numpy as np


def f32_to_bf16_bits(x):
    """Round fp32 to bf16 (nearest, ties to even) and return the uint16 bit patterns."""
    u = np.ascontiguousarray(x, dtype=np.float32).view(np.uint32).astype(np.uint64)
    rounded = (u + 0x7FFF + ((u >> 16) & 1)) >> 16
    return rounded.astype(np.uint16)


def bf16_bits_to_f32(b):
    return (b.astype(np.uint32) << 16).view(np.float32)


def round_to_bf16(x):
    return bf16_bits_to_f32(f32_to_bf16_bits(x)).reshape(np.shape(x))


def write(path, tensors, dtype="F32", metadata=None, order=None):
    """tensors: dict name -> float32/int32 numpy array. dtype: F32, BF16 or F16 for the
    float arrays (int arrays keep I32)."""
    names = order if order is not None else sorted(tensors)
    header = {}
    blobs = []
    offset = 0
    for name in names:
        a = np.asarray(tensors[name])
        if a.dtype == np.int32:
            st, raw = "I32", a.astype("<i4").tobytes()
        elif a.dtype == np.bool_:
            st, raw = "BOOL", a.astype(np.uint8).tobytes()
        elif dtype == "F32":
            st, raw = "F32", a.astype("<f4").tobytes()
        elif dtype == "F16":
            st, raw = "F16", a.astype("<f2").tobytes()
        elif dtype == "BF16":
            st, raw = "BF16", f32_to_bf16_bits(a.astype(np.float32)).astype("<u2").tobytes()
        else:
            raise ValueError(dtype)
        header[name] = {"dtype": st, "shape": list(a.shape),
                        "data_offsets": [offset, offset + len(raw)]}
        blobs.append(raw)
        offset += len(raw)
    if metadata:
        header["__metadata__"] = metadata
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * ((8 - len(text) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for b in blobs:
            f.write(b)


def read(path):
    """Returns dict name -> numpy array (BF16 widened to float32)."""
    with open(path, "rb") as f:
        data = f.read()
    (n,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8:8 + n])
    base = 8 + n
    out = {}
    for name, e in header.items():
        if name == "__metadata__":
            continue
        b, end = e["data_offsets"]
        raw = data[base + b:base + end]
        dt = e["dtype"]
        if dt == "F32":
            a = np.frombuffer(raw, "<f4")
        elif dt == "F16":
            a = np.frombuffer(raw, "<f2").astype(np.float32)
        elif dt == "BF16":
            a = bf16_bits_to_f32(np.frombuffer(raw, "<u2"))
        elif dt == "I32":
            a = np.frombuffer(raw, "<i4")
        elif dt == "BOOL":
            a = np.frombuffer(raw, np.uint8).astype(np.bool_)
        else:
            raise ValueError(dt)
        out[name] = a.reshape(e["shape"]).copy()
    return out
