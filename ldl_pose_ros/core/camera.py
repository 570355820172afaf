# Copyright 2026 The ldl_pose_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""The camera: intrinsics, camera_info messages, and the camera model of one stream.

:class:`CameraIntrinsics`
    Pinhole ``K``, distortion ``D`` (``plumb_bob``/``rational_polynomial`` radial-
    tangential, or ``equidistant``) and the calibrated image size.
:func:`camera_info_to_intrinsics`
    ``sensor_msgs/CameraInfo`` (read by field: an rclpy or a rosbags message) to
    intrinsics: ``K`` and ``D`` for raw images, the left 3x3 of ``P`` without
    distortion for rectified ones.  Refused (:class:`IntrinsicsError`): an all-zero
    (uncalibrated), non-finite or non-positive matrix, a distortion vector that does
    not fit its model (plumb_bob/rational_polynomial: 4, 5, 8, 12 or 14 coefficients
    as OpenCV takes them, equidistant: 4), and matrices that give no usable ray
    through the image corners (denormal or absurd focal lengths, principal point
    or skew), which would otherwise fail or give NaN poses on every frame, and
    focal lengths absurd for the image size (:func:`check_focal_lengths`; checked
    against the image when the camera_info gives no size).
:func:`nominal_intrinsics`
    Without camera_info: a pinhole camera with a horizontal field of view of
    :data:`DEFAULT_HFOV_DEG` (60 degrees, a typical webcam / RGB-D colour camera),
    square pixels, the principal point at the image centre and no distortion:
    ``fx = fy = (W / 2) / tan(hfov / 2)``.
:class:`CameraModel`
    What the node and ``bag evaluate`` both do with a camera stream: keep the last
    usable camera_info, and give each image its intrinsics -- rectified or not,
    scaled when the image size differs from the calibrated one (binning, resized
    streams), the nominal camera when there is none.  ROI is ignored.
