# Copyright 2026 The ldl_pose_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""One camera of the node: its subscriptions, latest frame, pipeline, publishers and counters.

A :class:`CameraStream` holds everything that is per camera -- the image and
camera_info subscriptions (relative names, remapped by the user), the slot with the
newest frame (latest frame wins: a frame replaced before the worker took it counts
as dropped), its :class:`~ldl_pose_ros.core.pipeline.FramePipeline` (own camera model
and tracker; the estimator is the node's), its output publishers and its
:class:`~ldl_pose_ros.ros.diagnostics.StreamStats`.  The node owns the worker thread
that calls :meth:`CameraStream.process` and the ``/tf`` broadcaster.
"""

from __future__ import annotations

import threading
import time
from typing import TYPE_CHECKING

from diagnostic_msgs.msg import DiagnosticStatus
from geometry_msgs.msg import PoseArray, PoseWithCovarianceStamped
from rclpy.node import Node
from rclpy.publisher import Publisher
from rclpy.qos import DurabilityPolicy, HistoryPolicy, QoSProfile, ReliabilityPolicy
from sensor_msgs.msg import CameraInfo, CompressedImage, Image
from visualization_msgs.msg import MarkerArray

from ldl_pose_ros.core.camera import IntrinsicsError
from ldl_pose_ros.core.decode import compressed_to_array, image_to_array
from ldl_pose_ros.core.messages import Message, stamp_seconds
from ldl_pose_ros.core.outputs import FrameOutputs
from ldl_pose_ros.core.pipeline import FramePipeline
from ldl_pose_ros.ros.diagnostics import StreamStats, stream_status
from ldl_pose_ros.ros.messages import RclpyMessages

if TYPE_CHECKING:
    import numpy as np

    from ldl_pose_ros.core.params import Params
    from ldl_pose_ros.core.protocols import Estimator
    from ldl_pose_ros.ros.tf_broadcast import TfBroadcaster

#: Output QoS of the pose topics and markers.
OUTPUT_QOS = QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE,
                        durability=DurabilityPolicy.VOLATILE)


class CameraStream:
    """One camera's state and I/O on ``node`` (see the module docstring)."""

    def __init__(self, node: Node, estimator: Estimator, params: Params,
                 tf: TfBroadcaster | None, wake: threading.Condition) -> None:
        self.node = node
        self.pipeline = FramePipeline(estimator, params)
        self.stats = StreamStats()
        self.tf = tf
        self.messages = RclpyMessages()
        self._wake = wake  # notified when a frame arrives (the node's worker waits on it)
        self._pending: tuple[Image | CompressedImage, float] | None = None
        self._warned: set[str] = set()
        self.camera_status = "no camera_info yet: nominal intrinsics"
        t = params.transport
        self.compressed = t.use_compressed
        self.pub_poses = node.create_publisher(PoseArray, "head_poses", OUTPUT_QOS)
        self.pub_primary = node.create_publisher(PoseWithCovarianceStamped,
                                                 "primary_head_pose", OUTPUT_QOS)
        self.pub_markers = node.create_publisher(MarkerArray, "markers", OUTPUT_QOS)
        self.pub_annotated = node.create_publisher(
            Image, "image_annotated", QoSProfile(depth=1, reliability=ReliabilityPolicy.RELIABLE))
        in_qos = QoSProfile(
            history=HistoryPolicy.KEEP_LAST, depth=t.qos_depth,
            reliability=(ReliabilityPolicy.RELIABLE if t.qos_reliability == "reliable"
                         else ReliabilityPolicy.BEST_EFFORT),
            durability=DurabilityPolicy.VOLATILE)
        if t.use_compressed:
            self.sub_image = node.create_subscription(CompressedImage, "image/compressed",
                                                      self._on_image, in_qos)
        else:
            self.sub_image = node.create_subscription(Image, "image", self._on_image, in_qos)
        self.sub_info = node.create_subscription(CameraInfo, "camera_info",
                                                 self._on_camera_info, in_qos)

    # -- callbacks (executor thread: never block) --------------------------------------

    def _on_image(self, msg: Image | CompressedImage) -> None:
        with self._wake:
            replaced = self._pending is not None
            self._pending = (msg, time.monotonic())
            self._wake.notify()
        self.stats.frame_received(replaced)

    def _on_camera_info(self, msg: CameraInfo) -> None:
        try:
            self.pipeline.camera.update(msg)
        except IntrinsicsError as exc:
            self.bad_input("camera_info", f"{exc}; keeping the previous intrinsics")

    # -- worker -----------------------------------------------------------------------------

    def take(self) -> tuple[Image | CompressedImage, float] | None:
        """The newest frame and its arrival time, if one waits (call with ``wake`` held)."""
        pending, self._pending = self._pending, None
        return pending

    def bad_input(self, kind: str, message: str) -> None:
        """Count bad input; log it, throttled per kind so one flood cannot hide another."""
        count, log = self.stats.bad_input(kind, message)
        if log:
            self.node.get_logger().warning(f"bad input ({kind}, {count} so far): {message}")

    def process(self, msg: Image | CompressedImage, received: float) -> None:
        """Decode, run the pipeline, publish; raises ``ImageError`` for bad input."""
        t0 = time.perf_counter()
        params = self.pipeline.params
        max_pixels = int(params.detection.max_image_megapixels * 1e6)
        if isinstance(msg, CompressedImage):
            image, color = compressed_to_array(msg, max_pixels)
        else:
            image, color = image_to_array(msg, max_pixels)  # a view of msg.data
        stamp = stamp_seconds(msg.header.stamp)
        out = self.pipeline.process(image, color, stamp if stamp > 0 else received,
                                    (time.perf_counter() - t0) * 1e3)
        self._note_camera(out)
        if out.refused:
            self.bad_input("network_output", f"{out.refused} face(s) left out: the network's "
                           "output was not a finite, normalised distribution")
        t_post = time.perf_counter()
        annotated = self.publish(msg, image, color, out)
        stages = {**out.times.as_dict(), "publish": (time.perf_counter() - t_post) * 1e3}
        latency = None
        if stamp > 0:
            latency = (self.node.get_clock().now().nanoseconds * 1e-9 - stamp) * 1e3
        self.stats.frame_processed(len(out.shown), stages, (t_post - t0) * 1e3, latency,
                                   annotated)

    def publish(self, msg: Image | CompressedImage, image: np.ndarray, color: str,
                out: FrameOutputs) -> bool:
        """Every output of one frame, built before any is sent; True if annotated."""
        o, m = self.pipeline.params.output, self.messages
        header = m.header_of(msg.header)
        sends: list[tuple[Publisher, Message]] = []
        if o.publish_pose_array:
            sends.append((self.pub_poses, m.pose_array(header, out.shown)))
        if o.publish_markers and out.shown:
            sends.append((self.pub_markers, m.markers(header, out.shown, o.marker_lifetime_s,
                                                      o.arrow_length_m)))
        if o.publish_covariance and out.primary is not None:
            sends.append((self.pub_primary, m.pose_with_covariance(header, out.primary)))
        annotated = o.publish_annotated and self.pub_annotated.get_subscription_count() > 0
        if annotated:
            sends.append((self.pub_annotated, m.image(header, out.annotated(image, color))))
        transforms = []
        if o.publish_tf and self.tf is not None and out.child_frames:
            if header.frame_id:
                transforms = m.transforms(header, out.child_frames)
            else:
                self.node.get_logger().warning("images have an empty frame_id: no TF published",
                                               throttle_duration_sec=30.0)
        for pub, message in sends:
            pub.publish(message)
        if transforms and self.tf is not None:
            self.tf.send(transforms)
        return annotated

    def _note_camera(self, out: FrameOutputs) -> None:
        """Log and count what the camera model had to do for this frame."""
        view, log = out.camera, self.node.get_logger()
        if view.problem is not None:
            self.bad_input("camera_info", view.problem)
        if view.intrinsics.nominal:
            self.camera_status = f"no camera_info: {view.source} intrinsics"
            if "no_info" not in self._warned and view.problem is None:
                self._warned.add("no_info")  # (rclpy's once=True costs ~1 ms per call)
                hfov = self.pipeline.params.geometry.default_hfov_deg
                log.warning("no camera_info received: positions use a nominal pinhole camera "
                            f"with a {hfov:g} deg horizontal field of view")
            return
        self.camera_status = view.source
        if view.scaled_from is not None:
            w, h = view.scaled_from
            log.warning(f"camera_info is for {w}x{h} but images are {view.intrinsics.width}x"
                        f"{view.intrinsics.height}: scaling the intrinsics",
                        throttle_duration_sec=30.0)

    # -- diagnostics ------------------------------------------------------------------------

    def status(self, name: str, worker_alive: bool, model: dict[str, str], tf: str
               ) -> DiagnosticStatus:
        """The stream's ``DiagnosticStatus`` for the window since the last call.

        ``model``: device, backend and detector; ``tf``: how TF is sent.
        """
        w = self.stats.take_window()
        level, message = DiagnosticStatus.OK, "ok"
        if not worker_alive:
            level, message = DiagnosticStatus.ERROR, "worker thread stopped"
        elif w.received == 0:
            level, message = DiagnosticStatus.WARN, "no images received yet"
        elif not self.pipeline.camera.has_info:
            level, message = DiagnosticStatus.WARN, self.camera_status
        elif sum(w.bad.values()):
            message = f"ok; last bad input: {w.last_bad}"
        info = {"tracks": str(self.pipeline.tracker.num_tracks), **model,
                "camera": self.camera_status, "tf": tf}
        return stream_status(name, w, level, message, info)
