# Copyright 2026 The ldl_pose_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""The seams between the core and the doors, as Protocols.

* :class:`Estimator`: image -> :class:`~ldl_pose_ros.core.faces.FacePrediction` list
  (``core.estimator.HeadPoseEstimator``; tests and benches may pass their own).
* :class:`Tracker`: placed faces of a frame -> tracks (``core.tracking.FaceTracker``).
* :class:`MessageFactory`: a frame's outputs -> ROS messages, with the same method
  names for rclpy (``ros.messages.RclpyMessages``) and the rosbags typestore
  (``bag.messages.TypestoreMessages``); both build on ``core.messages.MessageBuilder``.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

import numpy as np

if TYPE_CHECKING:
    import numpy.typing as npt

    from ldl_pose_ros.core.estimator import StageTiming
    from ldl_pose_ros.core.faces import FacePrediction, FaceTrack, PlacedFace
    from ldl_pose_ros.core.messages import HeaderLike, Message
    from ldl_pose_ros.core.outputs import ChildFrame, PrimaryFace


class Estimator(Protocol):
    """Detects the faces of an image and predicts their head poses."""

    @property
    def weights(self) -> Path:
        """The checkpoint in use."""

    @property
    def device(self) -> str:
        """``'cpu'`` or ``'cuda'``."""

    @property
    def backend(self) -> str:
        """``'torch'`` or ``'onnx'``."""

    def estimate_timed(self, image: np.ndarray, color: str = "bgr",
                       boxes: npt.ArrayLike | None = None
                       ) -> tuple[list[FacePrediction], StageTiming]:
        """The faces of ``image`` (best score first) and the time of each stage."""

    def close(self) -> None:
        """Release the detector."""


class Tracker(Protocol):
    """Gives the faces of successive frames stable ids and smoothed poses."""

    @property
    def num_tracks(self) -> int:
        """Live tracks."""

    def update(self, faces: Sequence[PlacedFace], stamp_s: float) -> list[FaceTrack]:
        """The tracks of one frame's faces, in their order."""

    def reset(self) -> None:
        """Forget every track."""


class MessageFactory(Protocol):
    """Builds the node's output messages for one ROS runtime."""

    def header(self, stamp_sec: int, stamp_nanosec: int, frame_id: str) -> Message:
        """``std_msgs/Header``."""

    def header_of(self, msg_header: HeaderLike) -> Message:
        """A copy of an input message's header (stamp and frame_id)."""

    def pose_array(self, header: Message, tracks: Sequence[FaceTrack]) -> Message:
        """``geometry_msgs/PoseArray`` of the tracks' smoothed poses."""

    def transforms(self, header: Message, frames: Sequence[ChildFrame]) -> list[Message]:
        """``geometry_msgs/TransformStamped`` of each child frame in the header's frame."""

    def tf_message(self, header: Message, frames: Sequence[ChildFrame]) -> Message:
        """``tf2_msgs/TFMessage`` of the child frames."""

    def pose_with_covariance(self, header: Message, primary: PrimaryFace) -> Message:
        """``geometry_msgs/PoseWithCovarianceStamped`` of the primary face."""

    def image(self, header: Message, image: np.ndarray, encoding: str = "bgr8") -> Message:
        """``sensor_msgs/Image`` (the pixels copied once)."""

    def compressed_image(self, header: Message, data: bytes, fmt: str = "jpeg") -> Message:
        """``sensor_msgs/CompressedImage``."""
