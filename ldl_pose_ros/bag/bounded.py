# Copyright 2026 The ldl_pose_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""Decompression with a bound: a small compressed chunk cannot expand into gigabytes.

An MCAP chunk declares its uncompressed size, and a bag's chunk is decompressed
to at most that many bytes (and at most :data:`MAX_CHUNK_BYTES`): more data, or a
declared size above the bound, is damage (``ValueError``), so the bag tools stop
there with what they read before, as for any damaged bag.  The same bound
applies to rosbag2's per-message compression, and file-compressed bags are
unpacked to at most :data:`MAX_FILE_RATIO` times their size.

:func:`install` puts these bounds into ``rosbags``' MCAP reader and rosbag2 reader
(their decompressor table and ``zstd`` module reference: the library decompresses
without a limit otherwise); :mod:`ldl_pose_ros.bag.salvage` uses them directly.
"""

from __future__ import annotations

import functools
import io
from types import SimpleNamespace
from typing import Any, BinaryIO

#: Largest uncompressed MCAP chunk or compressed message accepted (256 MiB: a chunk
#: holds at least one message, and the largest image the tools take is 200 MB).
MAX_CHUNK_BYTES = 256 << 20
#: Largest ratio of unpacked to packed size of a file-compressed rosbag2 file.
MAX_FILE_RATIO = 64


def _zstd() -> Any:
    try:
        from compression import zstd  # Python >= 3.14
    except ImportError:
        from backports import zstd
    return zstd


def decompress(data: bytes | memoryview, compression: str, size: int | None) -> bytes:
    """Decompress ``data`` (``''``, ``'zstd'`` or ``'lz4'`` frames) to at most the bound.

    ``size``: the declared uncompressed size (must then match exactly), or None for
    "at most :data:`MAX_CHUNK_BYTES`".  Raises ``ValueError`` for a declared size
    above the bound, data that expands beyond it, or truncated data.
    """
    if size is not None and not 0 <= size <= MAX_CHUNK_BYTES:
        raise ValueError(f"declares {size} uncompressed bytes (limit {MAX_CHUNK_BYTES})")
    limit = MAX_CHUNK_BYTES if size is None else size
    if compression == "":
        out = bytes(data)
    elif compression == "zstd":
        out = _frames(bytes(data), limit, lambda: _zstd().ZstdDecompressor())
    elif compression == "lz4":
        from lz4.frame import LZ4FrameDecompressor

        out = _frames(bytes(data), limit, LZ4FrameDecompressor)
    else:
        raise ValueError(f"unsupported compression {compression!r}")
    if size is not None and len(out) != size:
        raise ValueError(f"decompresses to {len(out)} bytes, declared {size}")
    return out


def _frames(data: bytes, limit: int, new: Any) -> bytes:
    """Concatenated compressed frames, decompressed to at most ``limit`` bytes."""
    parts: list[bytes] = []
    total = 0
    rest = data
    while rest:
        d = new()
        part = d.decompress(rest, max_length=limit - total + 1)
        total += len(part)
        if total > limit:
            raise ValueError(f"expands beyond {limit} bytes (a decompression bomb?)")
        parts.append(part)
        if not d.eof:
            raise ValueError("compressed data cut short")
        rest = d.unused_data
    return b"".join(parts)


class _LimitedReader(io.RawIOBase):
    """A read-only stream that fails once more than ``limit`` bytes were read."""

    def __init__(self, inner: BinaryIO, limit: int) -> None:
        super().__init__()
        self._inner, self._left = inner, limit

    def readable(self) -> bool:
        return True

    def readinto(self, b: Any) -> int:
        data = self._inner.read(min(len(b), self._left + 1))
        if len(data) > self._left:
            raise ValueError("file-compressed bag expands beyond "
                             f"{MAX_FILE_RATIO} times its size (a decompression bomb?)")
        self._left -= len(data)
        b[:len(data)] = data
        return len(data)

    def close(self) -> None:
        self._inner.close()
        super().close()


def _open_bounded(fileobj: BinaryIO, mode: str = "rb") -> BinaryIO:
    """``zstd.open`` for reading a rosbag2 file, bounded by :data:`MAX_FILE_RATIO`."""
    import os

    try:
        packed = os.fstat(fileobj.fileno()).st_size
    except (AttributeError, OSError, io.UnsupportedOperation):
        packed = MAX_CHUNK_BYTES
    inner = _zstd().open(fileobj, mode)
    return io.BufferedReader(_LimitedReader(inner, packed * MAX_FILE_RATIO + (1 << 20)))


@functools.lru_cache(maxsize=1)
def install() -> None:
    """Bound ``rosbags``' decompression (see the module docstring); idempotent."""
    from rosbags.rosbag2 import reader, storage_mcap

    storage_mcap.DECOMPRESSORS["zstd"] = lambda data, size: decompress(data, "zstd", size)
    storage_mcap.DECOMPRESSORS["lz4"] = lambda data, size: decompress(data, "lz4", size)
    reader.zstd = SimpleNamespace(  # type: ignore[assignment]  # module-like: the two used
        decompress=lambda data: decompress(data, "zstd", None),
        open=_open_bounded,
    )
