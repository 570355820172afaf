# Copyright 2026 The ldl_pose_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""Decode image messages without ROS (no cv_bridge, no rclpy): one path for live and recorded.

The functions read message *fields* only (``width``, ``height``, ``step``,
``encoding``, ``data``; ``format``), so they take rclpy messages in the node and
``rosbags`` messages in the bag tools alike.  camera_info is read by
``ldl_pose_ros.core.camera``.

Images
    :func:`image_to_array` accepts ``bgr8``, ``rgb8``, ``mono8``, ``bgra8``,
    ``rgba8`` (and their ``8UC1``/``8UC3``/``8UC4`` aliases, read as mono/BGR/BGRA)
    plus the packed YUV 4:2:2 encodings ``yuv422`` (UYVY) and ``yuv422_yuy2``
    (even widths only).  Rows may be padded (``step`` > ``width * channels``): the
    result is then a strided, read-only view of the message buffer, never a copy
    (only mono and YUV input are converted).  ``is_bigendian`` only matters for
    multi-byte channels; every accepted encoding has 8-bit channels, so it is
    ignored.  Everything else raises :class:`InputError` (an
    :class:`ldl_pose_ros.core.imaging.ImageError`) with a reason: 16-bit and float
    encodings, Bayer patterns, unknown encodings, zero or huge sizes,
    ``step < width * channels`` and ``len(data) != step * height`` (truncated or
    oversized buffers).  ``InputError.kind`` names the category for diagnostics.

