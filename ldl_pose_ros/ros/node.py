# Copyright 2026 The ldl_pose_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""``ldl_pose_node``: head poses, TF frames, markers and diagnostics from a camera stream.

Subscriptions (relative names; remap them)
    ``image`` (sensor_msgs/Image) or, with ``use_compressed``, ``image/compressed``
    (sensor_msgs/CompressedImage); ``camera_info`` (sensor_msgs/CameraInfo).  With
    ``cameras: [front, left]`` the same per camera, under its namespace
    (``front/image``, ...), and the outputs below too (``front/head_poses``, ...).
    QoS: keep last ``qos_depth`` (5); reliability ``auto`` by default: reliable while
    every publisher of the topic is reliable, else best effort, followed as
    publishers come and go (``ldl_pose_ros.ros.input_qos``); or fixed
    ``best_effort`` / ``reliable``.

Publications (every header is the input image's header: stamp and frame_id)
    ``head_poses`` (geometry_msgs/PoseArray, faces ordered by id),
    ``primary_head_pose`` (geometry_msgs/PoseWithCovarianceStamped of the largest
    face; covariance as documented in ``ldl_pose_ros.core.camera``), ``markers``
    (visualization_msgs/MarkerArray: gaze arrow + id/angle label per face, with a
    lifetime), ``image_annotated`` (sensor_msgs/Image bgr8, computed only while
    subscribed), TF ``<face_frame_prefix><id>`` and ``<gaze_frame_prefix><id>``
    children of the image frame, and ``/diagnostics``.

Lifecycle (a ``rclpy.lifecycle`` managed node; services ``~/change_state``,
``~/get_state``...)
    configure: the parameters' model and detector are loaded, the outputs made;
    activate: the model is loaded again if deactivate released it, the inputs are
    subscribed and the workers started; deactivate: workers stopped, inputs removed,
    model and GPU memory released; cleanup: outputs removed, back to unconfigured.
    A failed transition logs why and leaves the node in its previous state (a bad
    ``weights`` path: unconfigured).  With ``autostart`` (the default) the node
    configures and activates itself at start-up and exits with code 1 if that fails;
    with ``autostart: false`` (launch ``lifecycle:=true``) it waits, unconfigured, for
    a lifecycle manager.  The model, detector and transport parameters change only
    while unconfigured.  Diagnostics are published in every state.

Threading: the image callback only stores the newest message (latest frame
wins, per camera; a frame replaced before the worker took it counts as dropped);
two worker threads (``ldl_pose_ros.ros.multi_camera``) convert and detect, then
infer (the faces of every camera's newest frame in one network batch), track and
publish, so the executor never waits on the network.

Layout: this module is wiring.  Parameters come from the core schema
(``ldl_pose_ros.core.params``, declared by ``ldl_pose_ros.ros.params``); a camera's
subscriptions, pipeline, publishers and counters are a
``ldl_pose_ros.ros.camera_stream.CameraStream``; the cameras and the workers are a
``ldl_pose_ros.ros.multi_camera.CameraGroup``; what a frame publishes is computed
by ``ldl_pose_ros.core.pipeline`` (batched by ``ldl_pose_ros.core.scheduler``) and
turned into messages by ``ldl_pose_ros.ros.messages``; diagnostics are
``ldl_pose_ros.ros.diagnostics``; ROS4HRI is ``ldl_pose_ros.ros.hri``.

SIGINT/SIGTERM: the worker finishes its frame, the node is destroyed, ROS shut
down and the process ends without the interpreter's slow teardown (well within
2 s); more signals during that are ignored.  Thread
counts are fixed for the machine at start-up (network intra-op threads:
parameter ``threads``, 0 = ``default_threads()``; OpenCV the same).
Diagnostics report the median time of each stage (decode, detect, crop,
network, post, publish), the latency in the clock domain of the stamps (the
node's clock: ``use_sim_time`` during playback) and the node's resident memory.
Without camera_info the node uses a nominal pinhole camera
(``default_hfov_deg``, see ``ldl_pose_ros.core.camera``) and says so once images
have come for two seconds without it.  Another node with the same fully qualified
name is reported (log and diagnostics).
Bad input (unsupported encoding, wrong sizes, truncated data, huge or
undecodable images, unusable camera_info) is logged (throttled), counted in
the diagnostics and skipped.  Parameters are described in
``ldl_pose_ros.core.params.PARAMETERS`` (``ros2 param describe``); the others are
checked by a parameter callback that refuses invalid values with a reason.
"""

from __future__ import annotations

import contextlib
import gc
import logging
import os
import signal
import sys
from typing import TYPE_CHECKING, Any

import rclpy
from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus, KeyValue
from rcl_interfaces.msg import SetParametersResult
from rclpy.clock import Clock, ClockType
from rclpy.executors import SingleThreadedExecutor
from rclpy.lifecycle import LifecycleNode, LifecycleState, TransitionCallbackReturn
from rclpy.logging import get_logger
from rclpy.parameter import Parameter

from ldl_pose_ros.core.params import NODE_NAME, SPECS, Params
from ldl_pose_ros.core.pipeline import build_estimator, set_detection_filters
from ldl_pose_ros.ros.graph import DuplicateNameWatch
from ldl_pose_ros.ros.multi_camera import CameraGroup
from ldl_pose_ros.ros.params import configure_time_refusal, declare_parameters
from ldl_pose_ros.ros.process import WAITING

if TYPE_CHECKING:
    from ldl_pose_ros.core.estimator import HeadPoseEstimator

try:  # rclpy >= Humble
    from rclpy.executors import ExternalShutdownException
except ImportError:  # pragma: no cover
    ExternalShutdownException = RuntimeError  # type: ignore[misc,assignment]

__all__ = ["NODE_NAME", "WAITING", "HeadPoseNode", "main", "run"]

SUCCESS, FAILURE = TransitionCallbackReturn.SUCCESS, TransitionCallbackReturn.FAILURE


class StartupError(RuntimeError):
    """The node could not configure or activate itself (``autostart``)."""


class HeadPoseNode(LifecycleNode):
    """The head-pose node (see the module docstring)."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(NODE_NAME, **kwargs)
        self.params = Params.from_values(declare_parameters(self))
        self.estimator: HeadPoseEstimator | None = None
        self.cameras: CameraGroup | None = None
        self.failure = ""  # why the last transition failed ('' after a success)
        self.tf = None
        try:
            from ldl_pose_ros.ros.tf_broadcast import TfBroadcaster

            self.tf = TfBroadcaster(self)
        except ImportError as exc:
            self.get_logger().warning(f"TF disabled: {exc}")
        self._pub_diag = self.create_publisher(DiagnosticArray, "/diagnostics", 10)
        self._diag_timer = self._make_diag_timer()
        self.namesakes = DuplicateNameWatch(self)
        self.add_on_set_parameters_callback(self._on_set_parameters)
        self._explain_refused_transitions()
        if not self.params.transport.autostart:
            self.get_logger().info(f"{WAITING} (autostart: false): ros2 lifecycle set "
                                   f"{self.get_fully_qualified_name()} configure, then activate")
            return
        for step in (self.trigger_configure, self.trigger_activate):
            if step() != SUCCESS:
                raise StartupError(self.failure or "the lifecycle transition failed")

    @property
    def lifecycle_state(self) -> str:
        """The lifecycle state's label (``unconfigured``, ``inactive``, ``active``...)."""
        return str(self._state_machine.current_state[1])

    # -- lifecycle transitions ------------------------------------------------------------

    def on_configure(self, state: LifecycleState) -> TransitionCallbackReturn:
        """Load the model and detector of the current parameters; make the outputs."""
        try:
            self.estimator = build_estimator(self.params)
        except Exception as exc:  # noqa: BLE001 - any load error: a failed transition
            return self._failed("configure", exc, "exiting (autostart)"
                                if self.params.transport.autostart else
                                "the node stays unconfigured (correct the parameter, then "
                                "configure again)")
        if self._diag_timer.timer_period_ns != int(
                self.params.transport.diagnostics_period_s * 1e9):
            self.destroy_timer(self._diag_timer)
            self._diag_timer = self._make_diag_timer()
        self.cameras = CameraGroup(self, self.estimator, self.params, self.tf)
        self.failure = ""
        est = self.estimator
        self.get_logger().info(f"configured: model {est.weights.name} on {est.device} "
                               f"({est.backend}), detector {self.params.detection.detector}")
        return SUCCESS

    def on_activate(self, state: LifecycleState) -> TransitionCallbackReturn:
        """Load the model again if it was released; subscribe; start the workers."""
        assert self.cameras is not None
        if self.estimator is None:
            try:
                self.estimator = build_estimator(self.params)
            except Exception as exc:  # noqa: BLE001
                return self._failed("activate", exc, "the node stays inactive")
        self.cameras.use_estimator(self.estimator)
        self.cameras.activate()
        self.failure = ""
        est, p = self.estimator, self.params
        self.get_logger().info(
            f"ready: input {', '.join(self.cameras.input_topics)} "
            f"({p.transport.qos_reliability}); model {est.weights.name} on {est.device} "
            f"({est.backend}), detector {p.detection.detector}, tf via "
            f"{self.tf.backend if self.tf else 'none'}"
            + (f", ROS4HRI {self.cameras.hri_state}" if p.hri.hri_enabled else "")
        )
        return SUCCESS

    def on_deactivate(self, state: LifecycleState) -> TransitionCallbackReturn:
        """Stop the workers, unsubscribe, release the model and GPU memory."""
        self._stop_serving()
        self._release_model()
        self.get_logger().info("inactive: inputs unsubscribed, model and GPU memory released")
        return SUCCESS

    def on_cleanup(self, state: LifecycleState) -> TransitionCallbackReturn:
        """Remove the outputs and the camera state; back to unconfigured."""
        self._release_all()
        self.get_logger().info("unconfigured: outputs removed")
        return SUCCESS

    def on_shutdown(self, state: LifecycleState) -> TransitionCallbackReturn:
        """Release everything, from any state."""
        self._release_all()
        self.get_logger().info("finalized: everything released (end the process to go)")
        return SUCCESS

    def on_error(self, state: LifecycleState) -> TransitionCallbackReturn:
        """A transition raised: release everything and go back to unconfigured."""
        self._release_all()
        self.get_logger().error(f"error during a transition from {state.label}: released "
                                "everything, unconfigured")
        return SUCCESS

    def _failed(self, transition: str, exc: BaseException, then: str
                ) -> TransitionCallbackReturn:
        self.failure = f"{transition} failed: {type(exc).__name__}: {exc}"
        self.get_logger().error(f"{self.failure}; {then}")
        return FAILURE

    def _stop_serving(self) -> None:
        if self.cameras is not None:
            self.cameras.deactivate()

    def _release_model(self) -> None:
        """Close the estimator and drop every reference to it; free cached GPU memory."""
        if self.estimator is None:
            return
        if self.cameras is not None:
            self.cameras.use_estimator(None)
        self.estimator.close()
        self.estimator = None
        gc.collect()
        torch = sys.modules.get("torch")
        if torch is not None and torch.cuda.is_available():
            torch.cuda.empty_cache()

    def _release_all(self) -> None:
        self._stop_serving()
        self._release_model()
        if self.cameras is not None:
            self.cameras.destroy()
            self.cameras = None

    def _explain_refused_transitions(self) -> None:
        """Log why a requested transition is not available (e.g. activate before configure).

        Wraps the callback of rclpy's ``~/change_state`` service (an rclpy attribute, not
        API: where it is missing, rclpy's own log line stays the only one).
        """
        service = getattr(self, "_service_change_state", None)
        if service is None:
            return
        handle = service.callback

        def change_state(req: Any, resp: Any) -> Any:
            sm = self._state_machine
            label = req.transition.label
            names = {t[0]: t[1] for t in sm.transition_graph}
            available = {t[1] for t in sm.available_transitions}
            wanted = label or names.get(req.transition.id, str(req.transition.id))
            if wanted not in available:
                self.get_logger().error(
                    f"lifecycle transition {wanted!r} refused: the node is "
                    f"{self.lifecycle_state}; available: {', '.join(sorted(available))}")
                resp.success = False
                return resp
            return handle(req, resp)

        service.callback = change_state

    # -- parameters and diagnostics -------------------------------------------------------

    def _on_set_parameters(self, params: list[Parameter]) -> SetParametersResult:
        """Check a run-time update against the schema; apply it whole or refuse it."""
        values = {p.name: p.value for p in params if p.name in SPECS}
        current = {n: self.get_parameter(n).value for n in values}
        refusal = configure_time_refusal(values, self.lifecycle_state, current)
        if refusal is not None:
            return SetParametersResult(successful=False, reason=refusal)
        try:
            new = Params.from_values(values, self.params)
            if self.cameras is not None:  # builds a new tracker first: nothing half-applied
                self.cameras.apply(new)
        except ValueError as exc:  # ParamError, or a component refusing a value
            return SetParametersResult(successful=False, reason=str(exc))
        if self.estimator is not None:
            set_detection_filters(self.estimator, new)
        self.params = new
        return SetParametersResult(successful=True)

    def _make_diag_timer(self) -> Any:
        return self.create_timer(self.params.transport.diagnostics_period_s,
                                 self._publish_diagnostics,
                                 clock=Clock(clock_type=ClockType.STEADY_TIME))

    def _publish_diagnostics(self) -> None:
        name = f"{self.get_fully_qualified_name()}: head pose"
        state = self.lifecycle_state
        info = {"lifecycle_state": state, "model_loaded": str(self.estimator is not None).lower(),
                "detector": self.params.detection.detector,
                "tf": self.tf.backend if self.tf else "disabled"}
        if self.estimator is not None:
            info |= {"device": str(self.estimator.device),
                     "backend": str(self.estimator.backend)}
        if self.cameras is not None:
            statuses = self.cameras.statuses(self.get_fully_qualified_name(),
                                             state == "active", info)
        else:
            statuses = [DiagnosticStatus(name=name, level=DiagnosticStatus.OK,
                                         message=f"{state}: no model loaded (lifecycle)",
                                         values=[KeyValue(key=k, value=v)
                                                 for k, v in info.items()])]
        for status in statuses:
            for problem, level in ((self.namesakes.problem, DiagnosticStatus.WARN),
                                   (self.failure, DiagnosticStatus.ERROR)):
                if problem:
                    status.level = max(status.level, level)
                    status.message = f"{problem}; {status.message}"
        arr = DiagnosticArray(status=statuses)
        arr.header.stamp = self.get_clock().now().to_msg()
        self._pub_diag.publish(arr)

    def stop(self) -> None:
        """Stop the workers and release the model and detector (process end)."""
        self._release_all()

    def destroy_node(self) -> None:
        """Destroy the node, and with it the lifecycle state machine.

        rclpy's lifecycle state machine holds the rcl node: left alone, it keeps the
        node in the ROS graph of other processes until their DDS lease runs out (about
        20 s after this process ended), so a restarted node would see a namesake.
        """
        super().destroy_node()
        self._state_machine.destroy_when_not_in_use()


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
