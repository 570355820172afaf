# Copyright 2026 The ldl_pose_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""The node's per-frame processing without ROS, for the bag tools.

:class:`FramePipeline` runs the node's per-frame steps
(``ldl_pose_ros.core.pipeline.track_frame``, the very function the node calls) on
decoded frames of a recording; :class:`PipelineParams` carries the node parameters that
matter here, with the node's defaults (``config/pose.yaml``), and can read a
node parameter file.
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

import numpy as np

from ldl_pose_ros.core.camera import (
    CameraIntrinsics,
    nominal_intrinsics,
)
from ldl_pose_ros.core.pipeline import track_frame

NODE_NAME = "ldl_pose_node"


@dataclass
class PipelineParams:
    """Node parameters used by the bag tools; names and defaults are the node's."""

    weights: str = ""
    device: str = "auto"
    backend: str = "auto"
    threads: int = 0
    detector: str = "mediapipe"
    detector_model: str = ""
    detector_tiles: int = 1
    score_threshold: float = 0.5
    max_faces: int = 20
    min_face_size: float = 20
    max_image_megapixels: float = 50.0
    tracking: bool = True
    track_iou_threshold: float = 0.3
    track_max_center_dist: float = 0.5
    confirm_frames: int = 2
    max_misses: int = 5
    smoothing: bool = True
    rotation_min_cutoff: float = 1.0
    rotation_beta: float = 0.5
    position_min_cutoff: float = 1.0
    position_beta: float = 1.0
    derivative_cutoff: float = 1.0
    use_rectified: bool = False
    ray_correction: bool = True
    face_width_m: float = 0.15
    default_hfov_deg: float = 60.0
    rel_depth_std: float = 0.15
    publish_unconfirmed: bool = False
    face_frame_prefix: str = "face_"
    gaze_frame_prefix: str = "gaze_"

    @classmethod
    def from_yaml(cls, path: str | Path, node_name: str = NODE_NAME) -> PipelineParams:
        """Read a node parameter file (``/**`` or ``<node_name>`` ``ros__parameters``).

        Parameters this class does not use are ignored; a wrong type raises ``ValueError``.
        """
        import yaml

        with open(path, encoding="utf-8") as f:
            doc = yaml.safe_load(f) or {}
        values: dict[str, Any] = {}
        for key in ("/**", node_name, f"/{node_name}", f"/**/{node_name}"):
            section = doc.get(key) if isinstance(doc, dict) else None
            if isinstance(section, dict):
                values.update(section.get("ros__parameters") or {})
        return cls().replace(**values)

    def replace(self, **values: Any) -> PipelineParams:
        """A copy with ``values`` applied (unknown names ignored, types checked)."""
        known = {f.name: f for f in fields(self)}
        out = dataclasses.replace(self)
        for name, value in values.items():
            if name not in known or value is None:
                continue
            default = getattr(self, name)
            if isinstance(default, bool):
                ok = isinstance(value, bool)
            elif isinstance(default, int):
                ok = isinstance(value, int) and not isinstance(value, bool)
            elif isinstance(default, float):
                ok = isinstance(value, int | float) and not isinstance(value, bool)
                value = float(value) if ok else value
            else:
                ok = isinstance(value, str)
            if not ok:
                raise ValueError(f"parameter {name}: expected {type(default).__name__}, "
                                 f"got {value!r}")
            setattr(out, name, value)
        return out


@dataclass
class FrameResult:
    """Output of one frame: the faces the node would publish, and timings (ms).

    ``shown`` are the tracked faces the node publishes (confirmed, or all with
    ``publish_unconfirmed``), ordered by track id; their ``quaternion`` and
    ``position`` are in the camera optical frame, smoothed; ``face`` keeps the
    network's angles, stds, box and score.  ``tracked`` holds every face of the
    frame.  ``processing_ms`` is the node's work for the frame before publishing
    (estimator, geometry, tracking) plus ``decode_ms`` given by the caller.
    """

    shown: list[Any]
    tracked: list[Any]
    intrinsics: CameraIntrinsics
    processing_ms: float
    stages_ms: dict[str, float]


