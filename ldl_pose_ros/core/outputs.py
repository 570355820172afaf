# Copyright 2026 The ldl_pose_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""What one frame publishes: the result of ``core.pipeline.FramePipeline`` (frozen types).

The doors turn these into messages (``core.messages``) and publish or write them.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ldl_pose_ros.core.camera import CameraView
from ldl_pose_ros.core.faces import FaceTrack


@dataclass(frozen=True, eq=False)
class ChildFrame:
    """A TF frame of a face, child of the image's frame: its name, position and rotation."""

    child_frame_id: str
    translation: np.ndarray
    rotation: np.ndarray


@dataclass(frozen=True, eq=False)
class PrimaryFace:
    """The largest published face and its 6x6 pose covariance (``core.placement``)."""

    track: FaceTrack
    covariance: np.ndarray


@dataclass(frozen=True)
class StageTimes:
    """Milliseconds of each stage of one frame; ``decode`` includes the caller's decoding."""

    decode: float
    detect: float
    crop: float
    network: float
    post: float

    @property
    def total(self) -> float:
        """Sum of the stages."""
        return self.decode + self.detect + self.crop + self.network + self.post

    def as_dict(self) -> dict[str, float]:
        """``{stage: ms}``."""
        return {"decode": self.decode, "detect": self.detect, "crop": self.crop,
                "network": self.network, "post": self.post}


@dataclass(frozen=True, eq=False)
class FrameOutputs:
    """Everything one frame publishes (see the module docstring).

    ``ids``: the public id of each face of ``shown`` (``core.face_ids``), as in its
    ``face_<id>`` frame; empty when made without ids (the track numbers are used).
    """

    shown: tuple[FaceTrack, ...]
    tracks: tuple[FaceTrack, ...]
    child_frames: tuple[ChildFrame, ...]
    primary: PrimaryFace | None
    camera: CameraView
    times: StageTimes
    ids: tuple[str, ...] = ()
    #: Faces left out because the network's output was no valid distribution.
    refused: int = 0

    @property
    def face_ids(self) -> tuple[str, ...]:
        """The public id of each face of ``shown``."""
        return self.ids or tuple(str(t.track_id) for t in self.shown)

    def annotated(self, image: np.ndarray, color: str) -> np.ndarray:
        """``image`` (BGR copy) with the published faces drawn: boxes, ids, axes, angles."""
        from ldl_pose_ros.core.annotate import draw_poses
        from ldl_pose_ros.core.imaging import to_bgr

        return draw_poses(to_bgr(image, color), self.shown,
                          ids=[t.track_id for t in self.shown], names=self.face_ids)
