# Copyright 2026 The ldl_pose_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""Camera intrinsics, face positions from boxes, and pose covariances (no ROS imports).

Shared by the ROS node and the bag tools so that both place faces identically.

Position model
    A face is placed on the camera ray through the point between its eyes (the
    mean of the two eye landmarks when the detector gives them, otherwise the box
    centre moved up by ``EYE_LINE_OFFSET`` of the box height, where the eyes of an
    upright face sit in a BlazeFace-style box).  Its depth along the optical axis
    is ``fx * face_width_m / box_width_px``: the box is taken to span a face of
    ``face_width_m`` (default :data:`DEFAULT_FACE_WIDTH_M` = 0.15 m, the adult
    cheek-to-cheek width that face detectors' boxes roughly cover).  The ray is
    undistorted with the camera's distortion model when one is known.

Nominal camera
    Without camera_info, :func:`nominal_intrinsics` assumes a pinhole camera
    with a horizontal field of view of :data:`DEFAULT_HFOV_DEG` (60 degrees, a
    typical webcam / RGB-D colour camera), square pixels, the principal point at
    the image centre and no distortion: ``fx = fy = (W / 2) / tan(hfov / 2)``.

Covariance model (6x6, REP-103 order x, y, z, rotX, rotY, rotZ, in the camera frame)
    Rotation: the predicted standard deviations (label-distribution widths) are
    taken as independent small rotations about the face's own axes, roll about
    the face x axis (out of the face), pitch about its y axis (face's left) and
    yaw about its z axis (towards the scalp): ``S_face = diag(roll², pitch², yaw²)``
    in rad², rotated into the camera frame as ``R S_face R^T`` because the
    message's rotational block is about the header frame's fixed axes.
    Position: the dominant error is the unknown true face size, which moves the
    point along its viewing ray: ``(rel_depth_std * Z)² r r^T`` with
    ``r = p / Z``, plus an isotropic lateral term ``(pixel_std * Z / fx)²`` on x
    and y for the error of the eye point in the image.  Cross terms between
    position and rotation are zero.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from ldl_pose_ros.core import geometry
from ldl_pose_ros.core.faces import FacePose

#: Nominal face width spanned by a detector box (metres).
DEFAULT_FACE_WIDTH_M = 0.15
#: Horizontal field of view assumed without camera_info (degrees).
DEFAULT_HFOV_DEG = 60.0
#: Eye line above the box centre, as a fraction of the box height (no landmarks).
EYE_LINE_OFFSET = 0.1
#: Relative standard deviation of the depth from the nominal face size.
DEFAULT_REL_DEPTH_STD = 0.15
#: Standard deviation of the eye point in the image (pixels).
DEFAULT_PIXEL_STD = 3.0

_RADIAL_MODELS = ("plumb_bob", "rational_polynomial")
_FISHEYE_MODELS = ("equidistant",)


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
        K = np.asarray(self.K, dtype=np.float64)
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
        D = np.asarray(self.D, dtype=np.float64).reshape(-1)
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

    def normalized(self, u: float, v: float) -> tuple[float, float]:
        """Normalised image coordinates ``(x/z, y/z)`` of pixel ``(u, v)``, undistorted."""
        if self.has_distortion:
            import cv2

            pts = np.array([[[u, v]]], dtype=np.float64)
            if self.distortion_model in _FISHEYE_MODELS:
                out = cv2.fisheye.undistortPoints(pts, self.K, self.D[:4].reshape(4, 1))
            else:
                out = cv2.undistortPoints(pts, self.K, self.D)
            x, y = out.reshape(2)
            if np.isfinite(x) and np.isfinite(y):
                return float(x), float(y)
        K = self.K
        y = (v - K[1, 2]) / K[1, 1]
        x = (u - K[0, 2] - K[0, 1] * y) / K[0, 0]
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


def eye_point(face: FacePose) -> tuple[float, float]:
    """Pixel between the eyes: mean of the two eye landmarks, else just above the box centre."""
    lm = face.landmarks
    if lm is not None:
        lm = np.asarray(lm, dtype=np.float64)
        if lm.ndim == 2 and lm.shape[0] >= 2 and lm.shape[1] >= 2 and np.all(np.isfinite(lm[:2])):
            c = lm[:2, :2].mean(axis=0)
            return float(c[0]), float(c[1])
    x1, y1, x2, y2 = (float(v) for v in face.box[:4])
    return 0.5 * (x1 + x2), 0.5 * (y1 + y2) - EYE_LINE_OFFSET * (y2 - y1)


def face_position(
    face: FacePose, intrinsics: CameraIntrinsics, face_width_m: float = DEFAULT_FACE_WIDTH_M
) -> np.ndarray:
    """Position (metres, camera optical frame) of the point between the eyes of ``face``."""
    if face_width_m <= 0:
        raise ValueError(f"face_width_m must be > 0, got {face_width_m}")
    x1, _, x2, _ = (float(v) for v in face.box[:4])
    w_px = max(x2 - x1, 1.0)
    z = intrinsics.fx * face_width_m / w_px
    u, v = eye_point(face)
    xn, yn = intrinsics.normalized(u, v)
    return np.array([xn * z, yn * z, z], dtype=np.float64)


def face_rotation_in_camera(
    face: FacePose, intrinsics: CameraIntrinsics | None, ray_correct: bool = True
) -> np.ndarray:
    """Rotation (3x3) of the REP-155 face frame in the camera optical frame.

    The network predicts angles relative to the viewing ray through its crop
    (weak perspective); with ``ray_correct`` the rotation from the optical axis to
    the (undistorted) ray through the box centre is applied
    (``geometry.ray_correction``), so a face at the image border that looks at
    the camera gets its x axis pointing at the camera centre.
    """
    rot = geometry.quaternion_to_matrix(np.asarray(face.quaternion, dtype=np.float64))
    if intrinsics is None or not ray_correct:
        return rot
    x1, y1, x2, y2 = (float(v) for v in face.box[:4])
    xn, yn = intrinsics.normalized(0.5 * (x1 + x2), 0.5 * (y1 + y2))
    return geometry.ray_correction(rot, (xn, yn), np.eye(3))


def pose_covariance(
    position: np.ndarray,
    rotation: np.ndarray,
    stds_deg: np.ndarray,
    fx: float,
    rel_depth_std: float = DEFAULT_REL_DEPTH_STD,
    pixel_std: float = DEFAULT_PIXEL_STD,
) -> np.ndarray:
    """6x6 covariance (x, y, z, rotX, rotY, rotZ) of a face pose in the camera frame.

    ``rotation`` is the face frame in the camera frame (3x3), ``stds_deg`` the
    predicted ``(yaw_std, pitch_std, roll_std)`` in degrees.  See the module
    docstring for the model.
    """
    p = np.asarray(position, dtype=np.float64).reshape(3)
    R = np.asarray(rotation, dtype=np.float64).reshape(3, 3)
    yaw_s, pitch_s, roll_s = np.radians(np.abs(np.asarray(stds_deg, dtype=np.float64)))
    cov = np.zeros((6, 6))
    z = p[2] if p[2] > 1e-9 else 1e-9
    r = p / z
    cov[:3, :3] = (rel_depth_std * z) ** 2 * np.outer(r, r)
    lateral = (pixel_std * z / max(fx, 1e-9)) ** 2
    cov[0, 0] += lateral
    cov[1, 1] += lateral
    s_face = np.diag([roll_s**2, pitch_s**2, yaw_s**2])
    cov[3:, 3:] = R @ s_face @ R.T
    return 0.5 * (cov + cov.T)
