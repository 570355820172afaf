# Copyright 2026 The ldl_pose_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""One camera of the node: its subscriptions, latest frame, pipeline, publishers and counters.

A :class:`CameraStream` holds everything that is per camera -- the image and
camera_info subscriptions (relative names, remapped by the user; under the camera's
namespace when the node serves several; their reliability follows the publishers
with ``qos_reliability: auto``, :class:`~ldl_pose_ros.ros.input_qos.FollowingSubscription`),
its :class:`~ldl_pose_ros.core.pipeline.FramePipeline` (own camera model, tracker and
face id prefix; the estimator is the node's), its output publishers and its
:class:`~ldl_pose_ros.ros.diagnostics.StreamStats`.  Each frame it receives goes to
``offer`` (the camera's newest-frame slot, ``core.scheduler.LatestFrames``: a frame
replaced before the worker took it counts as dropped).  The workers
(``ldl_pose_ros.ros.multi_camera.CameraGroup``) call :meth:`CameraStream.decode`, run
the batch and hand the outputs back to :meth:`CameraStream.publish_result`; the node
owns the ``/tf`` broadcaster.

Lifecycle: publishers and pipeline are made with the stream (configure),
subscriptions by :meth:`activate` and removed by :meth:`deactivate`;
:meth:`destroy` removes the publishers (cleanup).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING, TypeAlias

from diagnostic_msgs.msg import DiagnosticStatus
from geometry_msgs.msg import PoseArray, PoseWithCovarianceStamped
from rclpy.node import Node
from rclpy.publisher import Publisher
from rclpy.qos import DurabilityPolicy, QoSProfile, ReliabilityPolicy
from sensor_msgs.msg import CameraInfo, CompressedImage, Image
from visualization_msgs.msg import MarkerArray

from ldl_pose_ros.core.camera import IntrinsicsError
from ldl_pose_ros.core.decode import check_stamp, compressed_to_array, image_to_array
from ldl_pose_ros.core.messages import Message, stamp_seconds
from ldl_pose_ros.core.outputs import FrameOutputs
from ldl_pose_ros.core.pipeline import FramePipeline
from ldl_pose_ros.core.scheduler import DecodedFrame
from ldl_pose_ros.ros.diagnostics import (
    UNSTAMPED_NOTE,
    StreamStats,
    stamp_latency_ms,
    stream_status,
)
from ldl_pose_ros.ros.input_qos import FollowingSubscription
from ldl_pose_ros.ros.messages import RclpyMessages

#: An image message as subscribed.
InputMessage: TypeAlias = Image | CompressedImage
#: A received frame: the message and its arrival time (``time.monotonic``).
Frame: TypeAlias = tuple[InputMessage, float]

if TYPE_CHECKING:
    import numpy as np

    from ldl_pose_ros.core.params import Params
    from ldl_pose_ros.core.protocols import Estimator
    from ldl_pose_ros.ros.tf_broadcast import TfBroadcaster

#: Output QoS of the pose topics and markers.
OUTPUT_QOS = QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE,
                        durability=DurabilityPolicy.VOLATILE)
#: Images without camera_info for this long (s) before the node warns that it uses a
#: nominal camera: camera_info that comes with the images arrives well within it.
NO_INFO_GRACE_S = 2.0