Compressed images
    :func:`compressed_to_array` decodes JPEG and PNG (``CompressedImage.format``
    as written by ``compressed_image_transport``, e.g. ``"bgr8; jpeg compressed
    bgr8"``, or just ``"jpeg"``).  The data's own signature decides the format,
    and only JPEG and PNG data are decoded (TIFF, WebP and the other formats
    OpenCV reads are refused as ``encoding``); the size in the JPEG/PNG header is
    checked against the pixel limit before anything is decoded, and data whose
    header gives no size is refused (``decode``).  ``compressedDepth`` and
    undecodable data raise :class:`InputError`.

Both properties are checked for arbitrary messages by ``test/test_reliability_decode.py``.
"""

from __future__ import annotations

import array
from typing import TYPE_CHECKING, Protocol

import cv2
import numpy as np

from ldl_pose_ros.core.image_header import HeaderError, check_header, probe
from ldl_pose_ros.core.imaging import ImageError

if TYPE_CHECKING:
    from ldl_pose_ros.core.messages import StampLike

#: Default limit on width * height of an input image (50 MP, as ``imaging``).
DEFAULT_MAX_PIXELS = 50_000_000
#: Encodings of ``CompressedImage`` messages that are decoded (what the node documents).
COMPRESSED_FORMATS = ("jpeg", "png")


# encoding -> (bytes per pixel, colour order handed to the estimator)
_DIRECT = {
    "bgr8": (3, "bgr"),
    "rgb8": (3, "rgb"),
    "bgra8": (4, "bgr"),
    "rgba8": (4, "rgb"),
    "mono8": (1, "bgr"),
    "8uc1": (1, "bgr"),
    "8uc3": (3, "bgr"),
    "8uc4": (4, "bgr"),
}
_YUV = {"yuv422": cv2.COLOR_YUV2BGR_UYVY, "uyvy": cv2.COLOR_YUV2BGR_UYVY,
        "yuv422_yuy2": cv2.COLOR_YUV2BGR_YUY2, "yuyv": cv2.COLOR_YUV2BGR_YUY2}


#: A message's ``uint8[] data`` field: bytes-like in rclpy, a numpy array in rosbags.
ByteData = bytes | bytearray | memoryview | np.ndarray | array.array


class ImageMessage(Protocol):
    """The fields of ``sensor_msgs/Image`` read here (rclpy or rosbags message)."""

    width: int
    height: int
    step: int
    encoding: str

    @property
    def data(self) -> ByteData:
        """The pixel rows, ``step * height`` bytes."""


class CompressedImageMessage(Protocol):
    """The fields of ``sensor_msgs/CompressedImage`` read here."""

    format: str

    @property
    def data(self) -> ByteData:
        """The encoded image (JPEG, PNG)."""


class InputError(ImageError):
    """An input message that cannot be used; ``kind`` is a short category for diagnostics.

    Kinds: ``encoding``, ``size`` (zero size, step or data length mismatch),
    ``too_large``, ``decode`` (compressed data), ``stamp`` (a header stamp that is no
    ``builtin_interfaces/Time``: nanoseconds of 1e9 or more).
    """

    def __init__(self, message: str, kind: str) -> None:
        super().__init__(message)
        self.kind = kind


def check_stamp(stamp: StampLike) -> None:
    """Raise ``InputError`` (kind ``stamp``) unless ``stamp`` is a valid builtin Time.

    Nanoseconds of 1e9 or more would be carried into the next second by any reader,
    so a frame with such a stamp is refused rather than published or scored at a
    time it does not say.
    """
    nanosec = int(stamp.nanosec)
    if nanosec >= 1_000_000_000:
        raise InputError(f"header stamp nanosec {nanosec} is not below 1e9 (an invalid "
                         "builtin_interfaces/Time): frame not processed", "stamp")


def _check_size(width: int, height: int, max_pixels: int | None) -> None:
    if width <= 0 or height <= 0:
        raise InputError(f"image has zero size ({width}x{height})", "size")
    if max_pixels is not None and width * height > max_pixels:
        raise InputError(
            f"image of {width}x{height} ({width * height / 1e6:.1f} MP) exceeds the limit of "
            f"{max_pixels / 1e6:g} MP (parameter max_image_megapixels)",
            "too_large",
        )


def _unsupported(encoding: str) -> InputError:
    enc = encoding.lower()
    if "16" in enc or "32" in enc or "64" in enc:
        return InputError(
            f"{encoding!r} images are not supported (8-bit only): publish bgr8/rgb8/mono8 "
            "or convert the depth/IR stream to 8 bits first",
            "encoding",
        )
    if enc.startswith("bayer"):
        return InputError(
            f"Bayer images ({encoding!r}) are not supported: debayer first (image_proc)",
            "encoding",
        )
    return InputError(
        f"unsupported image encoding {encoding!r}; supported: "
        f"{', '.join(sorted(set(_DIRECT) | set(_YUV)))}",
        "encoding",
    )


def image_to_array(
    msg: ImageMessage, max_pixels: int | None = DEFAULT_MAX_PIXELS
) -> tuple[np.ndarray, str]:
    """Convert ``sensor_msgs/Image`` to ``(array, color)`` for ``HeadPoseEstimator.estimate``.

    ``array`` is ``(H, W, 3)``/``(H, W, 4)`` uint8 in ``color`` order (``'bgr'`` or
    ``'rgb'``), a read-only view of ``msg.data`` for the direct encodings (mono
    and YUV input are converted to BGR).  Raises :class:`InputError`.
    """
    width, height, step = int(msg.width), int(msg.height), int(msg.step)
    encoding = str(msg.encoding)
    enc = encoding.strip().lower()
    if enc in _DIRECT:
        channels, color = _DIRECT[enc]
    elif enc in _YUV:
        channels, color = 2, "bgr"
    else:
        raise _unsupported(encoding)
    _check_size(width, height, max_pixels)
    if enc in _YUV and width % 2:
        raise InputError(f"{encoding} needs an even width (pixel pairs), got {width}", "size")
    if step < width * channels:
        raise InputError(
            f"step {step} is smaller than width * bytes per pixel = {width} * {channels}", "size"
        )
    buf = np.frombuffer(msg.data, dtype=np.uint8)
    buf.flags.writeable = False  # a view of the message: never modify it
    expected = step * height
    if buf.size != expected:
        what = "truncated" if buf.size < expected else "too long"
        raise InputError(
            f"image data {what}: {buf.size} bytes for {width}x{height} {encoding} with step "
            f"{step} (expected step * height = {expected})",
            "size",
        )
    if step == width * channels:
        arr = buf.reshape(height, width, channels)
    else:
        arr = np.lib.stride_tricks.as_strided(
            buf, shape=(height, width, channels), strides=(step, channels, 1), writeable=False
        )
    if enc in _YUV:
        return cv2.cvtColor(np.ascontiguousarray(arr), _YUV[enc]), "bgr"
    if channels == 1:
        return cv2.cvtColor(np.ascontiguousarray(arr[:, :, 0]), cv2.COLOR_GRAY2BGR), "bgr"
    return arr, color


def compressed_to_array(
    msg: CompressedImageMessage, max_pixels: int | None = DEFAULT_MAX_PIXELS
) -> tuple[np.ndarray, str]:
    """Decode a JPEG/PNG ``sensor_msgs/CompressedImage`` to ``(array, color)``.

    Raises :class:`InputError`.
    """
    fmt = str(msg.format).lower()
    if "compresseddepth" in fmt:
        raise InputError(
            f"compressedDepth images ({msg.format!r}) are not supported", "encoding"
        )
    if any(k in fmt for k in ("16uc", "mono16", "32fc")):
        raise _unsupported(msg.format)
    raw = msg.data
    if isinstance(raw, np.ndarray):
        raw = np.ascontiguousarray(raw, dtype=np.uint8).reshape(-1).data
    data = memoryview(raw).cast("B") if len(raw) else memoryview(b"")
    if len(data) == 0:
        raise InputError("compressed image has no data", "size")
    try:  # format and size from the header, before anything is decoded
        check_header(probe(data, COMPRESSED_FORMATS), max_pixels)
    except HeaderError as exc:
        raise InputError(f"compressed image ({msg.format!r}, {len(data)} bytes): {exc}",
                         exc.kind) from exc
    try:
        img = cv2.imdecode(np.frombuffer(data, dtype=np.uint8), cv2.IMREAD_COLOR)
    except cv2.error as exc:
        raise InputError(
            f"cannot decode compressed image ({msg.format!r}): {exc}", "decode"
        ) from exc
    if img is None:
        raise InputError(
            f"cannot decode compressed image ({msg.format!r}, {len(data)} bytes): corrupt or "
            "not JPEG/PNG",
            "decode",
        )
    _check_size(img.shape[1], img.shape[0], max_pixels)
    # compressed_image_transport writes "<source>; <codec> compressed <encoding>": the
    # pixels were encoded in <encoding> order, and cv2 reads them as if they were BGR.
    color = "rgb" if fmt.rstrip().endswith("compressed rgb8") else "bgr"
    return img, color
