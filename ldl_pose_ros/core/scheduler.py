# Copyright 2026 The ldl_pose_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""Several cameras on one estimator: newest frame per camera, one network batch (no ROS).

:class:`LatestFrames` holds one slot per camera.  Whoever receives a camera's frames
(a subscription callback) puts each one into its camera's slot: a frame that replaces
one not taken yet is dropped (latest frame wins, per camera).  One worker takes every
waiting frame at once, decodes them, and hands them to :class:`BatchScheduler`:

1. detection, per frame (``HeadPoseEstimator.detect_frame``);
2. the crops of all frames' faces through the network in ONE batch
   (``HeadPoseEstimator.estimate_detected``);
3. per camera, its own :class:`~ldl_pose_ros.core.pipeline.FramePipeline` (camera
   model, tracker, ids): placement, tracking and the frame's outputs.

A camera without a new frame is simply not in the batch: nothing waits for a stalled
camera.  Bad input of one camera (an undecodable image, a refused image size) is that
camera's result; the others are processed as usual.  Steps 1 and 2-3 are separate
methods (:meth:`BatchScheduler.detect`, :meth:`BatchScheduler.finish`) so that a
caller can overlap them: the detection of the next round while this round's batch
runs and publishes.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Generic, Protocol, TypeVar

import numpy as np

from ldl_pose_ros.core.estimator import DetectedFrame
from ldl_pose_ros.core.faces import FacePrediction
from ldl_pose_ros.core.outputs import FrameOutputs
from ldl_pose_ros.core.pipeline import FramePipeline

T = TypeVar("T")


class LatestFrames(Generic[T]):
    """One newest-item slot per camera, filled by receivers and emptied by one worker."""

    def __init__(self, cameras: int) -> None:
        self._cond = threading.Condition()
        self._slots: list[T | None] = [None] * cameras
        self._closed = False

    def put(self, camera: int, item: T) -> bool:
        """Store ``item`` as the camera's newest; True if it replaced one not taken (dropped)."""
        with self._cond:
            replaced = self._slots[camera] is not None
            self._slots[camera] = item
            self._cond.notify()
        return replaced

    def take(self, timeout: float) -> list[tuple[int, T]]:
        """Every waiting item as ``(camera, item)``, in camera order; waits up to ``timeout`` s.

        Returns an empty list on timeout or once :meth:`close` was called.
        """
        deadline = time.monotonic() + timeout
        with self._cond:
            while not self._closed:
                taken = [(i, x) for i, x in enumerate(self._slots) if x is not None]
                if taken:
                    self._slots = [None] * len(self._slots)
                    return taken
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                self._cond.wait(left)
            return []

    def close(self) -> None:
        """Wake the worker; :meth:`take` returns nothing until :meth:`open`."""
        with self._cond:
            self._closed = True
            self._cond.notify_all()

    def open(self) -> None:
        """Serve again after :meth:`close`, with empty slots."""
        with self._cond:
            self._slots = [None] * len(self._slots)
            self._closed = False


@dataclass(frozen=True)
class DecodedFrame:
    """One camera's image as the scheduler takes it.

    ``color``: ``'bgr'`` or ``'rgb'`` (as ``HeadPoseEstimator``); ``stamp_s``: when it
    was taken; ``decode_ms``: the caller's decoding time (reported in the decode stage).
    """

    image: np.ndarray
    color: str
    stamp_s: float
    decode_ms: float = 0.0


class BatchEstimator(Protocol):
    """The two halves of an estimator that the scheduler calls (``HeadPoseEstimator``)."""

    def detect_frame(self, image: np.ndarray, color: str = "bgr") -> DetectedFrame:
        """Checks, colour conversion and detection of one image."""

    def estimate_detected(self, frames: Sequence[DetectedFrame]) -> list[list[FacePrediction]]:
        """The faces of all frames through the network in one batch."""


@dataclass(frozen=True)
class Detected:
    """A camera's frame after stage 1: the decoded frame and its detected faces."""

    frame: DecodedFrame
    faces: DetectedFrame


@dataclass(frozen=True)
class CameraResult:
    """What one camera's frame gave: its outputs, or the error that stopped it.

    ``batch_frames``: the frames whose faces shared the network call (0: none ran).
    """

    camera: int
    outputs: FrameOutputs | None = None
    error: Exception | None = None
    batch_frames: int = 0


class BatchScheduler:
    """Runs the frames of several cameras through one estimator (see the module docstring).

    ``pipelines[i]`` is camera ``i``'s (its own camera model, tracker and id prefix).
    The two stages may run in two threads, one round after the other (a pipeline):
    :meth:`detect` for round ``k + 1`` while :meth:`finish` runs round ``k``; each stage
    is called from one thread at a time.  :meth:`process` runs both.
    """

    def __init__(self, estimator: BatchEstimator, pipelines: Sequence[FramePipeline]) -> None:
        self.estimator = estimator
        self.pipelines = list(pipelines)

    def process(self, frames: Mapping[int, DecodedFrame]) -> list[CameraResult]:
        """One result per camera of ``frames`` (camera order); the network runs once."""
        detected, errors = self.detect(frames)
        return sorted([CameraResult(c, error=e) for c, e in errors.items()]
                      + self.finish(detected), key=lambda r: r.camera)

    def detect(self, frames: Mapping[int, DecodedFrame]
               ) -> tuple[dict[int, Detected], dict[int, Exception]]:
        """Stage 1, each frame on its own: checks, colour, detection.

        Returns the detected frames and, apart, the error of each camera whose frame
        could not be used (its bad input; the others go on).
        """
        detected: dict[int, Detected] = {}
        errors: dict[int, Exception] = {}
        for cam in sorted(frames):
            f = frames[cam]
            try:
                detected[cam] = Detected(f, self.estimator.detect_frame(f.image, f.color))
            except Exception as exc:  # noqa: BLE001 - ImageError and others: this camera's
                errors[cam] = exc
        return detected, errors

    def finish(self, detected: Mapping[int, Detected]) -> list[CameraResult]:
        """Stage 2: all faces in ONE network batch, then each camera's outputs.

        Per camera (camera order): placement, tracking and the frame's outputs.  An
        error of the network itself (no camera's fault) is every camera's of the batch;
        an error in one camera's pipeline is that camera's only.
        """
        cams = sorted(detected)
        n = len(cams)
        try:
            predictions = self.estimator.estimate_detected([detected[c].faces for c in cams])
        except Exception as exc:  # noqa: BLE001 - reported for every camera of the batch
            return [CameraResult(c, error=exc, batch_frames=n) for c in cams]
        results = []
        for cam, preds in zip(cams, predictions, strict=True):
            f, d = detected[cam].frame, detected[cam].faces
            height, width = f.image.shape[:2]
            try:
                out = self.pipelines[cam].finish(preds, d.timing, f.stamp_s, (width, height),
                                                 f.decode_ms)
            except Exception as exc:  # noqa: BLE001 - this camera's failure only
                results.append(CameraResult(cam, error=exc, batch_frames=n))
            else:
                results.append(CameraResult(cam, outputs=out, batch_frames=n))
        return results
