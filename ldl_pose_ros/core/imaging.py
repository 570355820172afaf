# Copyright 2026 The ldl_pose_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""Image checks, loading and colour conversion shared by the CLI, the node and the bag tools.

Every entry point funnels its input through :func:`to_rgb`, so that all of them accept
the same images and reject the rest with the same :class:`ImageError` messages.
"""

from __future__ import annotations

import os
from pathlib import Path

import cv2
import numpy as np

#: Default limit on the number of pixels of an input image (megapixels).
DEFAULT_MAX_MEGAPIXELS = 50.0
#: File extensions treated as images when a folder is given (lower case).
IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp", ".ppm", ".pgm")
#: Colour orders accepted by :func:`to_rgb` for 3- and 4-channel images.
COLORS = ("bgr", "rgb")


class ImageError(ValueError):
    """An input image that cannot be used: unreadable, empty, or of an unsupported type."""


def check_image(image: object, max_megapixels: float | None = DEFAULT_MAX_MEGAPIXELS) -> np.ndarray:
    """Return ``image`` as an ndarray if it is a usable 8-bit image, else raise :class:`ImageError`.

    Accepted: ``uint8`` arrays of shape ``(H, W)``, ``(H, W, 1)``, ``(H, W, 3)`` or
    ``(H, W, 4)`` with ``H, W >= 1`` and at most ``max_megapixels`` million pixels
    (``None`` disables the size limit).
    """
    if not isinstance(image, np.ndarray):
        raise ImageError(f"expected a numpy array image, got {type(image).__name__}")
    if image.ndim not in (2, 3):
        raise ImageError(
            f"expected an image of shape (H, W), (H, W, 3) or (H, W, 4), got shape {image.shape}"
        )
    if image.ndim == 3 and image.shape[2] not in (1, 3, 4):
        raise ImageError(f"expected 1, 3 or 4 channels, got {image.shape[2]} (shape {image.shape})")
    if image.size == 0 or image.shape[0] < 1 or image.shape[1] < 1:
        raise ImageError(f"empty image (shape {image.shape})")
    if image.dtype != np.uint8:
        if image.dtype in (np.uint16, np.int16):
            raise ImageError(
                f"16-bit images ({image.dtype}) are not supported: convert to 8 bits first, "
                "e.g. (image >> 8).astype(np.uint8) or cv2.convertScaleAbs(image, alpha=255/max)"
            )
        if np.issubdtype(image.dtype, np.floating):
            raise ImageError(
                f"floating-point images ({image.dtype}) are not supported: scale to 0..255 and "
                "convert with .astype(np.uint8)"
            )
        raise ImageError(f"expected a uint8 image, got dtype {image.dtype}")
    if max_megapixels is not None:
        mpix = image.shape[0] * image.shape[1] / 1e6
        if mpix > max_megapixels:
            raise ImageError(
                f"image of {image.shape[1]}x{image.shape[0]} ({mpix:.1f} MP) exceeds the limit of "
                f"{max_megapixels:g} MP; downscale it or raise max_megapixels"
            )
    return image


def to_rgb(
    image: np.ndarray, color: str = "bgr", max_megapixels: float | None = DEFAULT_MAX_MEGAPIXELS
) -> np.ndarray:
    """Check ``image`` and return it as a C-contiguous ``(H, W, 3)`` uint8 RGB array.

    ``color`` is the channel order of 3/4-channel input: ``'bgr'`` (OpenCV, ROS ``bgr8``)
    or ``'rgb'``; 4-channel images are BGRA/RGBA (alpha is dropped) and 1-channel
    images are grey (``color`` is then ignored).  The input is never modified; the
    result may share memory with it only when it is already contiguous RGB.
    """
    color = color.lower()
    if color not in COLORS:
        raise ValueError(f"color must be one of {COLORS}, got {color!r}")
    image = check_image(image, max_megapixels)
    if image.ndim == 3 and image.shape[2] == 1:
        image = image[:, :, 0]
    if image.ndim == 2:
        return cv2.cvtColor(np.ascontiguousarray(image), cv2.COLOR_GRAY2RGB)
    if image.shape[2] == 4:
        code = cv2.COLOR_BGRA2RGB if color == "bgr" else cv2.COLOR_RGBA2RGB
        return cv2.cvtColor(np.ascontiguousarray(image), code)
    if color == "bgr":
        return cv2.cvtColor(np.ascontiguousarray(image), cv2.COLOR_BGR2RGB)
    return np.ascontiguousarray(image)


def max_file_bytes(max_megapixels: float | None = DEFAULT_MAX_MEGAPIXELS) -> int:
    """Largest image file read: 4 bytes per allowed pixel (uncompressed RGBA) + 16 MiB."""
    mp = DEFAULT_MAX_MEGAPIXELS * 20 if max_megapixels is None else max_megapixels
    return int(mp * 1e6 * 4) + (16 << 20)


def load_image(
    path: str | os.PathLike[str], max_megapixels: float | None = DEFAULT_MAX_MEGAPIXELS
) -> np.ndarray:
    """Read an image file as ``(H, W, 3)`` BGR uint8 (EXIF orientation applied).

    Grey, 16-bit and alpha images are converted to 8-bit BGR.  Bounded before
    anything is decoded: the file size (:func:`max_file_bytes`) is checked before
    the file is read, and the format and size in its header
    (:mod:`ldl_pose_ros.core.image_header`: JPEG, PNG, TIFF, WebP, BMP, PNM) before
    the pixels are decoded.  Raises :class:`ImageError` for a missing, unreadable,
    corrupt or unsupported file, or one above the size limit.
    """
    from ldl_pose_ros.core.image_header import check_header, probe

    p = Path(path)
    if not p.exists():
        raise ImageError(f"{p}: no such file")
    if not p.is_file():
        raise ImageError(f"{p}: not a regular file")
    limit = max_file_bytes(max_megapixels)
    max_pixels = None if max_megapixels is None else int(max_megapixels * 1e6)
    try:
        with open(p, "rb") as f:
            size = os.fstat(f.fileno()).st_size
            if size > limit:
                raise ImageError(f"{p}: file of {size / 2**20:.0f} MiB exceeds the limit of "
                                 f"{limit / 2**20:.0f} MiB for an image")
            raw = f.read(limit + 1)
    except OSError as exc:
        raise ImageError(f"{p}: cannot read file ({exc.strerror or exc})") from exc
    if not raw:
        raise ImageError(f"{p}: empty file")
    if len(raw) > limit:  # grew while being read
        raise ImageError(f"{p}: file exceeds the limit of {limit / 2**20:.0f} MiB for an image")
    try:
        check_header(probe(raw), max_pixels)
    except ImageError as exc:
        raise ImageError(f"{p}: {exc}") from exc
    data = np.frombuffer(raw, dtype=np.uint8)
    try:
        image = cv2.imdecode(data, cv2.IMREAD_COLOR)
    except cv2.error as exc:  # e.g. the decoder's own pixel limit
        raise ImageError(f"{p}: cannot decode image ({exc.err or exc})") from exc
    if image is None:
        raise ImageError(f"{p}: not a readable image (corrupt or unsupported format)")
    try:
        return check_image(image, max_megapixels)
    except ImageError as exc:
        raise ImageError(f"{p}: {exc}") from exc


def list_images(folder: str | os.PathLike[str]) -> list[Path]:
    """Image files directly inside ``folder`` (by extension, case-insensitive), sorted by name."""
    root = Path(folder)
    return sorted(
        (p for p in root.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_EXTENSIONS),
        key=lambda p: p.name,
    )


def to_bgr(image: np.ndarray, color: str) -> np.ndarray:
    """A contiguous BGR view or copy of a 3- or 4-channel ``color``-ordered image, for drawing."""
    if image.ndim == 3 and image.shape[2] == 4:
        code = cv2.COLOR_BGRA2BGR if color == "bgr" else cv2.COLOR_RGBA2BGR
        return cv2.cvtColor(np.ascontiguousarray(image), code)
    if color == "rgb":
        return cv2.cvtColor(np.ascontiguousarray(image), cv2.COLOR_RGB2BGR)
    return np.ascontiguousarray(image)
