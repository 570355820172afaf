# Copyright 2026 The ldl_pose_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""Image size from the file header, read before anything is decoded.

A small file can declare a huge image (a PNG of 876 KB that decodes to 5 GB), so
the size limit must be checked before the decoder allocates the pixels.
:func:`probe` recognises a format by its signature and reads the width and height
from its header; only the formats it knows are ever handed to the decoder:

===========  =====================================================================
``jpeg``     SOF segment (baseline, progressive, lossless, arithmetic)
``png``      IHDR chunk (must come first)
``tiff``     first IFD (classic and BigTIFF, either byte order): ImageWidth,
             ImageLength, and TileWidth/TileLength (a tile is decoded whole)
``webp``     ``VP8 `` (lossy), ``VP8L`` (lossless) or ``VP8X`` (extended) chunk
``bmp``      BITMAPINFOHEADER or OS/2 BITMAPCOREHEADER
``pnm``      PBM, PGM, PPM (``P1``..``P6``) and PAM (``P7``) headers
===========  =====================================================================

Anything else (JPEG 2000, OpenEXR, Radiance HDR, Sun raster, PFM, GIF, a corrupt
header) raises :class:`~ldl_pose_ros.core.imaging.ImageError`: OpenCV would decode
some of them, but without a size read here first they are not decoded at all.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from ldl_pose_ros.core.imaging import ImageError

#: Formats :func:`probe` reads (the decoder is given nothing else).
FORMATS = ("jpeg", "png", "tiff", "webp", "bmp", "pnm")
#: Largest side of a decoded tile or image the decoders are given, in pixels.
MAX_SIDE = 1 << 20


class HeaderError(ImageError):
    """An image whose header is unknown, unsupported or inconsistent; ``kind`` for counters."""

    def __init__(self, message: str, kind: str = "decode") -> None:
        super().__init__(message)
        self.kind = kind


@dataclass(frozen=True)
class ImageHeader:
    """Format and size read from an image header; ``tile``: the largest block decoded at once."""

    format: str
    width: int
    height: int
    tile: tuple[int, int] | None = None

    @property
    def pixels(self) -> int:
        """``width * height``."""
        return self.width * self.height


def sniff(data: bytes | memoryview) -> str | None:
    """The format of ``data`` by its signature (one of :data:`FORMATS` or another name)."""
    head = bytes(data[:16])
    if head.startswith(b"\xff\xd8\xff"):
        return "jpeg"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png"
    if head[:4] in (b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+"):
        return "tiff"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "webp"
    if head[:2] == b"BM":
        return "bmp"
    if len(head) >= 2 and head[0:1] == b"P" and head[1:2] in b"1234567" and (
            len(head) == 2 or head[2:3].isspace()):
        return "pnm"
    for sig, name in ((b"\x00\x00\x00\x0cjP  ", "JPEG 2000"), (b"\xff\x4f\xff\x51", "JPEG 2000"),
                      (b"v/1\x01", "OpenEXR"), (b"#?RADIANCE", "Radiance HDR"),
                      (b"#?RGBE", "Radiance HDR"), (b"\x59\xa6\x6a\x95", "Sun raster"),
                      (b"PF", "PFM"), (b"Pf", "PFM"), (b"GIF8", "GIF")):
        if head.startswith(sig):
            return name
    return None


def probe(data: bytes | memoryview, allowed: tuple[str, ...] = FORMATS) -> ImageHeader:
    """Read format and size from the header of encoded image ``data``.

    Raises :class:`HeaderError` for a format outside ``allowed`` (``kind``
    ``'encoding'``) or a header that is missing, cut short or gives no usable
    size (``kind`` ``'decode'``).
    """
    buf = memoryview(data).cast("B") if not isinstance(data, bytes) else memoryview(data)
    fmt = sniff(buf)
    if fmt is None:
        raise HeaderError(f"not a readable image: unknown format (supported: "
                          f"{', '.join(allowed)})", "decode")
    if fmt not in allowed:
        raise HeaderError(f"{fmt} images are not supported (supported: {', '.join(allowed)})",
                          "encoding")
    try:
        header = _READERS[fmt](buf)
    except (struct.error, IndexError, ValueError) as exc:
        raise HeaderError(f"not a readable image: {fmt} header cut short or invalid "
                          f"({exc})") from exc
    if header is None:
        raise HeaderError(f"not a readable image: {fmt} header cut short or without a size")
    if header.width <= 0 or header.height <= 0:
        raise HeaderError(f"not a readable image: {fmt} header gives an empty image "
                          f"({header.width}x{header.height})")
    return header


def _png(b: memoryview) -> ImageHeader | None:
    if len(b) < 24 or bytes(b[12:16]) != b"IHDR":
        return None
    w, h = struct.unpack_from(">II", b, 16)
    return ImageHeader("png", w, h)


def _jpeg(b: memoryview) -> ImageHeader | None:
    n, i = len(b), 2
    while i + 3 < n:
        if b[i] != 0xFF:
            return None
        marker = b[i + 1]
        if marker == 0xFF:  # fill byte
            i += 1
            continue
        if marker == 0x01 or 0xD0 <= marker <= 0xD8:  # no length
            i += 2
            continue
        (seg,) = struct.unpack_from(">H", b, i + 2)
        if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC):
            if i + 9 > n:
                return None
            h, w = struct.unpack_from(">HH", b, i + 5)
            return ImageHeader("jpeg", w, h)
        if marker in (0xDA, 0xD9) or seg < 2:  # scan or end before any frame header
            return None
        i += 2 + seg
    return None


