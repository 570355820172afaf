# Copyright 2026 The ldl_pose_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""The node's cameras and the worker that serves them all with one estimator.

:class:`CameraGroup` makes one :class:`~ldl_pose_ros.ros.camera_stream.CameraStream`
per camera -- the node's own topics (``image``, ``head_poses``, ...) when the
``cameras`` parameter is empty, else ``<camera>/image``, ``<camera>/head_poses``, ...
for each listed camera -- and two worker threads, a two-stage pipeline over
``core.scheduler.BatchScheduler``:

1. the *detector* takes the newest frame of every camera that has one
   (``core.scheduler.LatestFrames``: latest frame wins, per camera), decodes them and
   detects their faces: one round;
2. the *publisher* runs a round's faces through the network in one batch, tracks them
   per camera and has each camera publish its own outputs; with ``hri_enabled`` the
   ROS4HRI topics follow (``ldl_pose_ros.ros.hri``).

The detector hands over one round at a time and waits while the publisher is still
busy with the previous one (new frames meanwhile replace older ones in the slots), so
detection of round ``k + 1`` overlaps the batch and publishing of round ``k``.

Each camera keeps its own camera model, tracker, face ids (``core.face_ids``),
counters and diagnostics status.  Bad input of a camera is counted and logged by that
camera; a camera without frames only leaves the batches smaller.
"""

from __future__ import annotations

import functools
import queue
import threading
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

from diagnostic_msgs.msg import DiagnosticStatus
from rclpy.node import Node

from ldl_pose_ros.core.face_ids import id_prefixes
from ldl_pose_ros.core.imaging import ImageError
from ldl_pose_ros.core.pipeline import build_tracker
from ldl_pose_ros.core.scheduler import BatchScheduler, DecodedFrame, Detected, LatestFrames
from ldl_pose_ros.ros.camera_stream import CameraStream, Frame, InputMessage
from ldl_pose_ros.ros.hri import HriFaces

if TYPE_CHECKING:
    from ldl_pose_ros.core.estimator import HeadPoseEstimator
    from ldl_pose_ros.core.params import Params
    from ldl_pose_ros.ros.tf_broadcast import TfBroadcaster


def error_kind(exc: Exception) -> str:
    """The bad-input kind of an exception met while processing a frame."""
    return getattr(exc, "kind", "size") if isinstance(exc, ImageError) else "processing"


def error_text(exc: Exception) -> str:
    """Its message for the log and the diagnostics."""
    return str(exc) if isinstance(exc, ImageError) else f"{type(exc).__name__}: {exc}"


@dataclass(frozen=True)
class _Round:
    """Frames detected together, on their way to the network batch."""

    detected: dict[int, Detected]
    messages: dict[int, InputMessage]
    started: float  # time.perf_counter() when their work began


class CameraGroup:
    """The node's cameras, their frames' slots and the workers (see the module docstring).

    Lifecycle: made at configure (publishers, pipelines, ROS4HRI outputs);
    :meth:`activate` subscribes and starts the workers, :meth:`deactivate` stops them
    and unsubscribes, :meth:`destroy` removes the publishers (cleanup).
    """

    def __init__(self, node: Node, estimator: HeadPoseEstimator, params: Params,
                 tf: TfBroadcaster | None) -> None:
        self.node = node
        cameras = params.transport.cameras
        prefixes = id_prefixes(cameras, params.hri.hri_enabled)
        self.frames: LatestFrames[Frame] = LatestFrames(len(prefixes))
        self.streams = [
            CameraStream(node, estimator, params, tf, functools.partial(self.frames.put, i),
                         camera=name, id_prefix=prefix)
            for i, (name, prefix) in enumerate(zip(cameras or ("",), prefixes, strict=True))]
        self.scheduler = BatchScheduler(estimator, [s.pipeline for s in self.streams])
        self.hri = HriFaces.create(node, len(self.streams)) if params.hri.hri_enabled else None
        self.hri_state = ("disabled" if not params.hri.hri_enabled else
                          "enabled" if self.hri is not None else "hri_msgs missing")
        self._stop = threading.Event()
        self._rounds: queue.Queue[_Round] = queue.Queue(maxsize=1)
        self._workers: list[threading.Thread] = []

    @property
    def running(self) -> bool:
        """Both workers run."""
        return bool(self._workers) and all(w.is_alive() for w in self._workers)

    @property
    def input_topics(self) -> list[str]:
        """The resolved image topics (subscribed ones only)."""
        return [s.sub_image.topic for s in self.streams if s.sub_image is not None]

    def use_estimator(self, estimator: HeadPoseEstimator | None) -> None:
        """The node's estimator, or ``None`` while it is released (inactive: no frames)."""
        self.scheduler.estimator = estimator  # type: ignore[assignment]
        for s in self.streams:
            s.use_estimator(estimator)

    def activate(self) -> None:
        """Subscribe every camera and start the workers."""
        for s in self.streams:
            s.activate()
        self._start()

    def deactivate(self) -> None:
        """Stop the workers (after their current round) and unsubscribe every camera."""
        self._stop_workers()
        for s in self.streams:
            s.deactivate()

    def destroy(self) -> None:
        """Remove every output (after :meth:`deactivate`)."""
        for s in self.streams:
            s.destroy()
        if self.hri is not None:
            self.hri.destroy()

    def _start(self) -> None:
        self._stop_workers()
        self._stop.clear()
        self.frames.open()
        self._workers = [
            threading.Thread(target=self._detect_rounds, name="ldl_pose_detect", daemon=True),
            threading.Thread(target=self._publish_rounds, name="ldl_pose_publish", daemon=True)]
        for w in self._workers:
            w.start()

    def _stop_workers(self) -> None:
        self._stop.set()
        self.frames.close()
        for w in self._workers:
            if w.is_alive() and threading.current_thread() is not w:
                w.join(timeout=10.0)
        self._workers = []
        while not self._rounds.empty():  # a round detected but not published: dropped
            self._rounds.get_nowait()

    def apply(self, params: Params) -> None:
        """Use ``params`` in every camera from its next frame on; all or nothing.

        Raises ``ValueError`` (and changes nothing) for a value a component refuses.
        """
        if params.tracking != self.streams[0].pipeline.params.tracking:
            build_tracker(params)  # the one part that may refuse: check before any change
        for s in self.streams:
            s.pipeline.apply(params)

    def statuses(self, node_name: str, active: bool, info: dict[str, str]
                 ) -> list[DiagnosticStatus]:
        """One diagnostics status per camera (``<node>: head pose``, ``... (<camera>)``).

        ``active``: the node is active (lifecycle); ``info``: the node's own values.
        """
        hri = {"hri": self.hri_state} if self.hri_state != "disabled" else {}
        if self.hri is not None:
            hri["hri_faces_tracked"] = str(self.hri.tracked)
        out = []
        for s in self.streams:
            name = f"{node_name}: head pose" + (f" ({s.camera})" if s.camera else "")
            extra = {"camera_namespace": s.camera} if s.camera else {}
            out.append(s.status(name, active, self.running, {**info, **extra, **hri}))
        return out

    # -- the workers ------------------------------------------------------------------------

    def _detect_rounds(self) -> None:
        """Stage 1: newest frames -> decoded -> detected, one round at a time."""
        while not self._stop.is_set():
            taken = self.frames.take(0.5)
            if not taken:
                continue
            started = time.perf_counter()
            decoded: dict[int, DecodedFrame] = {}
            for cam, (msg, received) in taken:
                try:
                    decoded[cam] = self.streams[cam].decode(msg, received)
                except Exception as exc:  # noqa: BLE001 - this camera's bad input
                    self.streams[cam].bad_input(error_kind(exc), error_text(exc))
            detected, errors = self.scheduler.detect(decoded)
            for cam, error in errors.items():
                self.streams[cam].bad_input(error_kind(error), error_text(error))
            if not detected:
                continue
            messages = {cam: msg for cam, (msg, _) in taken if cam in detected}
            work = _Round(detected, messages, started)
            while not self._stop.is_set():
                try:
                    self._rounds.put(work, timeout=0.5)  # waits while a round is published
                    break
                except queue.Full:
                    continue

    def _publish_rounds(self) -> None:
        """Stage 2: one network batch per round, then each camera's outputs."""
        while not self._stop.is_set():
            try:
                work = self._rounds.get(timeout=0.5)
            except queue.Empty:
                continue
            for result in self.scheduler.finish(work.detected):
                stream = self.streams[result.camera]
                msg, frame = work.messages[result.camera], work.detected[result.camera].frame
                try:
                    if result.error is not None:
                        raise result.error
                    assert result.outputs is not None
                    stream.publish_result(msg, frame, result.outputs, work.started)
                    if self.hri is not None:
                        self.hri.publish(result.camera, msg.header, frame, result.outputs,
                                         stream.pipeline.params.hri.hri_face_size)
                except Exception as exc:  # noqa: BLE001 - keep serving whatever happens
                    if self._stop.is_set() or not self.node.context.ok():
                        return
                    stream.bad_input(error_kind(exc), error_text(exc))
