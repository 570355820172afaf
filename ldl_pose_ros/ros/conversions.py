# Copyright 2026 The ldl_pose_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""Message <-> numpy conversions for the node (no cv_bridge).

Images
    :func:`image_to_array` accepts ``bgr8``, ``rgb8``, ``mono8``, ``bgra8``,
    ``rgba8`` (and their ``8UC1``/``8UC3``/``8UC4`` aliases, read as mono/BGR/BGRA)
    plus the packed YUV 4:2:2 encodings ``yuv422`` (UYVY) and ``yuv422_yuy2``.
    Rows may be padded (``step`` > ``width * channels``): the result is then a
    strided, read-only view of the message buffer, never a copy (only mono and
    YUV input are converted).  ``is_bigendian`` only matters for multi-byte
    channels; every accepted encoding has 8-bit channels, so it is ignored.
    Everything else raises :class:`InputError` (an
    :class:`ldl_pose_ros.core.imaging.ImageError`) with a reason: 16-bit and float
    encodings, Bayer patterns, unknown encodings, zero or huge sizes,
    ``step < width * channels`` and ``len(data) != step * height``
    (truncated or oversized buffers, e.g. width*height not matching the data).
    ``InputError.kind`` names the category for the node's diagnostics.

Compressed images
    :func:`compressed_to_array` decodes JPEG and PNG (``CompressedImage.format``
    as written by ``compressed_image_transport``, e.g. ``"bgr8; jpeg compressed
    bgr8"``, or just ``"jpeg"``); the size in the JPEG/PNG header is checked
    against the pixel limit before anything is decoded.  ``compressedDepth``
    and undecodable data raise :class:`InputError`.

Camera info
    :func:`camera_info_to_intrinsics` uses ``K`` and ``D`` (raw image) or the left
    3x3 of ``P`` with no distortion (``use_rectified``).  All-zero, NaN or
    non-positive focal lengths raise :class:`ldl_pose_ros.core.camera.IntrinsicsError`.
    ROI is ignored; a binned or resized image is handled by
    :meth:`CameraIntrinsics.scaled_to`.

Poses, TF, covariance
    Positions and rotations come from ``ldl_pose_ros.core.camera`` and
    ``ldl_pose_ros.core.tracking``.  The face frame ``face_<id>`` is REP-155 (x out of
    the face, y to its left, z to the scalp); ``gaze_<id>`` has the same origin
    and optical-style axes (z along the line of sight, y to the chin, x to the
    face's right), i.e. ``geometry.gaze_rotation_in_optical``, obtained from the
    (smoothed) face rotation by the constant :data:`FACE_TO_GAZE`.
    :func:`pose_with_covariance` fills ``PoseWithCovarianceStamped`` with the
    6x6 matrix of :func:`ldl_pose_ros.core.camera.pose_covariance`, row-major in
    REP-103 order (x, y, z, rotation about X, about Y, about Z; metres² and
    radians²) in the header frame: the rotational block is the predicted
    (roll, pitch, yaw) stds as variances about the face's own (x, y, z) axes,
    rotated into the camera frame.
"""

from __future__ import annotations

import array
import math
from collections.abc import Sequence

import numpy as np
from builtin_interfaces.msg import Duration, Time
from geometry_msgs.msg import (
    Point,
    Pose,
    PoseArray,
    PoseWithCovarianceStamped,
    Quaternion,
    TransformStamped,
)
from sensor_msgs.msg import Image
from std_msgs.msg import ColorRGBA, Header
from visualization_msgs.msg import Marker

from ldl_pose_ros.core import geometry
from ldl_pose_ros.core.camera import IntrinsicsError
from ldl_pose_ros.core.decode import (
    DEFAULT_MAX_PIXELS,
    InputError,
    camera_info_to_intrinsics,
    compressed_to_array,
    image_to_array,
)
from ldl_pose_ros.core.faces import FacePose

__all__ = [
    "DEFAULT_MAX_PIXELS",
    "FACE_TO_GAZE",
    "InputError",
    "IntrinsicsError",
    "array_to_image",
    "camera_info_to_intrinsics",
    "compressed_to_array",
    "copy_header",
    "face_markers",
    "image_to_array",
    "make_pose",
    "make_transform",
    "pose_array",
    "pose_label",
    "pose_with_covariance",
    "stamp_to_seconds",
]

FACE_TO_GAZE = geometry.FACE_TO_GAZE

def stamp_to_seconds(stamp: Time) -> float:
    """``builtin_interfaces/Time`` as float seconds."""
    return float(stamp.sec) + 1e-9 * float(stamp.nanosec)


def copy_header(header: Header) -> Header:
    """Copy a header (stamp and frame_id) into a new message."""
    return Header(stamp=Time(sec=header.stamp.sec, nanosec=header.stamp.nanosec),
                  frame_id=header.frame_id)


def array_to_image(
    image: np.ndarray, encoding: str = "bgr8", header: Header | None = None
) -> Image:
    """Build a ``sensor_msgs/Image`` from a uint8 ``(H, W)``, ``(H, W, 3)`` or ``(H, W, 4)`` array.

    ``encoding`` must match the channel count (``mono8``; ``bgr8``/``rgb8``;
    ``bgra8``/``rgba8``).  The data is copied once.
    """
    a = np.asarray(image)
    if a.dtype != np.uint8:
        raise ValueError(f"expected a uint8 image, got {a.dtype}")
    channels = 1 if a.ndim == 2 else a.shape[2] if a.ndim == 3 else -1
    expected = {"mono8": 1, "8uc1": 1, "bgr8": 3, "rgb8": 3, "8uc3": 3, "bgra8": 4, "rgba8": 4}
    if expected.get(encoding.lower()) != channels:
        raise ValueError(f"encoding {encoding!r} does not fit an image of shape {a.shape}")
    a = np.ascontiguousarray(a)
    msg = Image()
    if header is not None:
        msg.header = copy_header(header)
    msg.height, msg.width = int(a.shape[0]), int(a.shape[1])
    msg.encoding = encoding
    msg.is_bigendian = 0
    msg.step = int(a.shape[1] * channels)
    data = array.array("B")
    data.frombytes(a.data)
    msg.data = data
    return msg




def make_pose(position: Sequence[float], quaternion: Sequence[float]) -> Pose:
    """``geometry_msgs/Pose`` from a position (m) and a quaternion ``(x, y, z, w)``."""
    p = Pose()
    p.position.x, p.position.y, p.position.z = (float(v) for v in position[:3])
    q = p.orientation
    q.x, q.y, q.z, q.w = (float(v) for v in quaternion[:4])
    return p


def make_transform(
    header: Header, child_frame_id: str, position: Sequence[float], quaternion: Sequence[float]
) -> TransformStamped:
    """``TransformStamped`` of ``child_frame_id`` in ``header.frame_id`` at ``header.stamp``."""
    t = TransformStamped()
    t.header = copy_header(header)
    t.child_frame_id = child_frame_id
    t.transform.translation.x, t.transform.translation.y, t.transform.translation.z = (
        float(v) for v in position[:3]
    )
    r = t.transform.rotation
    r.x, r.y, r.z, r.w = (float(v) for v in quaternion[:4])
    return t


def pose_array(header: Header, poses: Sequence[Pose]) -> PoseArray:
    """``PoseArray`` with a copy of ``header``."""
    return PoseArray(header=copy_header(header), poses=list(poses))


def pose_with_covariance(
    header: Header, position: Sequence[float], quaternion: Sequence[float], covariance: np.ndarray
) -> PoseWithCovarianceStamped:
    """``PoseWithCovarianceStamped``; ``covariance`` is 6x6 (x, y, z, rotX, rotY, rotZ)."""
    cov = np.asarray(covariance, dtype=np.float64)
    if cov.shape != (6, 6) or not np.all(np.isfinite(cov)):
        raise ValueError(f"covariance must be a finite 6x6 matrix, got shape {cov.shape}")
    msg = PoseWithCovarianceStamped()
    msg.header = copy_header(header)
    msg.pose.pose = make_pose(position, quaternion)
    msg.pose.covariance = cov.reshape(36).tolist()
    return msg


def gaze_quaternion(face_quaternion: Sequence[float]) -> np.ndarray:
    """Quaternion ``(x, y, z, w)`` of the gaze frame from that of the REP-155 face frame."""
    return geometry.gaze_quaternion_from_face(np.asarray(face_quaternion, dtype=np.float64))


def pose_label(track_id: int, face: FacePose) -> str:
    """Marker text: id and yaw/pitch/roll +- std (degrees, ASCII)."""
    return (
        f"face {track_id}\n"
        f"yaw {face.yaw:+.1f} +- {face.yaw_std:.1f}\n"
        f"pitch {face.pitch:+.1f} +- {face.pitch_std:.1f}\n"
        f"roll {face.roll:+.1f} +- {face.roll_std:.1f}"
    )


_PALETTE = (
    (1.0, 0.85, 0.0), (0.0, 0.63, 1.0), (0.31, 0.78, 0.31), (1.0, 0.31, 0.78),
    (1.0, 0.5, 0.0), (0.0, 1.0, 1.0), (1.0, 0.63, 0.63), (0.63, 0.0, 1.0),
)


def _duration(seconds: float) -> Duration:
    sec = math.floor(seconds)
    return Duration(sec=int(sec), nanosec=int(round((seconds - sec) * 1e9)) % 1_000_000_000)


def face_markers(
    header: Header,
    track_id: int,
    position: Sequence[float],
    face_quaternion: Sequence[float],
    label: str,
    lifetime_s: float = 0.5,
    arrow_length_m: float = 0.25,
    ns_prefix: str = "",
) -> list[Marker]:
    """Build an arrow along the gaze (from between the eyes) and a text label above it."""
    p = np.asarray(position, dtype=np.float64).reshape(3)
    r_face = geometry.quaternion_to_matrix(np.asarray(face_quaternion, dtype=np.float64))
    direction = r_face[:, 0]  # face x = line of sight = gaze z
    end = p + arrow_length_m * direction
    r, g, b = _PALETTE[int(track_id) % len(_PALETTE)]
    life = _duration(lifetime_s)

    arrow = Marker()
    arrow.header = copy_header(header)
    arrow.ns = f"{ns_prefix}gaze"
    arrow.id = int(track_id)
    arrow.type = Marker.ARROW
    arrow.action = Marker.ADD
    arrow.points = [Point(x=p[0], y=p[1], z=p[2]), Point(x=end[0], y=end[1], z=end[2])]
    arrow.pose.orientation = Quaternion(w=1.0)
    arrow.scale.x, arrow.scale.y, arrow.scale.z = 0.012, 0.025, 0.04
    arrow.color = ColorRGBA(r=r, g=g, b=b, a=1.0)
    arrow.lifetime = life

    text = Marker()
    text.header = copy_header(header)
    text.ns = f"{ns_prefix}label"
    text.id = int(track_id)
    text.type = Marker.TEXT_VIEW_FACING
    text.action = Marker.ADD
    # Above the head: "up" in an optical frame is -y.
    text.pose.position = Point(x=p[0], y=p[1] - 0.15, z=p[2])
    text.pose.orientation = Quaternion(w=1.0)
    text.scale.z = 0.03
    text.color = ColorRGBA(r=r, g=g, b=b, a=1.0)
    text.text = label
    text.lifetime = life
    return [arrow, text]
