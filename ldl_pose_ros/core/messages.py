# Copyright 2026 The ldl_pose_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""The node's output messages, built once for two ROS runtimes (imports no ROS package).

:class:`MessageBuilder` knows the layout of every message the node publishes and
fills it from a frame's :class:`~ldl_pose_ros.core.pipeline.FrameOutputs`; a
subclass only says how to make a message of a type name and a ``uint8[]`` field:

* ``ldl_pose_ros.ros.messages.RclpyMessages``: rclpy's generated classes (the node);
* ``ldl_pose_ros.bag.messages.TypestoreMessages``: the rosbags typestore (the bag
  writer), without a ROS installation.

So the live and the recorded outputs are the same messages by construction, and
both factories have the same method names (:class:`~ldl_pose_ros.core.protocols.MessageFactory`).
Rotations become quaternions ``(x, y, z, w)`` here, at the message boundary.
Every field is given, because typestore messages have no defaults.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import Any, Protocol

import numpy as np

from ldl_pose_ros.core import geometry
from ldl_pose_ros.core.faces import FaceTrack
from ldl_pose_ros.core.outputs import ChildFrame, PrimaryFace

#: A ROS message of either runtime (rclpy's generated classes, the rosbags typestore's
#: dataclasses).  Neither has static types for its messages, so they are duck-typed here.
Message = Any


class StampLike(Protocol):
    """``builtin_interfaces/Time`` as read here."""

    sec: int
    nanosec: int


class HeaderLike(Protocol):
    """``std_msgs/Header`` as read here."""

    frame_id: str

    @property
    def stamp(self) -> StampLike:
        """The header's time."""


def stamp_seconds(stamp: StampLike) -> float:
    """``builtin_interfaces/Time`` as float seconds."""
    return float(stamp.sec) + 1e-9 * float(stamp.nanosec)


def stamp_ns(stamp: StampLike) -> int:
    """``builtin_interfaces/Time`` as integer nanoseconds (exact; for matching frames)."""
    return int(stamp.sec) * 1_000_000_000 + int(stamp.nanosec)


