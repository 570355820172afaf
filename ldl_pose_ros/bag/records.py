# Copyright 2026 The ldl_pose_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""What ``ldl-pose bag evaluate`` was asked to do, and what it found for each frame."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ldl_pose_ros.bag.groundtruth import DEFAULT_MAX_GAP_S, Pose
from ldl_pose_ros.bag.metrics import DEFAULT_MATCH_MAX_DEG, PredFace
from ldl_pose_ros.core.params import DEFAULTS, Params

#: The summary of an evaluation, as written to ``metrics.json``: a JSON document.
Summary = dict[str, Any]
#: Annotated images in the output bag: raw bgr8, JPEG (``/compressed``) or none.
ANNOTATED_MODES = ("raw", "jpeg", "none")


@dataclass
class EvaluateOptions:
    """What ``ldl-pose bag evaluate`` was asked to do (see the CLI help)."""

    bag: Path
    out: Path
    image_topic: str | None = None
    camera_info_topic: str | None = None
    gt_topic: str | None = None
    gt_frame: str | None = None
    camera_to_mocap: str | None = None
    align_frames: int = 0
    params: Params = DEFAULTS
    predictions: Path | None = None
    annotated: str = "jpeg"
    max_frames: int | None = None
    match_max_deg: float = DEFAULT_MATCH_MAX_DEG
    gt_max_gap_s: float = DEFAULT_MAX_GAP_S
    no_gt: bool = False


@dataclass
class FrameRecord:
    """One input image frame and what came out of it."""

    index: int
    stamp_ns: int
    log_time_ns: int
    frame_id: str
    status: str = "ok"  # ok | bad_input | not_processed
    detail: str = ""
    faces: list[PredFace] = field(default_factory=list)
    processing_ms: float | None = None
    latency_ms: float | None = None
    node_dropped: bool = False
    gt: Pose | None = None  # ground truth in the camera frame
    match: int | None = None  # index into faces
    in_metrics: bool = True
    faces_refused: int = 0  # faces left out: the network's output was no distribution

    @property
    def stamp_s(self) -> float:
        """Header stamp in seconds."""
        return self.stamp_ns * 1e-9


@dataclass
class CameraInfoUse:
    """What ``bag evaluate`` did with the camera_info topic (counted as the node counts it)."""

    messages: int = 0
    refused: int = 0
    first_problem: str = ""
    frames_nominal: int = 0

    def refuse(self, problem: str) -> None:
        """Count one camera_info that cannot be used."""
        self.refused += 1
        self.first_problem = self.first_problem or problem

    def as_dict(self) -> dict[str, object]:
        """For ``metrics.json``."""
        return {"messages": self.messages, "refused": self.refused,
                "first_problem": self.first_problem or None,
                "frames_nominal_camera": self.frames_nominal}


def damaged_after(frames: list[FrameRecord]) -> str:
    """``"frame <n>"`` of the last frame read, for "stopped after" messages."""
    return f"frame {frames[-1].index}" if frames else "frame none"