_TIFF_TYPES = {3: ("H", 2), 4: ("I", 4), 16: ("Q", 8)}  # SHORT, LONG, LONG8
_TIFF_TAGS = {256: "width", 257: "height", 322: "tile_width", 323: "tile_length"}


def _tiff(b: memoryview) -> ImageHeader | None:
    order = "<" if bytes(b[:2]) == b"II" else ">"
    (version,) = struct.unpack_from(order + "H", b, 2)
    big = version == 43
    if big:
        (ifd,) = struct.unpack_from(order + "Q", b, 8)
        (count,) = struct.unpack_from(order + "Q", b, ifd)
        first, size = ifd + 8, 20
    else:
        (ifd,) = struct.unpack_from(order + "I", b, 4)
        (count,) = struct.unpack_from(order + "H", b, ifd)
        first, size = ifd + 2, 12
    if count > 4096:
        raise ValueError(f"{count} directory entries")
    found: dict[str, int] = {}
    for k in range(count):
        e = first + k * size
        tag, typ = struct.unpack_from(order + "HH", b, e)
        if tag not in _TIFF_TAGS or typ not in _TIFF_TYPES:
            continue
        code, _ = _TIFF_TYPES[typ]
        (value,) = struct.unpack_from(order + code, b, e + (12 if big else 8))
        found[_TIFF_TAGS[tag]] = int(value)
    if "width" not in found or "height" not in found:
        return None
    w, h = found["width"], found["height"]
    tile = (found.get("tile_width", w), found.get("tile_length", h))
    return ImageHeader("tiff", w, h, tile)


def _webp(b: memoryview) -> ImageHeader | None:
    chunk = bytes(b[12:16])
    if chunk == b"VP8 ":
        if bytes(b[23:26]) != b"\x9d\x01\x2a":
            return None
        w, h = struct.unpack_from("<HH", b, 26)
        return ImageHeader("webp", w & 0x3FFF, h & 0x3FFF)
    if chunk == b"VP8L":
        if b[20] != 0x2F:
            return None
        (bits,) = struct.unpack_from("<I", b, 21)
        return ImageHeader("webp", (bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1)
    if chunk == b"VP8X":
        if len(b) < 30:
            return None
        w = int.from_bytes(bytes(b[24:27]), "little") + 1
        h = int.from_bytes(bytes(b[27:30]), "little") + 1
        return ImageHeader("webp", w, h)
    return None


def _bmp(b: memoryview) -> ImageHeader | None:
    (dib,) = struct.unpack_from("<I", b, 14)
    if dib == 12:
        w, h = struct.unpack_from("<HH", b, 18)
        return ImageHeader("bmp", w, h)
    if dib < 40:
        return None
    w, h = struct.unpack_from("<ii", b, 18)
    return ImageHeader("bmp", w, abs(h))


def _tokens(b: memoryview, start: int, count: int, limit: int = 1024) -> list[int]:
    """``count`` decimal numbers of a PNM header (whitespace and ``#`` comments between)."""
    text = bytes(b[start:start + limit])
    out: list[int] = []
    i = 0
    while len(out) < count:
        if i >= len(text):
            raise ValueError("header cut short")
        c = text[i:i + 1]
        if c.isspace():
            i += 1
        elif c == b"#":
            j = text.find(b"\n", i)
            if j < 0:
                raise ValueError("header cut short")
            i = j + 1
        else:
            j = i
            while j < len(text) and text[j:j + 1].isdigit():
                j += 1
            if j == i:
                raise ValueError(f"unexpected {c!r} in the header")
            out.append(int(text[i:j]))
            i = j
    return out


def _pnm(b: memoryview) -> ImageHeader | None:
    kind = bytes(b[1:2])
    if kind == b"7":  # PAM: "KEY value" lines up to ENDHDR
        text = bytes(b[:4096])
        end = text.find(b"ENDHDR")
        if end < 0:
            return None
        fields = {}
        for line in text[:end].splitlines()[1:]:
            parts = line.split()
            if len(parts) == 2 and parts[0] in (b"WIDTH", b"HEIGHT") and parts[1].isdigit():
                fields[parts[0]] = int(parts[1])
        if b"WIDTH" not in fields or b"HEIGHT" not in fields:
            return None
        return ImageHeader("pnm", fields[b"WIDTH"], fields[b"HEIGHT"])
    w, h = _tokens(b, 2, 2)
    return ImageHeader("pnm", w, h)


_READERS = {"png": _png, "jpeg": _jpeg, "tiff": _tiff, "webp": _webp, "bmp": _bmp,
            "pnm": _pnm}


def check_header(header: ImageHeader, max_pixels: int | None) -> None:
    """Refuse a header above ``max_pixels`` or with sides/tiles beyond :data:`MAX_SIDE`.

    Raises :class:`HeaderError` with ``kind`` ``'too_large'``.
    """
    w, h = header.width, header.height
    if max_pixels is not None and w * h > max_pixels:
        raise HeaderError(
            f"{header.format} image of {w}x{h} ({w * h / 1e6:.1f} MP, from its header) exceeds "
            f"the limit of {max_pixels / 1e6:g} MP", "too_large")
    if max(w, h) > MAX_SIDE:
        raise HeaderError(f"{header.format} image of {w}x{h}: a side exceeds {MAX_SIDE} pixels",
                          "too_large")
    if header.tile is not None:
        tw, th = header.tile
        if tw <= 0 or th <= 0 or tw > MAX_SIDE or th > MAX_SIDE or (
                max_pixels is not None and tw * th > max(max_pixels, w * h)):
            raise HeaderError(f"{header.format} image of {w}x{h} declares {tw}x{th} tiles",
                              "too_large")