class CameraStream:
    """One camera's state and I/O on ``node`` (see the module docstring)."""

    def __init__(self, node: Node, estimator: Estimator, params: Params,
                 tf: TfBroadcaster | None, offer: Callable[[Frame], bool],
                 camera: str = "", id_prefix: str = "") -> None:
        self.node = node
        self.camera = camera  # namespace of its topics, relative to the node's ("": none)
        self.pipeline = FramePipeline(estimator, params, id_prefix=id_prefix)
        self.stats = StreamStats()
        self.tf = tf
        self.messages = RclpyMessages()
        self._offer = offer  # the camera's newest-frame slot (the worker takes from it)
        self._warned: set[str] = set()
        self.camera_status = "no camera_info yet: nominal intrinsics"
        t = params.transport
        self.compressed = t.use_compressed
        self.pub_poses = node.create_publisher(PoseArray, self.topic("head_poses"), OUTPUT_QOS)
        self.pub_primary = node.create_publisher(PoseWithCovarianceStamped,
                                                 self.topic("primary_head_pose"), OUTPUT_QOS)
        self.pub_markers = node.create_publisher(MarkerArray, self.topic("markers"), OUTPUT_QOS)
        self.pub_annotated = node.create_publisher(
            Image, self.topic("image_annotated"),
            QoSProfile(depth=1, reliability=ReliabilityPolicy.RELIABLE))
        self.sub_image: FollowingSubscription | None = None
        self.sub_info: FollowingSubscription | None = None
        self._first_nominal: float | None = None  # monotonic time of the first such frame

    # -- lifecycle --------------------------------------------------------------------------

    def topic(self, name: str) -> str:
        """The relative name of one of the camera's topics (``<camera>/<name>``)."""
        return f"{self.camera}/{name}" if self.camera else name

    @property
    def image_topic(self) -> str:
        """The (relative, remappable) image topic of the stream."""
        return self.topic("image/compressed" if self.compressed else "image")

    def use_estimator(self, estimator: Estimator | None) -> None:
        """The node's estimator, or ``None`` while it is released (inactive: no frames)."""
        self.pipeline.estimator = estimator  # type: ignore[assignment]

    def activate(self) -> None:
        """Subscribe to the image and camera_info topics."""
        t = self.pipeline.params.transport
        msg_type = CompressedImage if self.compressed else Image
        self.sub_image = FollowingSubscription(self.node, msg_type, self.image_topic,
                                               self._on_image, t.qos_reliability, t.qos_depth,
                                               on_lost=self.stats.frames_lost)
        self.sub_info = FollowingSubscription(self.node, CameraInfo, self.topic("camera_info"),
                                              self._on_camera_info, t.qos_reliability,
                                              t.qos_depth)
        self._first_nominal = None

    def deactivate(self) -> None:
        """Unsubscribe (call with the workers stopped)."""
        for sub in (self.sub_image, self.sub_info):
            if sub is not None:
                sub.destroy()
        self.sub_image = self.sub_info = None

    def destroy(self) -> None:
        """Remove the publishers (after :meth:`deactivate`)."""
        for pub in (self.pub_poses, self.pub_primary, self.pub_markers, self.pub_annotated):
            self.node.destroy_publisher(pub)

    # -- callbacks (executor thread: never block) --------------------------------------

    def _on_image(self, msg: Image | CompressedImage) -> None:
        self.stats.frame_received(self._offer((msg, time.monotonic())))

    def _on_camera_info(self, msg: CameraInfo) -> None:
        try:
            self.pipeline.camera.update(msg)
        except IntrinsicsError as exc:
            self.bad_input("camera_info", f"{exc}; keeping the previous intrinsics")

    # -- worker -----------------------------------------------------------------------------

    def bad_input(self, kind: str, message: str) -> None:
        """Count bad input; log it, throttled per kind so one flood cannot hide another."""
        count, log = self.stats.bad_input(kind, message)
        if log:
            self.node.get_logger().warning(f"bad input ({kind}, {count} so far): {message}")

    def decode(self, msg: Image | CompressedImage, received: float) -> DecodedFrame:
        """The message's pixels (a view of ``msg.data`` for raw images) and stamp.

        The stamp is the header's, or the arrival time (monotonic) when the header has
        none.  Raises ``ImageError`` for bad input: the pixels, or a stamp whose
        nanoseconds are not below 1e9 (outputs must carry a valid copy of it).
        """
        t0 = time.perf_counter()
        check_stamp(msg.header.stamp)
        max_pixels = int(self.pipeline.params.detection.max_image_megapixels * 1e6)
        if isinstance(msg, CompressedImage):
            image, color = compressed_to_array(msg, max_pixels)
        else:
            image, color = image_to_array(msg, max_pixels)
        stamp = stamp_seconds(msg.header.stamp)
        return DecodedFrame(image, color, stamp if stamp > 0 else received,
                            (time.perf_counter() - t0) * 1e3)

    def publish_result(self, msg: Image | CompressedImage, frame: DecodedFrame,
                       out: FrameOutputs, started: float) -> None:
        """Publish one frame's outputs and count it; ``started``: when its work began."""
        self._note_camera(out)
        if out.refused:
            self.bad_input("network_output", f"{out.refused} face(s) left out: the network's "
                           "output was not a finite, normalised distribution")
        t_post = time.perf_counter()
        annotated = self.publish(msg, frame.image, frame.color, out)
        stages = {**out.times.as_dict(), "publish": (time.perf_counter() - t_post) * 1e3}
        latency = None
        stamp = stamp_seconds(msg.header.stamp)
        note = UNSTAMPED_NOTE
        if stamp > 0:  # in the clock domain of the stamps: the node's (sim time if used)
            latency, note = stamp_latency_ms(stamp, self.node.get_clock().now().nanoseconds)
        if self.stats.note_clock(note):
            self.node.get_logger().warning(note)
        self.stats.frame_processed(len(out.shown), stages, (t_post - started) * 1e3, latency,
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
            ns = f"{self.camera}/" if self.camera else ""
            sends.append((self.pub_markers, m.markers(header, out.shown, o.marker_lifetime_s,
                                                      o.arrow_length_m, ns, out.face_ids)))
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
                self._warn_no_info_after_grace()
            return
        self.camera_status = view.source
        if view.scaled_from is not None:
            w, h = view.scaled_from
            log.warning(f"camera_info is for {w}x{h} but images are {view.intrinsics.width}x"
                        f"{view.intrinsics.height}: scaling the intrinsics",
                        throttle_duration_sec=30.0)

    def _warn_no_info_after_grace(self) -> None:
        """Warn once, when images have come for :data:`NO_INFO_GRACE_S` without camera_info.

        The first images often arrive before the first camera_info (two topics, two
        DDS readers): that is no reason to warn.
        """
        now = time.monotonic()
        if self._first_nominal is None:
            self._first_nominal = now
        if now - self._first_nominal < NO_INFO_GRACE_S:
            return
        self._warned.add("no_info")  # (rclpy's once=True costs ~1 ms per call)
        hfov = self.pipeline.params.geometry.default_hfov_deg
        topic = self.sub_info.topic if self.sub_info is not None else "camera_info"
        pubs = len(self.node.get_publishers_info_by_topic(topic))
        hint = (f" ({pubs} publisher(s) on it: check their QoS and clock)" if pubs else "")
        self.node.get_logger().warning(
            f"no camera_info received on {topic} in {NO_INFO_GRACE_S:g} s of images{hint}: "
            f"positions use a nominal pinhole camera with a {hfov:g} deg horizontal field "
            "of view")

    # -- diagnostics ------------------------------------------------------------------------

    def status(self, name: str, active: bool, worker_alive: bool, info: dict[str, str]
               ) -> DiagnosticStatus:
        """The stream's ``DiagnosticStatus`` for the window since the last call.

        ``active``: the node is active (lifecycle); ``info``: the node's own values
        (device, backend, detector, how TF is sent, lifecycle state).
        """
        w = self.stats.take_window()
        level, message = DiagnosticStatus.OK, "ok"
        if not active:
            message = "inactive: not subscribed (lifecycle)"
        elif not worker_alive:
            level, message = DiagnosticStatus.ERROR, "worker thread stopped"
        elif w.received == 0:
            level, message = DiagnosticStatus.WARN, "no images received yet"
        elif not self.pipeline.camera.has_info:
            level, message = DiagnosticStatus.WARN, self.camera_status
        elif w.clock_note:
            level, message = DiagnosticStatus.WARN, w.clock_note
        elif sum(w.bad.values()):
            message = f"ok; last bad input: {w.last_bad}"
        topic = {"input_topic": self.sub_image.topic} if self.sub_image is not None else {}
        qos = {f"input_qos_{k}": sub.description
               for k, sub in (("image", self.sub_image), ("camera_info", self.sub_info))
               if sub is not None}
        values = {"tracks": str(self.pipeline.tracker.num_tracks), **info,
                  "camera": self.camera_status, **topic, **qos}
        return stream_status(name, w, level, message, values)
