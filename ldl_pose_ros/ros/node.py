# Copyright 2026 The ldl_pose_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""``ldl_pose_node``: head poses, TF frames, markers and diagnostics from a camera stream.

Subscriptions (relative names; remap them)
    ``image`` (sensor_msgs/Image) or, with ``use_compressed``, ``image/compressed``
    (sensor_msgs/CompressedImage); ``camera_info`` (sensor_msgs/CameraInfo).
    QoS: best effort, keep last ``qos_depth`` (1) by default; reliable with
    ``qos_reliability:=reliable``.

Publications (every header is the input image's header: stamp and frame_id)
    ``head_poses`` (geometry_msgs/PoseArray, faces ordered by id),
    ``primary_head_pose`` (geometry_msgs/PoseWithCovarianceStamped of the largest
    face; covariance as documented in ``ldl_pose_ros.core.camera``), ``markers``
    (visualization_msgs/MarkerArray: gaze arrow + id/angle label per face, with a
    lifetime), ``image_annotated`` (sensor_msgs/Image bgr8, computed only while
    subscribed), TF ``<face_frame_prefix><id>`` and ``<gaze_frame_prefix><id>``
    children of the image frame, and ``/diagnostics``.

Threading: the image callback only stores the newest message (latest frame
wins; a frame replaced before the worker took it counts as dropped); one worker
thread converts, infers, tracks and publishes, so the executor never waits on
the network.  SIGINT/SIGTERM: the worker finishes its frame, the node is
destroyed, ROS shut down and the process ends without the interpreter's slow
teardown (well within 2 s); more signals during that are ignored.  Thread
counts are fixed for the machine at start-up (network intra-op threads:
parameter ``threads``, 0 = ``default_threads()``; OpenCV the same).
Diagnostics report the median time of each stage (decode, detect, crop,
network, post, publish), the latency and the node's resident memory.
Without camera_info the node uses a nominal pinhole camera
(``default_hfov_deg``, see ``ldl_pose_ros.core.camera``) and says so once.
Bad input (unsupported encoding, wrong sizes, truncated data, huge or
undecodable images, unusable camera_info) is logged (throttled), counted in
the diagnostics and skipped.  Parameters are described in ``PARAMETERS``
(``ros2 param describe``); read-only ones need a restart, the others are
checked by a parameter callback that refuses invalid values with a reason.
"""

from __future__ import annotations

import contextlib
import logging
import math
import os
import re
import signal
import sys
import threading
import time
from collections import deque
from dataclasses import dataclass
from typing import Any

import numpy as np
import rclpy
from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus, KeyValue
from geometry_msgs.msg import PoseArray, PoseWithCovarianceStamped
from rcl_interfaces.msg import (
    FloatingPointRange,
    IntegerRange,
    ParameterDescriptor,
    SetParametersResult,
)
from rclpy.executors import SingleThreadedExecutor
from rclpy.logging import get_logger
from rclpy.node import Node
from rclpy.parameter import Parameter
from rclpy.qos import DurabilityPolicy, HistoryPolicy, QoSProfile, ReliabilityPolicy
from sensor_msgs.msg import CameraInfo, CompressedImage, Image
from visualization_msgs.msg import MarkerArray

from ldl_pose_ros.core import geometry
from ldl_pose_ros.core.camera import (
    CameraIntrinsics,
    IntrinsicsError,
    nominal_intrinsics,
    pose_covariance,
)
from ldl_pose_ros.core.imaging import ImageError, to_bgr
from ldl_pose_ros.core.pipeline import track_frame
from ldl_pose_ros.ros import conversions as conv

try:  # rclpy >= Humble
    from rclpy.executors import ExternalShutdownException
except ImportError:  # pragma: no cover
    ExternalShutdownException = RuntimeError  # type: ignore[misc,assignment]

NODE_NAME = "ldl_pose_node"
DEVICE_RE = re.compile(r"^(auto|cpu|cuda(:\d+)?)$")
FRAME_PREFIX_RE = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_./-]*$")
BAD_INPUT_KINDS = ("encoding", "size", "too_large", "decode", "camera_info", "processing")
BAD_INPUT_LOG_PERIOD_S = 5.0
#: Pipeline stages timed per frame and reported (window medians) in the diagnostics.
STAGES = ("decode", "detect", "crop", "network", "post", "publish")


@dataclass(frozen=True)
class ParamSpec:
    """One node parameter: default, description, range or choices, and whether it is read-only."""

    name: str
    default: Any
    description: str
    read_only: bool = False
    range: tuple[float, float] | None = None
    choices: tuple[str, ...] | None = None


PARAMETERS: tuple[ParamSpec, ...] = (
    # Model and detector: fixed for the node's life.
    ParamSpec("weights", "", "Checkpoint file; empty = the shipped default model.", True),
    ParamSpec("device", "auto", "Inference device: auto, cpu, cuda or cuda:N.", True),
    ParamSpec("backend", "auto", "Network backend: auto = onnx (ONNX Runtime) on CPU, torch "
              "(fp16) on CUDA.", True, choices=("auto", "torch", "onnx")),
    ParamSpec("threads", 0, "CPU threads for the network and OpenCV; 0 = chosen for the "
              "machine (cores - 1, at most 4).", True, (0, 64)),
    ParamSpec("detector", "mediapipe", "Face detector backend.", True,
              choices=("mediapipe", "yunet", "haar")),
    ParamSpec("detector_model", "", "Model file of the yunet (ONNX) or haar (XML) detector.",
              True),
    ParamSpec("detector_tiles", 1, "mediapipe only: also detect on an n x n grid of tiles "
              "(small faces in large frames) at 1 + n*n times the cost.", True, (1, 4)),
    ParamSpec("score_threshold", 0.5, "Minimum detector score.", True, (0.0, 1.0)),
    # Detection filters that can change at run time.
    ParamSpec("max_faces", 20, "At most this many faces per frame (best scores first).",
              range=(1, 100)),
    ParamSpec("min_face_size", 20, "Ignore faces whose shorter box side is below this (px).",
              range=(0, 4096)),
    ParamSpec("max_image_megapixels", 50.0, "Reject larger input images (bad input).",
              range=(0.01, 500.0)),
    # Tracking and smoothing (changing any of them restarts the tracks).
    ParamSpec("tracking", True, "Stable face ids across frames; off: ids are per-frame indices."),
    ParamSpec("track_iou_threshold", 0.3, "Min box IoU to continue a track.", range=(0.0, 1.0)),
    ParamSpec("track_max_center_dist", 0.5, "Or max centre distance, in track box sizes.",
              range=(0.0, 10.0)),
    ParamSpec("confirm_frames", 2, "Frames before a new face is published.", range=(1, 100)),
    ParamSpec("max_misses", 5, "Frames without a match before a face is dropped.",
              range=(1, 1000)),
    ParamSpec("smoothing", True, "One-Euro smoothing of rotation and position (needs tracking)."),
    ParamSpec("rotation_min_cutoff", 1.0, "One-Euro min cutoff of the rotation (Hz).",
              range=(0.01, 100.0)),
    ParamSpec("rotation_beta", 0.5, "One-Euro speed coefficient of the rotation (1/rad).",
              range=(0.0, 100.0)),
    ParamSpec("position_min_cutoff", 1.0, "One-Euro min cutoff of the position (Hz).",
              range=(0.01, 100.0)),
    ParamSpec("position_beta", 1.0, "One-Euro speed coefficient of the position (s/m).",
              range=(0.0, 100.0)),
    ParamSpec("derivative_cutoff", 1.0, "One-Euro cutoff of the speed estimate (Hz).",
              range=(0.01, 100.0)),
    # Geometry.
    ParamSpec("use_rectified", False, "Input is rectified: use camera_info P (no distortion) "
              "instead of K and D."),
    ParamSpec("ray_correction", True, "Rotate the predicted pose onto the camera ray through "
              "the face (the network sees a crop)."),
    ParamSpec("face_width_m", 0.15, "Nominal face width spanned by a detector box (m); sets "
              "the distance.", range=(0.05, 0.5)),
    ParamSpec("default_hfov_deg", 60.0, "Horizontal field of view assumed without camera_info.",
              range=(10.0, 170.0)),
    ParamSpec("rel_depth_std", 0.15, "Relative std of the distance (covariance model).",
              range=(0.0, 1.0)),
    # Outputs.
    ParamSpec("publish_tf", True, "Broadcast face_<id> and gaze_<id> frames."),
    ParamSpec("publish_pose_array", True, "Publish head_poses."),
    ParamSpec("publish_covariance", True, "Publish primary_head_pose with covariance."),
    ParamSpec("publish_markers", True, "Publish markers."),
    ParamSpec("publish_annotated", True, "Publish image_annotated (only while subscribed)."),
    ParamSpec("publish_unconfirmed", False, "Also publish faces not yet confirmed."),
    ParamSpec("face_frame_prefix", "face_", "TF child frame of a face: <prefix><id>."),
    ParamSpec("gaze_frame_prefix", "gaze_", "TF child frame of a gaze: <prefix><id>."),
    ParamSpec("marker_lifetime_s", 0.5, "Lifetime of the markers (s).", range=(0.01, 60.0)),
    ParamSpec("arrow_length_m", 0.25, "Length of the gaze arrow (m).", range=(0.01, 5.0)),
    # Transport.
    ParamSpec("use_compressed", False, "Subscribe to image/compressed instead of image.", True),
    ParamSpec("qos_reliability", "best_effort", "Input QoS reliability.", True,
              choices=("best_effort", "reliable")),
    ParamSpec("qos_depth", 1, "Input QoS history depth.", True, (1, 100)),
    ParamSpec("diagnostics_period_s", 1.0, "Period of /diagnostics.", True, (0.05, 60.0)),
)
SPECS = {p.name: p for p in PARAMETERS}
_TRACKER_KEYS = (
    "tracking", "track_iou_threshold", "track_max_center_dist", "confirm_frames", "max_misses",
    "smoothing", "rotation_min_cutoff", "rotation_beta", "position_min_cutoff", "position_beta",
    "derivative_cutoff",
)


def validate_parameters(values: dict[str, Any]) -> None:
    """Check a full parameter set beyond the descriptors' ranges; raise ``ValueError``."""
    for spec in PARAMETERS:
        v = values[spec.name]
        if spec.choices is not None and v not in spec.choices:
            raise ValueError(f"{spec.name} must be one of {list(spec.choices)}, got {v!r}")
        if spec.range is not None and not spec.range[0] <= v <= spec.range[1]:
            raise ValueError(f"{spec.name} must be in [{spec.range[0]}, {spec.range[1]}], got {v}")
        if isinstance(v, float) and not math.isfinite(v):
            raise ValueError(f"{spec.name} must be finite, got {v}")
    if not DEVICE_RE.match(values["device"]):
        raise ValueError(f"device must be auto, cpu, cuda or cuda:N, got {values['device']!r}")
    for key in ("face_frame_prefix", "gaze_frame_prefix"):
        if not FRAME_PREFIX_RE.match(values[key]):
            raise ValueError(
                f"{key} must be a non-empty TF frame name prefix (letters, digits, _ . / -, not "
                f"starting with '/'), got {values[key]!r}"
            )
    if values["face_frame_prefix"] == values["gaze_frame_prefix"]:
        raise ValueError("face_frame_prefix and gaze_frame_prefix must differ")
    if values["detector"] == "yunet" and not values["detector_model"]:
        raise ValueError("detector yunet needs detector_model (a YuNet ONNX file)")
    if values["detector"] == "mediapipe" and values["detector_model"]:
        raise ValueError("detector mediapipe takes no detector_model (its model ships inside)")


def _descriptor(spec: ParamSpec) -> ParameterDescriptor:
    d = ParameterDescriptor(name=spec.name, description=spec.description,
                            read_only=spec.read_only)
    if spec.choices is not None:
        d.additional_constraints = "one of: " + ", ".join(spec.choices)
    if spec.range is not None:
        lo, hi = spec.range
        if isinstance(spec.default, int) and not isinstance(spec.default, bool):
            d.integer_range = [IntegerRange(from_value=int(lo), to_value=int(hi), step=1)]
        else:
            d.floating_point_range = [
                FloatingPointRange(from_value=float(lo), to_value=float(hi), step=0.0)
            ]
    return d


class _Stats:
    """Counters shared by the callbacks, the worker and the diagnostics timer."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.received = 0
        self.processed = 0
        self.dropped = 0
        self.bad = dict.fromkeys(BAD_INPUT_KINDS, 0)
        self.last_bad = ""
        self.faces = 0
        self.annotated = 0
        self.latencies_ms: deque[float] = deque(maxlen=1000)
        self.infer_ms: deque[float] = deque(maxlen=1000)
        self.stage_ms: dict[str, deque[float]] = {k: deque(maxlen=1000) for k in STAGES}
        self.window_received = 0
        self.window_processed = 0
        self.window_start = time.monotonic()


class HeadPoseNode(Node):
    """The head-pose node (see the module docstring)."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(NODE_NAME, **kwargs)
        for spec in PARAMETERS:
            self.declare_parameter(spec.name, spec.default, _descriptor(spec))
        values = {spec.name: self.get_parameter(spec.name).value for spec in PARAMETERS}
        validate_parameters(values)
        self._values = values
        self._stats = _Stats()
        self._cond = threading.Condition()
        self._pending: tuple[Any, float] | None = None
        self._stop = threading.Event()
        self._camera_info: CameraInfo | None = None
        self._intrinsics_cache: tuple[CameraInfo, bool, int, int, CameraIntrinsics] | None = None
        self._camera_status = "no camera_info yet: nominal intrinsics"
        self._last_warned: dict[str, float] = {}
        self._warned_no_info = False

        self._estimator = self._make_estimator(values)
        self._tracker = self._make_tracker(values)

        out_qos = QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE,
                             durability=DurabilityPolicy.VOLATILE)
        self._pub_poses = self.create_publisher(PoseArray, "head_poses", out_qos)
        self._pub_primary = self.create_publisher(
            PoseWithCovarianceStamped, "primary_head_pose", out_qos
        )
        self._pub_markers = self.create_publisher(MarkerArray, "markers", out_qos)
        self._pub_annotated = self.create_publisher(
            Image, "image_annotated",
            QoSProfile(depth=1, reliability=ReliabilityPolicy.RELIABLE),
        )
        self._pub_diag = self.create_publisher(DiagnosticArray, "/diagnostics", 10)
        self._tf = None
        try:
            from ldl_pose_ros.ros.tf_broadcast import TfBroadcaster

            self._tf = TfBroadcaster(self)
        except ImportError as exc:
            self.get_logger().warning(f"TF disabled: {exc}")

        in_qos = QoSProfile(
            history=HistoryPolicy.KEEP_LAST,
            depth=int(values["qos_depth"]),
            reliability=(ReliabilityPolicy.RELIABLE if values["qos_reliability"] == "reliable"
                         else ReliabilityPolicy.BEST_EFFORT),
            durability=DurabilityPolicy.VOLATILE,
        )
        if values["use_compressed"]:
            self._sub_image = self.create_subscription(
                CompressedImage, "image/compressed", self._on_image, in_qos
            )
        else:
            self._sub_image = self.create_subscription(Image, "image", self._on_image, in_qos)
        self._sub_info = self.create_subscription(
            CameraInfo, "camera_info", self._on_camera_info, in_qos
        )
        self._diag_timer = self.create_timer(
            float(values["diagnostics_period_s"]), self._publish_diagnostics
        )
        self.add_on_set_parameters_callback(self._on_set_parameters)
        self._worker = threading.Thread(target=self._worker_loop, name="ldl_pose_worker",
                                        daemon=True)
        self._worker.start()
        self.get_logger().info(
            f"ready: input {self._sub_image.topic_name} ({values['qos_reliability']}); model "
            f"{self._estimator.weights.name} on {self._estimator.device} "
            f"({self._estimator.backend}), detector {values['detector']}, "
            f"tf via {self._tf.backend if self._tf else 'none'}"
        )

    # -- construction helpers --------------------------------------------------------

    def _make_estimator(self, v: dict[str, Any]) -> Any:
        import cv2

        from ldl_pose_ros.core.estimator import HeadPoseEstimator  # imports torch: seconds
        from ldl_pose_ros.model.runner import default_threads

        threads = int(v["threads"]) or default_threads()
        cv2.setNumThreads(threads)  # small per-frame ops: no oversized thread pool
        options = {"tiles": int(v["detector_tiles"])} if v["detector"] == "mediapipe" else None
        est = HeadPoseEstimator(
            weights=v["weights"] or None,
            device=v["device"],
            backend=v["backend"],
            detector=v["detector"],
            detector_model=v["detector_model"] or None,
            score_threshold=float(v["score_threshold"]),
            max_faces=int(v["max_faces"]),
            min_face_size=float(v["min_face_size"]),
            threads=threads,
            max_megapixels=float(v["max_image_megapixels"]),
            detector_options=options,
        )
        # Warm up the detector and the network so that the first frame is not slow.
        est.estimate(np.zeros((64, 64, 3), np.uint8))
        est.estimate_boxes(np.zeros((64, 64, 3), np.uint8), [[8.0, 8.0, 56.0, 56.0]])
        return est

    @staticmethod
    def _make_tracker(v: dict[str, Any]) -> Any:
        from ldl_pose_ros.core.tracking import FaceTracker

        return FaceTracker(
            iou_threshold=float(v["track_iou_threshold"]),
            max_center_dist=float(v["track_max_center_dist"]),
            confirm_frames=int(v["confirm_frames"]),
            max_misses=int(v["max_misses"]),
            tracking=bool(v["tracking"]),
            smoothing=bool(v["smoothing"]),
            rotation_min_cutoff=float(v["rotation_min_cutoff"]),
            rotation_beta=float(v["rotation_beta"]),
            position_min_cutoff=float(v["position_min_cutoff"]),
            position_beta=float(v["position_beta"]),
            d_cutoff=float(v["derivative_cutoff"]),
        )

    # -- parameters ----------------------------------------------------------------------

    def _on_set_parameters(self, params: list[Parameter]) -> SetParametersResult:
        new = dict(self._values)
        for p in params:
            if p.name in SPECS:
                new[p.name] = p.value
        try:
            validate_parameters(new)
            tracker = (self._make_tracker(new)
                       if any(new[k] != self._values[k] for k in _TRACKER_KEYS) else None)
        except (ValueError, TypeError) as exc:
            return SetParametersResult(successful=False, reason=str(exc))
        with self._cond:
            if tracker is not None:
                self._tracker = tracker
            self._estimator.max_faces = int(new["max_faces"])
            self._estimator.min_face_size = float(new["min_face_size"])
            self._estimator.max_megapixels = float(new["max_image_megapixels"])
            if new["use_rectified"] != self._values["use_rectified"]:
                self._intrinsics_cache = None
            self._values = new
        return SetParametersResult(successful=True)

    # -- callbacks (executor thread: never block) ---------------------------------------

    def _on_image(self, msg: Image | CompressedImage) -> None:
        with self._cond:
            if self._pending is not None:
                with self._stats.lock:
                    self._stats.dropped += 1
            self._pending = (msg, time.monotonic())
            self._cond.notify()
        with self._stats.lock:
            self._stats.received += 1
            self._stats.window_received += 1

    def _on_camera_info(self, msg: CameraInfo) -> None:
        try:
            conv.camera_info_to_intrinsics(msg, bool(self._values["use_rectified"]))
        except IntrinsicsError as exc:
            self._count_bad("camera_info", f"{exc}; keeping the previous intrinsics")
            return
        with self._cond:
            self._camera_info = msg

    # -- worker ------------------------------------------------------------------------

    def _count_bad(self, kind: str, message: str) -> None:
        now = time.monotonic()
        with self._stats.lock:
            self._stats.bad[kind] += 1
            self._stats.last_bad = f"{kind}: {message}"
            count = self._stats.bad[kind]
            last = self._last_warned.get(kind)
            log = last is None or now - last >= BAD_INPUT_LOG_PERIOD_S
            if log:
                self._last_warned[kind] = now
        if log:  # throttled per kind, so one flood cannot hide another kind
            self.get_logger().warning(f"bad input ({kind}, {count} so far): {message}")

    def _worker_loop(self) -> None:
        while not self._stop.is_set():
            with self._cond:
                while self._pending is None and not self._stop.is_set():
                    self._cond.wait(0.5)
                if self._stop.is_set():
                    return
                msg, received = self._pending
                self._pending = None
                values, tracker = self._values, self._tracker
            try:
                self._process(msg, received, values, tracker)
            except ImageError as exc:
                self._count_bad(getattr(exc, "kind", "size"), str(exc))
            except Exception as exc:  # noqa: BLE001 - keep serving whatever happens
                if self._stop.is_set() or not self.context.ok():
                    return
                self._count_bad("processing", f"{type(exc).__name__}: {exc}")

    def _intrinsics(self, width: int, height: int, values: dict[str, Any]) -> CameraIntrinsics:
        rect = bool(values["use_rectified"])
        info = self._camera_info
        if info is None:
            self._camera_status = (
                f"no camera_info: nominal {values['default_hfov_deg']:g} deg HFOV intrinsics"
            )
            if not self._warned_no_info:  # (rclpy's once=True costs ~1 ms per call)
                self._warned_no_info = True
                self.get_logger().warning(
                    "no camera_info received: positions use a nominal pinhole camera with a "
                    f"{values['default_hfov_deg']:g} deg horizontal field of view"
                )
            return nominal_intrinsics(width, height, float(values["default_hfov_deg"]))
        cache = self._intrinsics_cache
        if cache is not None and cache[0] is info and cache[1:4] == (rect, width, height):
            return cache[4]
        try:
            intr = conv.camera_info_to_intrinsics(info, rect)
        except IntrinsicsError as exc:  # e.g. P unusable after use_rectified changed
            self._count_bad("camera_info", str(exc))
            return nominal_intrinsics(width, height, float(values["default_hfov_deg"]))
        if intr.width and (intr.width, intr.height) != (width, height):
            self.get_logger().warning(
                f"camera_info is for {intr.width}x{intr.height} but images are {width}x{height}: "
                "scaling the intrinsics",
                throttle_duration_sec=30.0,
            )
            intr = intr.scaled_to(width, height)
        self._camera_status = "camera_info " + ("P (rectified)" if rect else "K, D")
        self._intrinsics_cache = (info, rect, width, height, intr)
        return intr

    def _process(self, msg: Any, received: float, values: dict[str, Any], tracker: Any) -> None:
        t0 = time.perf_counter()
        max_pixels = int(float(values["max_image_megapixels"]) * 1e6)
        if isinstance(msg, CompressedImage):
            image, color = conv.compressed_to_array(msg, max_pixels)
        else:
            image, color = conv.image_to_array(msg, max_pixels)  # a view of msg.data
        height, width = image.shape[:2]
        intr = self._intrinsics(width, height, values)
        t_decoded = time.perf_counter()
        stamp = conv.stamp_to_seconds(msg.header.stamp)
        steps = track_frame(self._estimator, tracker, image, color,
                            stamp if stamp > 0 else received, intr,
                            ray_correction=bool(values["ray_correction"]),
                            face_width_m=float(values["face_width_m"]),
                            publish_unconfirmed=bool(values["publish_unconfirmed"]))
        shown, timing = steps.shown, steps.timing
        t_post = time.perf_counter()
        infer_ms = (t_post - t0) * 1e3
        self._publish(msg.header, image, color, shown, intr, values)
        stages = {
            "decode": (t_decoded - t0) * 1e3 + timing.decode_ms,
            "detect": timing.detect_ms,
            "crop": timing.crop_ms,
            "network": timing.network_ms,
            "post": timing.post_ms + steps.post_ms,
            "publish": (time.perf_counter() - t_post) * 1e3,
        }

        latency = None
        if stamp > 0:
            now = self.get_clock().now().nanoseconds * 1e-9
            latency = (now - stamp) * 1e3
        with self._stats.lock:
            self._stats.processed += 1
            self._stats.window_processed += 1
            self._stats.faces = len(shown)
            self._stats.infer_ms.append(infer_ms)
            for k, v in stages.items():
                self._stats.stage_ms[k].append(v)
            if latency is not None:
                self._stats.latencies_ms.append(latency)

    def _publish(self, header: Any, image: np.ndarray, color: str, shown: list,
                 intr: CameraIntrinsics, values: dict[str, Any]) -> None:
        header = conv.copy_header(header)
        if values["publish_pose_array"]:
            self._pub_poses.publish(conv.pose_array(
                header, [conv.make_pose(t.position, t.quaternion) for t in shown]
            ))
        if values["publish_tf"] and self._tf is not None and shown:
            if header.frame_id:
                transforms = []
                for t in shown:
                    transforms.append(conv.make_transform(
                        header, f"{values['face_frame_prefix']}{t.track_id}", t.position,
                        t.quaternion))
                    transforms.append(conv.make_transform(
                        header, f"{values['gaze_frame_prefix']}{t.track_id}", t.position,
                        conv.gaze_quaternion(t.quaternion)))
                self._tf.send(transforms)
            else:
                self.get_logger().warning("images have an empty frame_id: no TF published",
                                          throttle_duration_sec=30.0)
        if values["publish_markers"] and shown:
            markers = MarkerArray()
            for t in shown:
                markers.markers.extend(conv.face_markers(
                    header, t.track_id, t.position, t.quaternion,
                    conv.pose_label(t.track_id, t.face), float(values["marker_lifetime_s"]),
                    float(values["arrow_length_m"]),
                ))
            self._pub_markers.publish(markers)
        if values["publish_covariance"] and shown:
            primary = max(shown, key=lambda t: float(
                (t.face.box[2] - t.face.box[0]) * (t.face.box[3] - t.face.box[1])))
            rot = geometry.quaternion_to_matrix(primary.quaternion)
            cov = pose_covariance(primary.position, rot, primary.face.stds, intr.fx,
                                  float(values["rel_depth_std"]))
            self._pub_primary.publish(
                conv.pose_with_covariance(header, primary.position, primary.quaternion, cov)
            )
        if values["publish_annotated"] and self._pub_annotated.get_subscription_count() > 0:
            from ldl_pose_ros.core.annotate import draw_poses

            bgr = to_bgr(image, color)
            drawn = draw_poses(bgr, [t.face for t in shown], ids=[t.track_id for t in shown])
            self._pub_annotated.publish(conv.array_to_image(drawn, "bgr8", header))
            with self._stats.lock:
                self._stats.annotated += 1

    # -- diagnostics -------------------------------------------------------------------

    def _publish_diagnostics(self) -> None:
        s = self._stats
        now = time.monotonic()
        with s.lock:
            elapsed = max(now - s.window_start, 1e-6)
            in_rate = s.window_received / elapsed
            out_rate = s.window_processed / elapsed
            s.window_received = s.window_processed = 0
            s.window_start = now
            lat = list(s.latencies_ms)
            inf = list(s.infer_ms)
            stage = {k: list(d) for k, d in s.stage_ms.items()}
            s.latencies_ms.clear()
            s.infer_ms.clear()
            for d in s.stage_ms.values():
                d.clear()
            bad = dict(s.bad)
            counts = (s.received, s.processed, s.dropped, s.faces, s.last_bad, s.annotated)
        received, processed, dropped, faces, last_bad, annotated = counts
        status = DiagnosticStatus()
        status.name = f"{self.get_fully_qualified_name()}: head pose"
        status.hardware_id = str(self._estimator.device)
        status.level = DiagnosticStatus.OK
        status.message = "ok"
        if not self._worker.is_alive() and not self._stop.is_set():
            status.level, status.message = DiagnosticStatus.ERROR, "worker thread stopped"
        elif received == 0:
            status.level, status.message = DiagnosticStatus.WARN, "no images received yet"
        elif self._camera_info is None:
            status.level, status.message = DiagnosticStatus.WARN, self._camera_status
        elif sum(bad.values()):
            status.message = f"ok; last bad input: {last_bad}"
        kv = {
            "input_rate_hz": f"{in_rate:.2f}",
            "processed_rate_hz": f"{out_rate:.2f}",
            "latency_ms_mean": f"{np.mean(lat):.1f}" if lat else "nan",
            "latency_ms_max": f"{np.max(lat):.1f}" if lat else "nan",
            "latency_ms_median": f"{np.median(lat):.2f}" if lat else "nan",
            "inference_ms_mean": f"{np.mean(inf):.1f}" if inf else "nan",
            **{f"stage_ms_{k}": f"{np.median(v):.3f}" if v else "nan" for k, v in stage.items()},
            "memory_rss_mb": _rss_mb(),
            "frames_received": str(received),
            "frames_processed": str(processed),
            "frames_dropped": str(dropped),
            "faces": str(faces),
            "annotated_images": str(annotated),
            "tracks": str(self._tracker.num_tracks),
            "device": str(self._estimator.device),
            "backend": str(self._estimator.backend),
            "detector": str(self._values["detector"]),
            "camera": self._camera_status,
            "tf": self._tf.backend if self._tf else "disabled",
            "bad_input_total": str(sum(bad.values())),
            "last_bad_input": last_bad,
        }
        kv.update({f"bad_input_{k}": str(v) for k, v in bad.items()})
        status.values = [KeyValue(key=k, value=v) for k, v in kv.items()]
        arr = DiagnosticArray()
        arr.header.stamp = self.get_clock().now().to_msg()
        arr.status = [status]
        self._pub_diag.publish(arr)

    # -- shutdown ------------------------------------------------------------------------

    def stop(self) -> None:
        """Stop the worker thread and release the detector."""
        self._stop.set()
        with self._cond:
            self._cond.notify_all()
        if self._worker.is_alive() and threading.current_thread() is not self._worker:
            self._worker.join(timeout=10.0)
        self._estimator.close()


