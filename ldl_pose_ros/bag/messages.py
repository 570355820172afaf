# Copyright 2026 The ldl_pose_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""Messages of the ``rosbags`` typestore (ROS 2 Kilted definitions), without ROS.

:class:`TypestoreMessages` is the bag writer's message factory: the node's output
messages (``ldl_pose_ros.core.messages.MessageBuilder``, the same methods as the
node's rclpy factory) plus what the bag tools also write (ground truth, camera_info)
and read back (:func:`pose_to_arrays`, :func:`transform_to_arrays`).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from ldl_pose_ros.bag.io import CAMERA_INFO, POSE_STAMPED, typestore
from ldl_pose_ros.core.messages import Message, MessageBuilder


class TypestoreMessages(MessageBuilder):
    """The message factory of the bag tools (see the module docstring)."""

    def new(self, msgtype: str, **fields: object) -> Message:
        """A typestore message of ``msgtype``."""
        cls: Callable[..., Message] = typestore().types[msgtype]
        return cls(**fields)

    def byte_array(self, data: bytes | np.ndarray) -> np.ndarray:
        """``uint8[]`` fields are numpy arrays in the typestore."""
        if isinstance(data, np.ndarray):
            return np.ascontiguousarray(data, dtype=np.uint8).reshape(-1).copy()
        return np.frombuffer(data, dtype=np.uint8).copy()

    def time_ns(self, ns: int) -> Message:
        """``builtin_interfaces/Time`` of integer nanoseconds."""
        return self.time(int(ns) // 1_000_000_000, int(ns) % 1_000_000_000)

    def pose_stamped(self, header: Message, position: np.ndarray, rotation: np.ndarray
                     ) -> Message:
        """``geometry_msgs/PoseStamped`` (e.g. a ground-truth head pose)."""
        return self.new(POSE_STAMPED, header=header, pose=self.pose(position, rotation))

    def camera_info(self, header: Message, width: int, height: int, K: np.ndarray,
                    D: np.ndarray | None = None, distortion_model: str = "plumb_bob"
                    ) -> Message:
        """``sensor_msgs/CameraInfo`` of a pinhole camera (R = I, P = [K | 0])."""
        K = np.asarray(K, dtype=np.float64).reshape(3, 3)
        P = np.zeros((3, 4))
        P[:, :3] = K
        d = np.zeros(5) if D is None else np.asarray(D, dtype=np.float64).reshape(-1)
        roi = self.new("sensor_msgs/msg/RegionOfInterest", x_offset=0, y_offset=0, height=0,
                       width=0, do_rectify=False)
        return self.new(CAMERA_INFO, header=header, height=int(height), width=int(width),
                        distortion_model=distortion_model, d=d, k=K.reshape(9),
                        r=np.eye(3).reshape(9), p=P.reshape(12), binning_x=0, binning_y=0,
                        roi=roi)


def pose_to_arrays(pose: Message) -> tuple[np.ndarray, np.ndarray]:
    """``(position (3,), quaternion (4,) x, y, z, w)`` of a ``geometry_msgs/Pose``."""
    p, q = pose.position, pose.orientation
    return (np.array([p.x, p.y, p.z], dtype=np.float64),
            np.array([q.x, q.y, q.z, q.w], dtype=np.float64))


def transform_to_arrays(tr: Message) -> tuple[np.ndarray, np.ndarray]:
    """``(translation (3,), quaternion (4,))`` of a ``geometry_msgs/Transform``."""
    t, q = tr.translation, tr.rotation
    return (np.array([t.x, t.y, t.z], dtype=np.float64),
            np.array([q.x, q.y, q.z, q.w], dtype=np.float64))
