# Copyright 2026 The ldl_pose_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""Hostile inputs: small files that declare huge images, decompression bombs, sparse files.

Shared by the hostile-input tests (``test/test_hostile_*.py``) and the memory
measurement (``python -m bench.hostile``).  Every generator is deterministic and
cheap: a "bomb" here is what an attacker would send (kilobytes), never the
gigabytes it declares.
"""

from __future__ import annotations

import struct
import zlib
from pathlib import Path


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return (struct.pack(">I", len(data)) + kind + data
            + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))


def png_bomb(width: int, height: int, rows: int | None = None) -> bytes:
    """A valid RGB PNG of ``width`` x ``height`` black pixels (deflate: about 1/1000).

    ``rows``: compress only that many rows of image data (a truncated stream; the
    header still declares the full size) to keep the file small and fast to make.
    """
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    comp = zlib.compressobj(9)
    row = b"\x00" + bytes(3 * width)
    body = b"".join(comp.compress(row) for _ in range(height if rows is None else rows))
    body += comp.flush()
    return (b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", ihdr) + _png_chunk(b"IDAT", body)
            + _png_chunk(b"IEND", b""))


def jpeg_bomb(width: int, height: int) -> bytes:
    """A JPEG that declares ``width`` x ``height`` (SOF0) followed by a tiny scan."""
    sof = (bytes([8]) + height.to_bytes(2, "big") + width.to_bytes(2, "big")
           + bytes([3, 1, 0x22, 0, 2, 0x11, 1, 3, 0x11, 1]))
    return (b"\xff\xd8\xff\xc0" + (len(sof) + 2).to_bytes(2, "big") + sof
            + b"\xff\xda\x00\x0c\x03\x01\x00\x02\x11\x03\x11\x00\x3f\x00" + bytes(64)
            + b"\xff\xd9")


def tiff_bomb(width: int, height: int, tile: int | None = None, complete: bool = False
              ) -> bytes:
    """A little-endian TIFF declaring ``width`` x ``height`` RGB (one deflated strip of zeros).

    The strip holds 4 rows unless ``complete`` (every row: a real bomb, about 1/1000 of
    the pixels' size).  With ``tile``, the image declares ``tile`` x ``tile`` tiles
    instead of strips.
    """
    comp = zlib.compressobj(9)
    row = bytes(3 * width)
    data = b"".join(comp.compress(row) for _ in range(height if complete else min(height, 4)))
    data += comp.flush()
    entries = [(256, 4, 1, width), (257, 4, 1, height), (258, 3, 1, 8), (259, 3, 1, 8),
               (262, 3, 1, 2), (277, 3, 1, 3), (284, 3, 1, 1)]
    if tile is None:
        entries += [(273, 4, 1, 0), (278, 4, 1, height), (279, 4, 1, len(data))]
    else:
        entries += [(322, 4, 1, tile), (323, 4, 1, tile), (324, 4, 1, 0), (325, 4, 1, len(data))]
    entries.sort()
    ifd_offset = 8
    ifd_size = 2 + 12 * len(entries) + 4
    data_offset = ifd_offset + ifd_size
    out = bytearray(b"II*\x00" + struct.pack("<I", ifd_offset))
    out += struct.pack("<H", len(entries))
    for tag, typ, count, value in entries:
        if tag in (273, 324):
            value = data_offset
        if typ == 3:
            out += struct.pack("<HHIHH", tag, typ, count, value, 0)
        else:
            out += struct.pack("<HHII", tag, typ, count, value)
    out += struct.pack("<I", 0)
    return bytes(out) + data


def webp_bomb(width: int, height: int) -> bytes:
    """An extended WebP (VP8X) declaring a ``width`` x ``height`` canvas (at most 2^24)."""
    vp8x = bytes([0, 0, 0, 0]) + (width - 1).to_bytes(3, "little") + (height - 1).to_bytes(
        3, "little")
    vp8l = bytes([0x2F]) + (((height - 1) << 14 | (width - 1)) & 0xFFFFFFF).to_bytes(4, "little")
    body = b"WEBP" + b"VP8X" + struct.pack("<I", len(vp8x)) + vp8x
    body += b"VP8L" + struct.pack("<I", len(vp8l) + 16) + vp8l + bytes(16)
    return b"RIFF" + struct.pack("<I", len(body)) + body


def bmp_bomb(width: int, height: int) -> bytes:
    """A 24-bit BMP header declaring ``width`` x ``height`` with a few bytes of pixels."""
    info = struct.pack("<IiiHHIIiiII", 40, width, height, 1, 24, 0, 0, 2835, 2835, 0, 0)
    pixels = bytes(256)
    head = b"BM" + struct.pack("<IHHI", 14 + len(info) + len(pixels), 0, 0, 14 + len(info))
    return head + info + pixels


def ppm_bomb(width: int, height: int) -> bytes:
    """A binary PPM header declaring ``width`` x ``height`` and a few bytes of pixels."""
    return f"P6\n# hostile\n{width} {height}\n255\n".encode() + bytes(256)


#: Header bombs by format: ``(name, bytes)`` declaring about 4 gigapixels or the format's
#: largest size (WebP: 16383^2 = 268 MP), every one far above the 50 MP limit.
def header_bombs() -> dict[str, bytes]:
    """One small file per decoded format that declares a huge image."""
    return {
        "png": png_bomb(65_000, 65_000, rows=16),
        "jpeg": jpeg_bomb(65_000, 65_000),
        "tiff": tiff_bomb(65_000, 65_000),
        "tiff_tiles": tiff_bomb(640, 480, tile=60_000),
        "webp": webp_bomb(16_383, 16_383),
        "bmp": bmp_bomb(65_000, 65_000),
        "ppm": ppm_bomb(65_000, 65_000),
    }


def sparse_file(path: Path, size: int, head: bytes = b"\xff\xd8\xff\xe0") -> Path:
    """A sparse file of ``size`` bytes (no disk blocks) that starts with ``head``."""
    with open(path, "wb") as f:
        f.write(head)
        f.truncate(size)
    return path


def zstd_bomb(size: int) -> bytes:
    """``size`` zero bytes, zstd-compressed (a few hundred bytes per GiB... roughly)."""
    try:
        from compression import zstd  # Python >= 3.14
    except ImportError:
        from backports import zstd
    comp = zstd.ZstdCompressor(level=19)
    block = bytes(1 << 20)
    parts = [comp.compress(block) for _ in range(size >> 20)]
    parts.append(comp.compress(bytes(size & ((1 << 20) - 1))))
    parts.append(comp.flush())
    return b"".join(parts)


def mcap_chunk(records: bytes, compression: str, data: bytes) -> bytes:
    """An MCAP chunk record (opcode 0x06) holding ``data`` that claims ``len(records)``."""
    crc = zlib.crc32(records) & 0xFFFFFFFF
    content = (struct.pack("<QQQI", 0, 0, len(records), crc)
               + struct.pack("<I", len(compression)) + compression.encode()
               + struct.pack("<Q", len(data)) + data)
    return struct.pack("<BQ", 0x06, len(content)) + content