def _rss_mb() -> str:
    """Resident memory of this process in MB (``/proc``; ``nan`` elsewhere)."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return f"{int(line.split()[1]) / 1024:.0f}"
    except OSError:  # pragma: no cover - non-Linux
        pass
    return "nan"




def run(args: list[str] | None = None) -> int:
    """Run the node until SIGINT/SIGTERM, then release it; returns the process exit code."""
    rclpy.init(args=args)
    node: HeadPoseNode | None = None
    code = 0
    try:
        node = HeadPoseNode()
        executor = SingleThreadedExecutor()
        executor.add_node(node)
        executor.spin()
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    except Exception as exc:  # noqa: BLE001 - startup errors: one clear line, no traceback
        if rclpy.ok():
            get_logger(NODE_NAME).fatal(f"{type(exc).__name__}: {exc}")
            code = 1
    finally:
        _ignore_further_signals()
        if node is not None:
            node.stop()
            node.destroy_node()
        rclpy.try_shutdown()
    return code


def _ignore_further_signals() -> None:
    """Shutdown has begun: let no second SIGINT/SIGTERM interrupt the cleanup.

    ``ros2 launch`` forwards Ctrl-C to a node that got it from the terminal too,
    so two signals often arrive together; a KeyboardInterrupt in the middle of
    the cleanup would print a traceback and skip releasing the node.
    """
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(ValueError, OSError):  # ValueError: not the main thread
            signal.signal(sig, signal.SIG_IGN)


def main(args: list[str] | None = None) -> int:
    """Process entry point: :func:`run`, then end the process at once with its exit code.

    The node has already been stopped and destroyed and ROS shut down (logs
    flushed) when :func:`run` returns; what is skipped is the interpreter's own
    teardown, which spends 1-2 s of CPU destroying torch, ONNX Runtime and
    MediaPipe objects, so that SIGINT/SIGTERM end the process well within the
    2 s that launch systems and supervisors allow.  Call :func:`run` to stay in
    the process.
    """
    try:
        code = run(args)
    except KeyboardInterrupt:  # a second Ctrl-C before the cleanup began ignoring it
        code = 0
    logging.shutdown()
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            stream.flush()
    os._exit(code)


if __name__ == "__main__":
    sys.exit(main())