class MessageBuilder(ABC):
    """Builds the node's output messages (see the module docstring)."""

    @abstractmethod
    def new(self, msgtype: str, **fields: object) -> Message:
        """A message of type ``msgtype`` (``pkg/msg/Name``) with every field given."""

    @abstractmethod
    def byte_array(self, data: bytes | np.ndarray) -> object:
        """The value of a ``uint8[]`` field holding ``data``."""

    # -- parts ----------------------------------------------------------------------------

    def time(self, sec: int, nanosec: int) -> Message:
        """``builtin_interfaces/Time``."""
        return self.new("builtin_interfaces/msg/Time", sec=int(sec), nanosec=int(nanosec))

    def header(self, stamp_sec: int, stamp_nanosec: int, frame_id: str) -> Message:
        """``std_msgs/Header``."""
        return self.new("std_msgs/msg/Header", stamp=self.time(stamp_sec, stamp_nanosec),
                        frame_id=str(frame_id))

    def header_of(self, msg_header: HeaderLike) -> Message:
        """A copy of an input message's header: every output carries the image's."""
        s = msg_header.stamp
        return self.header(s.sec, s.nanosec, msg_header.frame_id)

    def quaternions(self, rotations: Sequence[np.ndarray]) -> list[Message]:
        """``geometry_msgs/Quaternion`` (w >= 0) of each 3x3 rotation, converted in one step."""
        if not len(rotations):
            return []
        quats = geometry.matrix_to_quaternion(np.stack(rotations)).tolist()
        return [self.new("geometry_msgs/msg/Quaternion", x=x, y=y, z=z, w=w)
                for x, y, z, w in quats]

    def _xyz(self, msgtype: str, v: np.ndarray) -> Message:
        x, y, z = (float(c) for c in np.asarray(v, dtype=np.float64).reshape(3))
        return self.new(msgtype, x=x, y=y, z=z)

    def pose(self, position: np.ndarray, rotation: np.ndarray,
             orientation: Message | None = None) -> Message:
        """``geometry_msgs/Pose`` from a position (m) and a 3x3 rotation (or its quaternion)."""
        return self.new("geometry_msgs/msg/Pose",
                        position=self._xyz("geometry_msgs/msg/Point", position),
                        orientation=orientation or self.quaternions([rotation])[0])

    # -- what a frame publishes ---------------------------------------------------------

    def pose_array(self, header: Message, tracks: Sequence[FaceTrack]) -> Message:
        """``geometry_msgs/PoseArray`` of the tracks' smoothed poses (REP-155 face frames)."""
        quats = self.quaternions([t.rotation for t in tracks])
        return self.new("geometry_msgs/msg/PoseArray", header=header, poses=[
            self.pose(t.position, t.rotation, q) for t, q in zip(tracks, quats, strict=True)])

    def transforms(self, header: Message, frames: Sequence[ChildFrame]) -> list[Message]:
        """``geometry_msgs/TransformStamped`` of each child frame in the header's frame."""
        quats = self.quaternions([f.rotation for f in frames])
        return [self.new("geometry_msgs/msg/TransformStamped", header=header,
                         child_frame_id=f.child_frame_id,
                         transform=self.new("geometry_msgs/msg/Transform", translation=self._xyz(
                             "geometry_msgs/msg/Vector3", f.translation), rotation=q))
                for f, q in zip(frames, quats, strict=True)]

    def tf_message(self, header: Message, frames: Sequence[ChildFrame]) -> Message:
        """``tf2_msgs/TFMessage`` of the child frames."""
        return self.new("tf2_msgs/msg/TFMessage", transforms=self.transforms(header, frames))

    def pose_with_covariance(self, header: Message, primary: PrimaryFace) -> Message:
        """``geometry_msgs/PoseWithCovarianceStamped``: pose and 6x6 covariance, row-major."""
        cov = np.asarray(primary.covariance, dtype=np.float64)
        if cov.shape != (6, 6) or not np.all(np.isfinite(cov)):
            raise ValueError(f"covariance must be a finite 6x6 matrix, got shape {cov.shape}")
        t = primary.track
        pwc = self.new("geometry_msgs/msg/PoseWithCovariance",
                       pose=self.pose(t.position, t.rotation), covariance=cov.reshape(36).copy())
        return self.new("geometry_msgs/msg/PoseWithCovarianceStamped", header=header, pose=pwc)

    def image(self, header: Message, image: np.ndarray, encoding: str = "bgr8") -> Message:
        """``sensor_msgs/Image`` from a uint8 ``(H, W)``, ``(H, W, 3)`` or ``(H, W, 4)`` array.

        ``encoding`` must match the channel count (``mono8``; ``bgr8``/``rgb8``;
        ``bgra8``/``rgba8``).  The pixels are copied once.
        """
        a = np.asarray(image)
        if a.dtype != np.uint8:
            raise ValueError(f"expected a uint8 image, got {a.dtype}")
        channels = 1 if a.ndim == 2 else a.shape[2] if a.ndim == 3 else -1
        expected = {"mono8": 1, "8uc1": 1, "bgr8": 3, "rgb8": 3, "8uc3": 3, "bgra8": 4,
                    "rgba8": 4}
        if expected.get(encoding.lower()) != channels:
            raise ValueError(f"encoding {encoding!r} does not fit an image of shape {a.shape}")
        a = np.ascontiguousarray(a)
        return self.new("sensor_msgs/msg/Image", header=header, height=int(a.shape[0]),
                        width=int(a.shape[1]), encoding=encoding, is_bigendian=0,
                        step=int(a.shape[1] * channels), data=self.byte_array(a))

    def compressed_image(self, header: Message, data: bytes, fmt: str = "jpeg") -> Message:
        """``sensor_msgs/CompressedImage``."""
        return self.new("sensor_msgs/msg/CompressedImage", header=header, format=fmt,
                        data=self.byte_array(data))
