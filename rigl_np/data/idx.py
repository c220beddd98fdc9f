"""Reader for the IDX file format of MNIST and Fashion-MNIST, plain or gzip-compressed.

An IDX file (LeCun et al., http://yann.lecun.com/exdb/mnist/, section "file formats") is:
- a 4-byte magic number: two zero bytes, one byte for the element type, one byte for the number
  of dimensions ``ndim``;
- ``ndim`` big-endian unsigned 32-bit sizes;
- the elements in C (row-major) order, big-endian, exactly ``prod(sizes)`` of them.

MNIST's image files are type ``0x08`` (unsigned byte) with sizes ``(N, 28, 28)``; its label files
are ``0x08`` with sizes ``(N,)``. Every deviation (bad magic, a truncated header or payload,
trailing bytes, a broken gzip stream) raises ``DataError`` naming the file; nothing here lets a
NumPy or zlib exception escape.
"""
from __future__ import annotations

import gzip
import zlib
from pathlib import Path

import numpy as np

from .dataset import DataError

# Element type code -> big-endian NumPy dtype (the IDX spec's table).
IDX_TYPES = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


def read_bytes(path, compressed: bool | None = None, name: str | None = None) -> bytes:
    """The file's content, gunzipped if ``compressed`` (default: the name ends in ``.gz``).

    A broken or truncated gzip stream raises ``DataError`` naming the file (or ``name``).
    """
    path = Path(path)
    if compressed is None:
        compressed = path.suffix == ".gz"
    if not compressed:
        return path.read_bytes()
    try:
        return gzip.decompress(path.read_bytes())
    except (OSError, EOFError, zlib.error) as err:  # BadGzipFile is an OSError; EOFError: cut short
        raise DataError(f"{name or path}: not a valid gzip file ({err}); it is truncated or "
                        "corrupt: delete it and fetch it again") from None


def parse_idx(raw: bytes, name: str = "<bytes>") -> np.ndarray:
    """Decode IDX bytes into a native-endian array of the stored shape; ``name`` is for errors."""
    # 1. The magic number: 0, 0, element type, number of dimensions.
    if len(raw) < 4:
        raise DataError(f"{name}: {len(raw)} bytes is too short for an IDX file (truncated?)")
    zero0, zero1, type_code, ndim = raw[0], raw[1], raw[2], raw[3]
    if zero0 != 0 or zero1 != 0 or type_code not in IDX_TYPES or ndim == 0:
        raise DataError(f"{name}: bad IDX magic number 0x{raw[:4].hex()} (expected 0x0008.. for "
                        "unsigned bytes); this is not an IDX file, or a compressed file without "
                        "a .gz name")
    # 2. The sizes: ndim big-endian uint32.
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise DataError(f"{name}: header cut short ({len(raw)} of {header} bytes); the file is "
                        "truncated: delete it and fetch it again")
    shape = tuple(int(s) for s in np.frombuffer(raw, dtype=">u4", count=ndim, offset=4))
    # 3. The payload: exactly prod(shape) elements, no more, no less.
    dtype = np.dtype(IDX_TYPES[type_code])
    expected = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    found = len(raw) - header
    if found != expected:
        problem = "truncated" if found < expected else "followed by extra bytes"
        raise DataError(f"{name}: the header promises shape {shape} ({expected} bytes of data) "
                        f"but {found} bytes follow; the file is {problem}: delete it and fetch "
                        "it again")
    data = np.frombuffer(raw, dtype=dtype, offset=header).reshape(shape)
    return data.astype(dtype.newbyteorder("="))  # native byte order, and a writable copy


def read_idx(path) -> np.ndarray:
    """Read one IDX file (plain, or gzip when named ``*.gz``) into a NumPy array."""
    return parse_idx(read_bytes(path), str(path))


def write_idx(path, array: np.ndarray) -> None:
    """Write ``array`` as an IDX file (gzip when named ``*.gz``); used by tests and tools."""
    codes = {np.dtype(v).newbyteorder("="): k for k, v in IDX_TYPES.items()}
    array = np.asarray(array)
    code = codes[array.dtype.newbyteorder("=")]
    header = bytes([0, 0, code, array.ndim]) + np.asarray(array.shape, dtype=">u4").tobytes()
    raw = header + array.astype(IDX_TYPES[code]).tobytes()
    path = Path(path)
    path.write_bytes(gzip.compress(raw) if path.suffix == ".gz" else raw)
