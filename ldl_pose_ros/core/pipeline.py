# Copyright 2026 The ldl_pose_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""One camera's per-frame processing, up to everything a frame publishes (no ROS).

:class:`FramePipeline` is the one implementation behind the node and
``ldl-pose bag evaluate``.  For one decoded image taken at ``stamp_s`` it

1. runs the estimator (detection, crops, one network batch): :class:`FacePrediction`;
2. gets the image's intrinsics from its :class:`~ldl_pose_ros.core.camera.CameraModel`;
3. places each face in the camera (``core.placement``: ray-corrected rotation,
   position between the eyes): :class:`PlacedFace`;
4. tracks and smooths them at the stamp (``core.tracking``): :class:`FaceTrack`;
5. returns :class:`~ldl_pose_ros.core.outputs.FrameOutputs`: the tracks that are
   published (confirmed, or all with ``publish_unconfirmed``) ordered by id, their
   public ids (``core.face_ids``: the track number behind the camera's ``id_prefix``),
   their ``face_<id>`` / ``gaze_<id>`` child frames, the primary face (largest box)
   with its covariance, the camera used and the stage times.

The doors only turn these into messages (``ldl_pose_ros.ros.messages`` with rclpy,
``ldl_pose_ros.bag.messages`` with the rosbags typestore) and publish or write them.

One pipeline per camera: the estimator may be shared (it is stateless between
frames); the camera model and the tracker are the camera's own.  A caller that
batches the network over several cameras can run the estimator itself and hand
each camera's predictions to :meth:`FramePipeline.finish` (``core.scheduler``).
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

import numpy as np

from ldl_pose_ros.core import geometry
from ldl_pose_ros.core.camera import CameraModel
from ldl_pose_ros.core.face_ids import face_id
from ldl_pose_ros.core.faces import FacePrediction
from ldl_pose_ros.core.outputs import ChildFrame, FrameOutputs, PrimaryFace, StageTimes
from ldl_pose_ros.core.params import DEFAULTS, DetectionParams, Params
from ldl_pose_ros.core.placement import place_faces, pose_covariance

if TYPE_CHECKING:
    from ldl_pose_ros.core.estimator import HeadPoseEstimator, StageTiming
    from ldl_pose_ros.core.protocols import Estimator, Tracker
    from ldl_pose_ros.core.tracking import FaceTracker

__all__ = ["FrameOutputs", "FramePipeline", "build_estimator", "build_tracker",
           "set_detection_filters"]


def build_estimator(params: Params = DEFAULTS, warm_up: bool = True) -> HeadPoseEstimator:
    """The estimator of these parameters (network threads, detector and its options).

    Sets OpenCV's thread count to the same number.  The node detects one frame while
    the network runs on the previous one, so where the network's threads take every
    core its thread pool does not spin between calls (it would hold the detector's
    core).  With ``warm_up`` one detection and one network call are run, so that the
    first frame is not slow.
    """
    import cv2

    from ldl_pose_ros.core.estimator import HeadPoseEstimator
    from ldl_pose_ros.model.runner import default_threads, usable_cpus

    m, d = params.model, params.detection
    threads = m.threads or default_threads()
    cv2.setNumThreads(threads)  # small per-frame ops: no oversized thread pool
    est = HeadPoseEstimator(
        weights=m.weights or None, device=m.device, backend=m.backend, detector=d.detector,
        detector_model=d.detector_model or None, score_threshold=d.score_threshold,
        max_faces=d.max_faces, min_face_size=d.min_face_size, threads=threads,
        max_megapixels=d.max_image_megapixels,
        detector_options=_detector_options(d), mirror_average=m.mirror_average,
        spinning=threads < usable_cpus(),
    )
    if warm_up:
        est.estimate(np.zeros((64, 64, 3), np.uint8))
        est.estimate_boxes(np.zeros((64, 64, 3), np.uint8), [[8.0, 8.0, 56.0, 56.0]])
    return est


def _detector_options(d: DetectionParams) -> dict[str, int] | None:
    """Backend-specific detector arguments of the detection parameters."""
    if d.detector == "mediapipe":
        return {"tiles": d.detector_tiles}
    if d.detector == "yunet":
        return {"max_side": d.detector_max_side}
    return None


def build_tracker(params: Params = DEFAULTS) -> FaceTracker:
    """The :class:`~ldl_pose_ros.core.tracking.FaceTracker` of these parameters."""
    from ldl_pose_ros.core.tracking import FaceTracker

    t = params.tracking
    return FaceTracker(
        iou_threshold=t.track_iou_threshold, max_center_dist=t.track_max_center_dist,
        confirm_frames=t.confirm_frames, max_misses=t.max_misses, tracking=t.tracking,
        smoothing=t.smoothing, rotation_min_cutoff=t.rotation_min_cutoff,
        rotation_beta=t.rotation_beta, position_min_cutoff=t.position_min_cutoff,
        position_beta=t.position_beta, d_cutoff=t.derivative_cutoff,
    )


def set_detection_filters(estimator: HeadPoseEstimator, params: Params) -> None:
    """Apply the run-time detection filters (``max_faces``, ``min_face_size``, image limit)."""
    d = params.detection
    estimator.max_faces = d.max_faces
    estimator.min_face_size = float(d.min_face_size)
    estimator.max_megapixels = d.max_image_megapixels


class FramePipeline:
    """Estimator, camera model and tracker of one camera, frame by frame.

    :meth:`apply` takes run-time parameter changes from another thread: the
    settings and the tracker are swapped as one reference between frames (a
    change of a tracking parameter restarts the tracks).  ``id_prefix`` is put
    before the track numbers in the published ids (``core.face_ids``).
    """

    def __init__(self, estimator: Estimator, params: Params = DEFAULTS,
                 tracker: Tracker | None = None, camera: CameraModel | None = None,
                 id_prefix: str = "") -> None:
        self.estimator = estimator
        self.id_prefix = id_prefix
        g = params.geometry
        self.camera = camera or CameraModel(g.use_rectified, g.default_hfov_deg)
        self._state: tuple[Params, Tracker] = (params, tracker or build_tracker(params))

    @classmethod
    def from_params(cls, params: Params = DEFAULTS,
                    estimator: Estimator | None = None) -> FramePipeline:
        """A pipeline with these parameters (and a new estimator unless one is given)."""
        return cls(estimator if estimator is not None else build_estimator(params), params)

    @property
    def params(self) -> Params:
        """The parameters in use."""
        return self._state[0]

    @property
    def tracker(self) -> Tracker:
        """The camera's tracker."""
        return self._state[1]

    def apply(self, params: Params) -> None:
        """Use ``params`` from the next frame on (a new tracker if its parameters changed)."""
        old, tracker = self._state
        if params.tracking != old.tracking:
            tracker = build_tracker(params)
        self.camera.configure(params.geometry.use_rectified, params.geometry.default_hfov_deg)
        self._state = (params, tracker)

    def process(self, image: np.ndarray, color: str, stamp_s: float,
                decode_ms: float = 0.0) -> FrameOutputs:
        """Everything frame ``image`` (taken at ``stamp_s``) publishes.

        ``decode_ms`` is the caller's decoding time, reported in the decode stage.
        Raises ``ImageError`` for an unusable image (bad input: nothing changes).
        """
        predictions, timing = self.estimator.estimate_timed(image, color)
        height, width = image.shape[:2]
        return self.finish(predictions, timing, stamp_s, (width, height), decode_ms)

    def finish(self, predictions: list[FacePrediction], timing: StageTiming, stamp_s: float,
               image_size: tuple[int, int], decode_ms: float = 0.0) -> FrameOutputs:
        """Steps 2-5 of the module docstring for the estimator's output on one image."""
        t0 = time.perf_counter()
        params, tracker = self._state
        g, out = params.geometry, params.output
        view = self.camera.view(*image_size)
        placed = place_faces(predictions, view.intrinsics, ray_correction=g.ray_correction,
                             face_width_m=g.face_width_m)
        tracks = tuple(tracker.update(placed, stamp_s))
        shown = tuple(sorted((t for t in tracks if t.confirmed or out.publish_unconfirmed),
                             key=lambda t: t.track_id))
        ids = tuple(face_id(self.id_prefix, t.track_id) for t in shown)
        frames: list[ChildFrame] = []
        for t, fid in zip(shown, ids, strict=True):
            frames.append(ChildFrame(f"{out.face_frame_prefix}{fid}", t.position, t.rotation))
            frames.append(ChildFrame(f"{out.gaze_frame_prefix}{fid}", t.position,
                                     geometry.gaze_rotation_from_face(t.rotation)))
        primary = None
        if shown:
            largest = max(shown, key=lambda t: t.prediction.area)
            cov = pose_covariance(largest.position, largest.rotation, largest.stds,
                                  view.intrinsics.fx, g.rel_depth_std)
            primary = PrimaryFace(largest, cov)
        post_ms = (time.perf_counter() - t0) * 1e3
        times = StageTimes(decode_ms + timing.decode_ms, timing.detect_ms, timing.crop_ms,
                           timing.network_ms, timing.post_ms + post_ms)
        return FrameOutputs(shown, tracks, tuple(frames), primary, view, times, ids,
                            refused=timing.refused)