class FramePipeline:
    """Estimator + geometry + ``FaceTracker`` of the node, frame by frame."""

    def __init__(self, params: PipelineParams, estimator: Any = None) -> None:
        self.params = params
        self.estimator = estimator if estimator is not None else make_estimator(params)
        self.tracker = make_tracker(params)

    def intrinsics(self, camera_info: Any | None, width: int, height: int) -> CameraIntrinsics:
        """Intrinsics from a camera_info message (any type with its fields), else nominal."""
        p = self.params
        if camera_info is None:
            return nominal_intrinsics(width, height, p.default_hfov_deg)
        from ldl_pose_ros.bag.io import image_decoders

        intr = image_decoders().camera_info_to_intrinsics(camera_info, p.use_rectified)
        if intr.width and (intr.width, intr.height) != (width, height):
            intr = intr.scaled_to(width, height)
        return intr

    def process(self, image: np.ndarray, color: str, stamp_s: float,
                intrinsics: CameraIntrinsics, decode_ms: float = 0.0) -> FrameResult:
        """Run the node's steps on one decoded frame taken at ``stamp_s``.

        Raises ``ImageError`` for an unusable image (the node counts it as bad input).
        """
        p = self.params
        t0 = time.perf_counter()
        steps = track_frame(self.estimator, self.tracker, image, color, stamp_s, intrinsics,
                            ray_correction=p.ray_correction, face_width_m=p.face_width_m,
                            publish_unconfirmed=p.publish_unconfirmed)
        timing = steps.timing
        stages = {
            "decode": decode_ms + timing.decode_ms,
            "detect": timing.detect_ms,
            "crop": timing.crop_ms,
            "network": timing.network_ms,
            "post": timing.post_ms + steps.post_ms,
        }
        processing = decode_ms + (time.perf_counter() - t0) * 1e3
        shown, tracked = steps.shown, steps.tracked
        return FrameResult(shown, tracked, intrinsics, processing, stages)


def make_estimator(p: PipelineParams) -> Any:
    """The node's estimator for these parameters (same threads and detector options)."""
    import cv2

    from ldl_pose_ros.core.estimator import HeadPoseEstimator
    from ldl_pose_ros.model.runner import default_threads

    threads = int(p.threads) or default_threads()
    cv2.setNumThreads(threads)
    options = {"tiles": int(p.detector_tiles)} if p.detector == "mediapipe" else None
    est = HeadPoseEstimator(
        weights=p.weights or None,
        device=p.device,
        backend=p.backend,
        detector=p.detector,
        detector_model=p.detector_model or None,
        score_threshold=float(p.score_threshold),
        max_faces=int(p.max_faces),
        min_face_size=float(p.min_face_size),
        threads=threads,
        max_megapixels=float(p.max_image_megapixels),
        detector_options=options,
    )
    # The node's warm-up, so that the first frame's time is not the runtime's start-up.
    est.estimate(np.zeros((64, 64, 3), np.uint8))
    est.estimate_boxes(np.zeros((64, 64, 3), np.uint8), [[8.0, 8.0, 56.0, 56.0]])
    return est


def make_tracker(p: PipelineParams) -> Any:
    """The node's ``FaceTracker`` for these parameters."""
    from ldl_pose_ros.core.tracking import FaceTracker

    return FaceTracker(
        iou_threshold=float(p.track_iou_threshold),
        max_center_dist=float(p.track_max_center_dist),
        confirm_frames=int(p.confirm_frames),
        max_misses=int(p.max_misses),
        tracking=bool(p.tracking),
        smoothing=bool(p.smoothing),
        rotation_min_cutoff=float(p.rotation_min_cutoff),
        rotation_beta=float(p.rotation_beta),
        position_min_cutoff=float(p.position_min_cutoff),
        position_beta=float(p.position_beta),
        d_cutoff=float(p.derivative_cutoff),
    )