"""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np

#: Horizontal field of view assumed without camera_info (degrees).
DEFAULT_HFOV_DEG = 60.0

_RADIAL_MODELS = ("plumb_bob", "rational_polynomial")
_FISHEYE_MODELS = ("equidistant",)
#: Distortion vector lengths OpenCV can undo, per ROS distortion model.
_RADIAL_LENGTHS = (4, 5, 8, 12, 14)
#: Largest |x/z|, |y/z| of an image corner's ray (about 89.9999 degrees off axis).
_MAX_RAY_SLOPE = 1e6
#: Focal lengths accepted, as multiples of the image's larger side.
FOCAL_RANGE = (0.05, 1000.0)
#: ``fx / fy`` accepted (pixel aspect).
FOCAL_ASPECT_RANGE = (0.2, 5.0)


class IntrinsicsError(ValueError):
    """Camera intrinsics that cannot be used (zero, negative, NaN focal lengths, bad shape)."""


@dataclass(frozen=True)
class CameraIntrinsics:
    """Pinhole intrinsics of an image: ``K`` (3x3), distortion ``D`` and image size.

    ``nominal`` is True for the fallback camera of :func:`nominal_intrinsics`.
    """

    K: np.ndarray
    D: np.ndarray = field(default_factory=lambda: np.zeros(0))
    distortion_model: str = ""
    width: int = 0
    height: int = 0
    nominal: bool = False

    def __post_init__(self) -> None:
        K = np.array(self.K, dtype=np.float64)
        if K.shape != (3, 3):
            raise IntrinsicsError(f"camera matrix must be 3x3, got shape {K.shape}")
        if not np.all(np.isfinite(K)):
            raise IntrinsicsError("camera matrix contains NaN or infinite values")
        if not np.any(K):
            raise IntrinsicsError("camera matrix is all zeros (uncalibrated camera_info)")
        if K[0, 0] <= 0 or K[1, 1] <= 0:
            raise IntrinsicsError(
                f"focal lengths must be > 0, got fx={K[0, 0]:g}, fy={K[1, 1]:g}"
            )
        D = np.array(self.D, dtype=np.float64).reshape(-1)
        if not np.all(np.isfinite(D)):
            raise IntrinsicsError("distortion coefficients contain NaN or infinite values")
        if self.width < 0 or self.height < 0:
            raise IntrinsicsError(f"negative image size {self.width}x{self.height}")
        K.setflags(write=False)
        D.setflags(write=False)
        object.__setattr__(self, "K", K)
        object.__setattr__(self, "D", D)

    @property
    def fx(self) -> float:
        """Horizontal focal length (pixels)."""
        return float(self.K[0, 0])

    @property
    def fy(self) -> float:
        """Vertical focal length (pixels)."""
        return float(self.K[1, 1])

    @property
    def has_distortion(self) -> bool:
        """True when ``D`` holds a non-zero model this module can undo."""
        return bool(np.any(self.D)) and self.distortion_model in _RADIAL_MODELS + _FISHEYE_MODELS

    def scaled_to(self, width: int, height: int) -> CameraIntrinsics:
        """Rescale to an image of ``width`` x ``height`` (binning / resizing).

        Returns ``self`` when the size matches or the calibrated size is unknown.
        """
        if self.width <= 0 or self.height <= 0 or (width, height) == (self.width, self.height):
            return self
        sx, sy = width / self.width, height / self.height
        K = self.K.copy()
        K[0, :] *= sx
        K[1, :] *= sy
        return CameraIntrinsics(K, self.D, self.distortion_model, width, height, self.nominal)

    def normalized_points(self, pixels: np.ndarray) -> np.ndarray:
        """Normalised coordinates ``(N, 2)`` (``x/z, y/z``, undistorted) of ``(N, 2)`` pixels."""
        uv = np.asarray(pixels, dtype=np.float64).reshape(-1, 2)
        if self.has_distortion and len(uv):
            import cv2

            pts = uv.reshape(-1, 1, 2)
            if self.distortion_model in _FISHEYE_MODELS:
                out = cv2.fisheye.undistortPoints(pts, self.K, self.D[:4].reshape(4, 1))
            else:
                out = cv2.undistortPoints(pts, self.K, self.D)
            xy: np.ndarray = out.reshape(-1, 2).astype(np.float64)
            if np.all(np.isfinite(xy)):
                return xy
        K = self.K
        y = (uv[:, 1] - K[1, 2]) / K[1, 1]
        x = (uv[:, 0] - K[0, 2] - K[0, 1] * y) / K[0, 0]
        return np.stack([x, y], axis=-1)

    def normalized(self, u: float, v: float) -> tuple[float, float]:
        """Normalised image coordinates ``(x/z, y/z)`` of pixel ``(u, v)``, undistorted."""
        x, y = self.normalized_points(np.array([[u, v]]))[0]
        return float(x), float(y)


def nominal_intrinsics(
    width: int, height: int, hfov_deg: float = DEFAULT_HFOV_DEG
) -> CameraIntrinsics:
    """Build the fallback camera used without camera_info (see the module docstring)."""
    if width <= 0 or height <= 0:
        raise IntrinsicsError(f"image size must be positive, got {width}x{height}")
    if not 0.0 < hfov_deg < 180.0:
        raise IntrinsicsError(f"horizontal field of view must be in (0, 180), got {hfov_deg}")
    f = (width / 2.0) / math.tan(math.radians(hfov_deg) / 2.0)
    K = np.array([[f, 0.0, width / 2.0], [0.0, f, height / 2.0], [0.0, 0.0, 1.0]])
    return CameraIntrinsics(K, np.zeros(0), "", width, height, nominal=True)


# ---------------------------------------------------------------- camera_info


class CameraInfoLike(Protocol):
    """The fields of ``sensor_msgs/CameraInfo`` read here (rclpy or rosbags message)."""

    width: int
    height: int
    distortion_model: str

    @property
    def d(self) -> object:
        """Distortion coefficients."""

    @property
    def k(self) -> object:
        """Camera matrix K, row-major 3x3."""

    @property
    def p(self) -> object:
        """Projection matrix P, row-major 3x4."""


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


def _check_rays(intr: CameraIntrinsics) -> None:
    """Refuse intrinsics whose rays through the image corners are not usable numbers."""
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


def check_focal_lengths(intr: CameraIntrinsics, width: int, height: int) -> None:
    """Refuse focal lengths absurd for a ``width`` x ``height`` image.

    Accepted: ``fx`` and ``fy`` between :data:`FOCAL_RANGE` times the image's larger
    side (a field of view from about 0.06 degrees to beyond a fisheye's 180) and
    ``fx / fy`` within :data:`FOCAL_ASPECT_RANGE`.  Outside that, every position
    would be off by orders of magnitude (``fx = 1e100`` puts faces 1e97 m away).
    """
    if width <= 0 or height <= 0:
        return
    side = float(max(width, height))
    lo, hi = FOCAL_RANGE
    for name, f in (("fx", intr.fx), ("fy", intr.fy)):
        if not lo * side <= f <= hi * side:
            raise IntrinsicsError(
                f"camera_info {name}={f:g} px is absurd for a {width}x{height} image "
                f"(accepted: {lo:g} to {hi:g} times its larger side)")
    a_lo, a_hi = FOCAL_ASPECT_RANGE
    if not a_lo <= intr.fx / intr.fy <= a_hi:
        raise IntrinsicsError(f"camera_info fx/fy = {intr.fx / intr.fy:.3g} (fx={intr.fx:g}, "
                              f"fy={intr.fy:g}) is not a plausible pixel aspect")


def camera_info_to_intrinsics(msg: CameraInfoLike, use_rectified: bool = False
                              ) -> CameraIntrinsics:
    """Intrinsics from ``sensor_msgs/CameraInfo``: K and D, or P (no distortion) if rectified.

    Raises :class:`IntrinsicsError` (see the module docstring).
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
    except (ValueError, TypeError) as exc:
        raise IntrinsicsError(f"camera_info: {exc}") from exc
    _check_distortion_length(intr)
    _check_rays(intr)
    check_focal_lengths(intr, intr.width, intr.height)
    return intr


# ---------------------------------------------------------------- camera model


@dataclass(frozen=True)
class CameraView:
    """The intrinsics of one image and where they came from.

    ``source``: ``"camera_info K, D"``, ``"camera_info P (rectified)"`` or
    ``"nominal <hfov> deg HFOV"``; ``scaled_from``: the calibrated size when the
    image has another one; ``problem``: why a received camera_info could not be
    used for this image (the nominal camera is used then).
    """

    intrinsics: CameraIntrinsics
    source: str
    scaled_from: tuple[int, int] | None = None
    problem: str | None = None


class CameraModel:
    """The last usable camera_info of one camera stream, as intrinsics for each image.

    Thread safe: :meth:`update` may run in a subscription callback while
    :meth:`view` runs in a worker.
    """

    def __init__(self, use_rectified: bool = False,
                 default_hfov_deg: float = DEFAULT_HFOV_DEG) -> None:
        self._lock = threading.Lock()
        self._info: CameraInfoLike | None = None
        self._use_rectified = bool(use_rectified)
        self._hfov = float(default_hfov_deg)
        self._cache: tuple[object, int, int, CameraView] | None = None

    @property
    def has_info(self) -> bool:
        """True once a usable camera_info was received."""
        return self._info is not None

    def configure(self, use_rectified: bool, default_hfov_deg: float) -> None:
        """Change how camera_info is read (``use_rectified``) and the nominal camera."""
        with self._lock:
            if (bool(use_rectified), float(default_hfov_deg)) != (self._use_rectified,
                                                                   self._hfov):
                self._use_rectified, self._hfov = bool(use_rectified), float(default_hfov_deg)
                self._cache = None

    def update(self, msg: CameraInfoLike) -> None:
        """Keep ``msg`` as the camera's calibration.

        Raises :class:`IntrinsicsError`, keeping the previous one, when it cannot be used.
        """
        camera_info_to_intrinsics(msg, self._use_rectified)
        with self._lock:
            self._info = msg

    def view(self, width: int, height: int) -> CameraView:
        """Intrinsics for an image of ``width`` x ``height`` (see the module docstring)."""
        with self._lock:
            info, rect, hfov, cache = self._info, self._use_rectified, self._hfov, self._cache
        if info is None:
            return CameraView(nominal_intrinsics(width, height, hfov), f"nominal {hfov:g} deg HFOV")
        if cache is not None and cache[0] is info and cache[1:3] == (width, height):
            return cache[3]
        try:
            intr = camera_info_to_intrinsics(info, rect)
        except IntrinsicsError as exc:  # e.g. P unusable after use_rectified changed
            return CameraView(nominal_intrinsics(width, height, hfov),
                              f"nominal {hfov:g} deg HFOV", problem=str(exc))
        scaled_from = None
        if intr.width and (intr.width, intr.height) != (width, height):
            scaled_from = (intr.width, intr.height)
            intr = intr.scaled_to(width, height)
        try:  # (a camera_info without a size is checked against the image here)
            check_focal_lengths(intr, width, height)
        except IntrinsicsError as exc:
            return CameraView(nominal_intrinsics(width, height, hfov),
                              f"nominal {hfov:g} deg HFOV", problem=str(exc))
        view = CameraView(intr, "camera_info " + ("P (rectified)" if rect else "K, D"),
                          scaled_from)
        with self._lock:
            if self._info is info and self._use_rectified == rect:
                self._cache = (info, width, height, view)
        return view
