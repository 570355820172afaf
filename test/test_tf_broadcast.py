# Copyright 2026 The ldl_pose_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""TF broadcasting: tf2_ros when present, else a TFMessage publisher with tf2_ros's QoS."""

from __future__ import annotations

import os
import sys

import pytest

rclpy = pytest.importorskip("rclpy")

from rclpy.qos import DurabilityPolicy, HistoryPolicy, ReliabilityPolicy  # noqa: E402

from ldl_pose_ros.ros.tf_broadcast import TF_QOS, TfBroadcaster  # noqa: E402


def test_qos_is_tf2_ros_broadcaster_qos() -> None:
    assert TF_QOS.reliability == ReliabilityPolicy.RELIABLE
    assert TF_QOS.durability == DurabilityPolicy.VOLATILE
    assert TF_QOS.history == HistoryPolicy.KEEP_LAST and TF_QOS.depth == 100


@pytest.fixture()
def node():
    ctx = rclpy.Context()
    rclpy.init(context=ctx, domain_id=1 + (os.getpid() + 50) % 100)
    n = rclpy.create_node("tf_broadcast_test", context=ctx,
                          start_parameter_services=False, enable_rosout=False)
    yield n
    n.destroy_node()
    rclpy.try_shutdown(context=ctx)


def test_fallback_publishes_tf_message_on_tf(node) -> None:
    pytest.importorskip("tf2_msgs.msg")
    from geometry_msgs.msg import TransformStamped

    tf = TfBroadcaster(node, prefer_tf2_ros=False)
    assert tf.backend == "tf2_msgs"
    (info,) = node.get_publishers_info_by_topic("/tf")
    assert info.topic_type == "tf2_msgs/msg/TFMessage"
    assert info.qos_profile.reliability == ReliabilityPolicy.RELIABLE
    assert info.qos_profile.durability == DurabilityPolicy.VOLATILE
    tf.send([])  # nothing to send: no error
    tf.send([TransformStamped(child_frame_id="face_0")])
    tf.destroy(node)
    assert node.get_publishers_info_by_topic("/tf") == []


def test_tf2_ros_preferred_when_importable(node) -> None:
    try:
        import tf2_ros  # noqa: F401
    except ImportError:
        pytest.skip("tf2_ros not installed (PyPI ROS wheels)")
    assert TfBroadcaster(node).backend == "tf2_ros"


def test_clear_error_without_tf_packages(node, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "tf2_ros", None)
    monkeypatch.setitem(sys.modules, "tf2_msgs.msg", None)
    with pytest.raises(ImportError, match="build_tf2_msgs"):
        TfBroadcaster(node)
