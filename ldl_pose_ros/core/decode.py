# Copyright 2026 The ldl_pose_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""Decode image and camera-info messages without ROS (no cv_bridge, no rclpy).

The functions read message *fields* only (``width``, ``height``, ``step``,
``encoding``, ``data``; ``format``; ``k``, ``d``, ``p``), so they accept rclpy
messages in the node and ``rosbags`` messages in the bag tools alike: one
decoding path for live and recorded data. Conventions and errors are described
in ``ldl_pose_ros.ros.conversions``; in addition, packed YUV 4:2:2 images need an
even width, and camera_info is refused (``IntrinsicsError``) when its distortion
vector does not fit its model (plumb_bob/rational_polynomial: 4, 5, 8, 12 or 14
coefficients as OpenCV takes them, equidistant: 4) or when its matrix gives no
usable ray through the image corners (denormal or absurd focal lengths, principal
point or skew): such values would otherwise fail or give NaN poses on every frame.
Both properties are checked for arbitrary messages by
``test/test_reliability_decode.py``.
"""

from __future__ import annotations

from typing import Any

import cv2
import numpy as np

from ldl_pose_ros.core.camera import CameraIntrinsics, IntrinsicsError
from ldl_pose_ros.core.imaging import ImageError

#: Default limit on width * height of an input image (50 MP, as ``imaging``).
DEFAULT_MAX_PIXELS = 50_000_000


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


class InputError(ImageError):
    """An input message that cannot be used; ``kind`` is a short category for diagnostics.

    Kinds: ``encoding``, ``size`` (zero size, step or data length mismatch),
    ``too_large``, ``decode`` (compressed data).
    """

    def __init__(self, message: str, kind: str) -> None:
        super().__init__(message)
        self.kind = kind


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
    msg: Any, max_pixels: int | None = DEFAULT_MAX_PIXELS
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


def _peek_compressed_size(data: memoryview) -> tuple[int, int] | None:
    """``(width, height)`` from a PNG or JPEG header without decoding, else None."""
    n = len(data)
    if n >= 24 and bytes(data[:8]) == b"\x89PNG\r\n\x1a\n" and bytes(data[12:16]) == b"IHDR":
        return int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
    if n < 4 or data[0] != 0xFF or data[1] != 0xD8:
        return None
    i = 2
    while i + 3 < n:
        if data[i] != 0xFF:
            return None
        marker = data[i + 1]
        if marker == 0xFF:
            i += 1
            continue
        if marker == 0x01 or 0xD0 <= marker <= 0xD8:
            i += 2
            continue
        seg = int.from_bytes(data[i + 2:i + 4], "big")
        if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC):
            if i + 9 > n:
                return None
            h = int.from_bytes(data[i + 5:i + 7], "big")
            w = int.from_bytes(data[i + 7:i + 9], "big")
            return w, h
        if marker == 0xDA or seg < 2:
            return None
        i += 2 + seg
    return None


def compressed_to_array(
    msg: Any, max_pixels: int | None = DEFAULT_MAX_PIXELS
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
    data = memoryview(msg.data).cast("B") if len(msg.data) else memoryview(b"")
    if len(data) == 0:
        raise InputError("compressed image has no data", "size")
    size = _peek_compressed_size(data)
    if size is not None:
        _check_size(size[0], size[1], max_pixels)
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


#: Distortion vector lengths OpenCV can undo, per ROS distortion model.
_RADIAL_LENGTHS = (4, 5, 8, 12, 14)


def _check_distortion_length(intr: CameraIntrinsics) -> None:
    """Refuse a distortion vector the model cannot use (it would fail on every frame)."""
    n = intr.D.size
    if not intr.has_distortion:
        return  # no (non-zero) coefficients, or a model that is not undone: D is ignored
    if intr.distortion_model == "equidistant":
        if n < 4:
            raise IntrinsicsError(f"camera_info D has {n} coefficients; equidistant needs 4")
    elif n not in _RADIAL_LENGTHS:
        raise IntrinsicsError(
            f"camera_info D has {n} coefficients; {intr.distortion_model} needs 5 "
            f"(plumb_bob), 8 (rational_polynomial) or another length in {_RADIAL_LENGTHS}"
        )


#: Largest |x/z|, |y/z| of an image corner's ray (about 89.9999 degrees off axis).
_MAX_RAY_SLOPE = 1e6


def _check_rays(intr: CameraIntrinsics) -> None:
    """Refuse intrinsics whose rays through the image corners are not usable numbers.

    Denormal or absurd focal lengths, principal points or skews pass the basic
    checks of ``CameraIntrinsics`` but would give NaN or infinite poses on every
    frame.
    """
    K = intr.K
    w = intr.width if intr.width > 0 else max(2.0 * K[0, 2], 1.0)
    h = intr.height if intr.height > 0 else max(2.0 * K[1, 2], 1.0)
    pinhole = CameraIntrinsics(K, width=intr.width, height=intr.height)
    for u, v in ((0.0, 0.0), (w, 0.0), (0.0, h), (w, h)):
        with np.errstate(all="ignore"):  # overflow is what is being checked for
            x, y = pinhole.normalized(u, v)  # distortion is not checked: wide lenses are fine
        if not (abs(x) <= _MAX_RAY_SLOPE and abs(y) <= _MAX_RAY_SLOPE):
            raise IntrinsicsError(
                f"camera_info gives no usable ray for pixel ({u:g}, {v:g}) with "
                f"fx={K[0, 0]:g}, fy={K[1, 1]:g}, cx={K[0, 2]:g}, cy={K[1, 2]:g}, "
                f"skew={K[0, 1]:g}"
            )


def camera_info_to_intrinsics(msg: Any, use_rectified: bool = False) -> CameraIntrinsics:
    """Intrinsics from ``sensor_msgs/CameraInfo``: K and D, or P (no distortion) if rectified.

    Raises :class:`IntrinsicsError` for an uncalibrated (all-zero) or invalid matrix,
    non-finite distortion, a distortion vector whose length does not fit its model,
    or values that give no usable ray through the image corners.
    """
    try:
        if use_rectified:
            P = np.asarray(msg.p, dtype=np.float64).reshape(3, 4)
            intr = CameraIntrinsics(P[:, :3], np.zeros(0), "", int(msg.width), int(msg.height))
        else:
            K = np.asarray(msg.k, dtype=np.float64).reshape(3, 3)
            D = np.asarray(msg.d, dtype=np.float64).reshape(-1)
            intr = CameraIntrinsics(
                K, D, str(msg.distortion_model), int(msg.width), int(msg.height)
            )
    except IntrinsicsError as exc:
        which = "P" if use_rectified else "K"
        raise IntrinsicsError(f"camera_info {which}: {exc}") from exc
    except ValueError as exc:
        raise IntrinsicsError(f"camera_info: {exc}") from exc
    _check_distortion_length(intr)
    _check_rays(intr)
    return intr
