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
the network.

Layout: this module is wiring.  Parameters come from the core schema
(``ldl_pose_ros.core.params``, declared by ``ldl_pose_ros.ros.params``); a camera's
subscriptions, pipeline, publishers and counters are a
``ldl_pose_ros.ros.camera_stream.CameraStream``; what a frame publishes is computed
by ``ldl_pose_ros.core.pipeline`` and turned into messages by
``ldl_pose_ros.ros.messages``; diagnostics are ``ldl_pose_ros.ros.diagnostics``.

SIGINT/SIGTERM: the worker finishes its frame, the node is destroyed, ROS shut
down and the process ends without the interpreter's slow teardown (well within
2 s); more signals during that are ignored.  Thread
counts are fixed for the machine at start-up (network intra-op threads:
parameter ``threads``, 0 = ``default_threads()``; OpenCV the same).
Diagnostics report the median time of each stage (decode, detect, crop,
network, post, publish), the latency and the node's resident memory.
Without camera_info the node uses a nominal pinhole camera
(``default_hfov_deg``, see ``ldl_pose_ros.core.camera``) and says so once.
Bad input (unsupported encoding, wrong sizes, truncated data, huge or
undecodable images, unusable camera_info) is logged (throttled), counted in
the diagnostics and skipped.  Parameters are described in
``ldl_pose_ros.core.params.PARAMETERS`` (``ros2 param describe``); read-only ones
need a restart, the others are checked by a parameter callback that refuses
invalid values with a reason.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import sys
import threading

import rclpy
from diagnostic_msgs.msg import DiagnosticArray
from rcl_interfaces.msg import SetParametersResult
from rclpy.executors import SingleThreadedExecutor
from rclpy.logging import get_logger
from rclpy.node import Node
from rclpy.parameter import Parameter

from ldl_pose_ros.core.imaging import ImageError
from ldl_pose_ros.core.params import NODE_NAME, SPECS, Params
from ldl_pose_ros.core.pipeline import build_estimator, set_detection_filters
from ldl_pose_ros.ros.camera_stream import CameraStream
from ldl_pose_ros.ros.params import declare_parameters

try:  # rclpy >= Humble
    from rclpy.executors import ExternalShutdownException
except ImportError:  # pragma: no cover
    ExternalShutdownException = RuntimeError  # type: ignore[misc,assignment]

__all__ = ["NODE_NAME", "HeadPoseNode", "main", "run"]


class HeadPoseNode(Node):
    """The head-pose node (see the module docstring)."""

    def __init__(self, **kwargs: object) -> None:
        super().__init__(NODE_NAME, **kwargs)  # type: ignore[arg-type]
        self.params = Params.from_values(declare_parameters(self))
        self.estimator = build_estimator(self.params)
        self.tf = None
        try:
            from ldl_pose_ros.ros.tf_broadcast import TfBroadcaster

            self.tf = TfBroadcaster(self)
        except ImportError as exc:
            self.get_logger().warning(f"TF disabled: {exc}")
        self._wake = threading.Condition()
        self._stop = threading.Event()
        self.stream = CameraStream(self, self.estimator, self.params, self.tf, self._wake)
        self._pub_diag = self.create_publisher(DiagnosticArray, "/diagnostics", 10)
        self._diag_timer = self.create_timer(self.params.transport.diagnostics_period_s,
                                             self._publish_diagnostics)
        self.add_on_set_parameters_callback(self._on_set_parameters)
        self._worker = threading.Thread(target=self._work, name="ldl_pose_worker", daemon=True)
        self._worker.start()
        est, p = self.estimator, self.params
        self.get_logger().info(
            f"ready: input {self.stream.sub_image.topic_name} ({p.transport.qos_reliability}); "
            f"model {est.weights.name} on {est.device} ({est.backend}), detector "
            f"{p.detection.detector}, tf via {self.tf.backend if self.tf else 'none'}"
        )

    def _on_set_parameters(self, params: list[Parameter]) -> SetParametersResult:
        """Check a run-time update against the schema; apply it whole or refuse it."""
        try:
            new = Params.from_values({p.name: p.value for p in params if p.name in SPECS},
                                     self.params)
            self.stream.pipeline.apply(new)  # builds a new tracker first: nothing half-applied
        except ValueError as exc:  # ParamError, or a component refusing a value
            return SetParametersResult(successful=False, reason=str(exc))
        set_detection_filters(self.estimator, new)
        self.params = new
        return SetParametersResult(successful=True)

    def _work(self) -> None:
        """The worker: process the newest frame of the stream, whenever there is one."""
        stream = self.stream
        while not self._stop.is_set():
            with self._wake:
                frame = stream.take()
                while frame is None and not self._stop.is_set():
                    self._wake.wait(0.5)
                    frame = stream.take()
            if frame is None:
                return
            try:
                stream.process(*frame)
            except ImageError as exc:
                stream.bad_input(getattr(exc, "kind", "size"), str(exc))
            except Exception as exc:  # noqa: BLE001 - keep serving whatever happens
                if self._stop.is_set() or not self.context.ok():
                    return
                stream.bad_input("processing", f"{type(exc).__name__}: {exc}")

    def _publish_diagnostics(self) -> None:
        est = self.estimator
        model = {"device": str(est.device), "backend": str(est.backend),
                 "detector": self.params.detection.detector}
        status = self.stream.status(
            f"{self.get_fully_qualified_name()}: head pose",
            self._worker.is_alive() or self._stop.is_set(), model,
            self.tf.backend if self.tf else "disabled")
        arr = DiagnosticArray(status=[status])
        arr.header.stamp = self.get_clock().now().to_msg()
        self._pub_diag.publish(arr)

    def stop(self) -> None:
        """Stop the worker thread and release the detector."""
        self._stop.set()
        with self._wake:
            self._wake.notify_all()
        if self._worker.is_alive() and threading.current_thread() is not self._worker:
            self._worker.join(timeout=10.0)
        self.estimator.close()


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
