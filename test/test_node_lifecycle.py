# Copyright 2026 The ldl_pose_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""The node as a managed lifecycle node, driven over DDS through its lifecycle services.

The node process is started as ``lifecycle:=true`` starts it (``autostart: false`` after
the parameter file) with a weights path that does not exist; the tests, in order, call
``/lc/ldl_pose_node/change_state`` and ``get_state`` as a lifecycle manager would:
activate before configure (refused), configure with the bad weights (fails cleanly,
unconfigured), the weights corrected while unconfigured, configure (model loaded,
outputs made, no subscription), activate (subscribed, frames answered), deactivate
(unsubscribed, model released), activate again, cleanup and shutdown.
"""

from __future__ import annotations

import signal
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

rclpy = pytest.importorskip("rclpy")
pytest.importorskip("tf2_msgs.msg")
lifecycle_msgs = pytest.importorskip("lifecycle_msgs")

from lifecycle_msgs.msg import Transition  # noqa: E402
from lifecycle_msgs.srv import ChangeState, GetState  # noqa: E402
from rcl_interfaces.srv import SetParameters  # noqa: E402

from ldl_pose_ros.ros.process import WAITING  # noqa: E402

NS = "/lc"
NODE = f"{NS}/ldl_pose_node"
IMAGE, INFO, POSES = f"{NS}/image_raw", f"{NS}/camera_info", f"{NS}/head_poses"
BAD_WEIGHTS = "/nonexistent/lifecycle_model.ckpt"


class Manager:
    """A lifecycle manager in the test process: service clients and the frames it sends."""

    def __init__(self, peer: Any) -> None:
        from geometry_msgs.msg import PoseArray

        self.peer = peer
        node = peer.node
        self.change = node.create_client(ChangeState, f"{NODE}/change_state")
        self.get = node.create_client(GetState, f"{NODE}/get_state")
        self.set_params = node.create_client(SetParameters, f"{NODE}/set_parameters")
        self.pub_image = peer.publisher("sensor_msgs/msg/Image", IMAGE)
        self.pub_info = peer.publisher("sensor_msgs/msg/CameraInfo", INFO)
        peer.subscribe(POSES, PoseArray)

    def transition(self, transition_id: int, timeout: float = 90.0) -> bool:
        req = ChangeState.Request(transition=Transition(id=transition_id))
        return bool(self.peer.call(self.change, req, timeout).success)

    def state(self) -> str:
        return str(self.peer.call(self.get, GetState.Request()).current_state.label)

    def set_parameter(self, name: str, value: Any) -> Any:
        from rcl_interfaces.msg import Parameter as ParameterMsg

        req = SetParameters.Request(parameters=[ParameterMsg(
            name=name, value=self.peer.parameter_value(value))])
        return self.peer.call(self.set_params, req).results[0]

    def subscribed(self) -> bool:
        return bool(self.peer.node.get_subscriptions_info_by_topic(IMAGE))

    def outputs_exist(self) -> bool:
        return bool(self.peer.node.get_publishers_info_by_topic(POSES))

    def diag(self) -> dict[str, str]:
        return self.peer.diag(NODE)

    def status(self) -> Any:
        for arr in reversed(self.peer.messages("/diagnostics")):
            for st in arr.status:
                if st.name == f"{NODE}: head pose":
                    return st
        return None

    def answered(self, timeout: float = 30.0) -> Any:
        """Send frames until one comes back on head_poses with a face."""
        img = self.peer.demo_image()

        def send(stamp: Any) -> None:
            self.pub_info.publish(self.peer.camera_info(img.shape[1], img.shape[0], stamp))
            self.pub_image.publish(self.peer.image_msg(img, stamp))

        def done(stamp: Any) -> Any:
            m = self.peer.find(POSES, stamp)
            return m if m is not None and m.poses else None

        return self.peer.send_until(send, done, timeout)


@pytest.fixture(scope="module")
def manager(ros_peer: Any) -> Manager:
    return Manager(ros_peer)


@pytest.fixture(scope="module")
def node(start_node: Callable[..., Any], ros_peer: Any) -> Iterator[Any]:
    proc = start_node("lifecycle", namespace=NS, remap={"image": IMAGE, "camera_info": INFO},
                      params={"weights": BAD_WEIGHTS, "device": "cpu", "threads": 1,
                              "diagnostics_period_s": 0.2, "autostart": False})
    try:
        proc.wait_ready(ros_peer.startup_timeout, marker=WAITING)
    except RuntimeError as exc:
        pytest.fail(f"node did not start: {exc}")
    yield proc
    proc.stop(signal.SIGKILL)


def test_waits_unconfigured_without_model_or_subscription(manager: Manager,
                                                           node: Any) -> None:
    assert manager.state() == "unconfigured"
    assert manager.peer.wait_for(lambda: manager.diag().get("lifecycle_state"), 10.0)
    d = manager.diag()
    assert (d["lifecycle_state"], d["model_loaded"]) == ("unconfigured", "false"), d
    assert not manager.subscribed() and not manager.outputs_exist()
    assert "ready:" not in node.output()


def test_activate_before_configure_is_refused(manager: Manager, node: Any) -> None:
    assert not manager.transition(Transition.TRANSITION_ACTIVATE)
    assert manager.state() == "unconfigured"
    assert "lifecycle transition 'activate' refused: the node is unconfigured; available: " \
           "configure, shutdown" in node.output(), node.tail()
    assert not manager.subscribed()


def test_configure_with_bad_weights_fails_cleanly(manager: Manager, node: Any) -> None:
    assert not manager.transition(Transition.TRANSITION_CONFIGURE)
    assert manager.state() == "unconfigured"
    out = node.output()
    line = next((ln for ln in out.splitlines() if "configure failed:" in ln), "")
    assert "[ERROR]" in line and "CheckpointError" in line and BAD_WEIGHTS in line, out
    assert "not found" in line and line.endswith(
        "the node stays unconfigured (correct the parameter, then configure again)"), line
    assert "Traceback" not in out and node.running()
    status = manager.peer.wait_for(
        lambda: (st := manager.status()) is not None and "configure failed" in st.message
        and st, 10.0)
    assert status and status.level == b"\x02", status  # ERROR until a transition succeeds


def test_configure_then_activate_after_correcting_the_weights(
    manager: Manager, node: Any, tiny_weights: Path
) -> None:
    assert manager.set_parameter("weights", str(tiny_weights)).successful  # unconfigured
    assert manager.transition(Transition.TRANSITION_CONFIGURE), node.tail()
    assert manager.state() == "inactive"
    assert manager.peer.wait_for(lambda: manager.outputs_exist(), 10.0)
    assert not manager.subscribed()  # subscriptions belong to activate
    assert manager.peer.wait_for(lambda: manager.diag().get("model_loaded") == "true", 10.0)
    refused = manager.set_parameter("device", "cuda")
    assert not refused.successful and "cannot change while the node is inactive" in \
        refused.reason, refused.reason
    # The same value is no change (``ros2 param load`` of the node's own file).
    same = manager.set_parameter("weights", str(tiny_weights))
    assert same.successful, same.reason
    assert manager.transition(Transition.TRANSITION_ACTIVATE), node.tail()
    assert manager.state() == "active"
    assert manager.peer.wait_for(manager.subscribed, 10.0)
    _, poses = manager.answered()
    assert poses.header.frame_id == manager.peer.frame


def test_deactivate_unsubscribes_and_releases_the_model(manager: Manager, node: Any) -> None:
    assert manager.transition(Transition.TRANSITION_DEACTIVATE)
    assert manager.state() == "inactive"
    assert manager.peer.wait_for(lambda: not manager.subscribed(), 10.0)
    assert manager.peer.wait_for(lambda: manager.diag().get("model_loaded") == "false", 10.0)
    assert manager.diag()["lifecycle_state"] == "inactive"
    assert "inactive: inputs unsubscribed, model and GPU memory released" in node.output()
    # Frames sent now are not answered.
    with pytest.raises(AssertionError, match="no result"):
        manager.answered(timeout=2.0)
    # Activate loads the model again and serves.
    assert manager.transition(Transition.TRANSITION_ACTIVATE), node.tail()
    assert manager.diag() and manager.peer.wait_for(
        lambda: manager.diag().get("model_loaded") == "true", 10.0)
    manager.answered()


def test_cleanup_and_shutdown(manager: Manager, node: Any) -> None:
    assert manager.transition(Transition.TRANSITION_DEACTIVATE)
    assert manager.transition(Transition.TRANSITION_CLEANUP)
    assert manager.state() == "unconfigured"
    assert manager.peer.wait_for(lambda: not manager.outputs_exist(), 10.0)
    assert manager.transition(Transition.TRANSITION_UNCONFIGURED_SHUTDOWN)
    assert manager.state() == "finalized"
    code = node.stop(signal.SIGINT)
    assert code == 0 and "Traceback" not in node.output(), node.tail()
