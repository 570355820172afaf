# Copyright 2026 The ldl_pose_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""Foundation checks: rclpy traffic between real processes on loopback DDS."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

pytest.importorskip("rclpy")

PUBLISHER = textwrap.dedent(
    """
    import sys, time
    import rclpy
    from rclpy.qos import QoSProfile, ReliabilityPolicy, DurabilityPolicy
    kind = sys.argv[1]
    rclpy.init()
    node = rclpy.create_node("smoke_pub")
    qos = QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE,
                     durability=DurabilityPolicy.TRANSIENT_LOCAL)
    if kind == "image":
        from sensor_msgs.msg import Image
        msg = Image(height=4, width=3, encoding="bgr8", step=9, data=bytes(range(36)))
        msg.header.frame_id = "camera_optical_frame"
        msg.header.stamp.sec = 42
        pub = node.create_publisher(Image, "smoke_image", qos)
    else:
        from geometry_msgs.msg import TransformStamped
        from tf2_msgs.msg import TFMessage
        t = TransformStamped()
        t.header.frame_id = "camera_optical_frame"
        t.header.stamp.sec = 7
        t.child_frame_id = "face_1"
        t.transform.translation.z = 1.25
        t.transform.rotation.w = 1.0
        msg = TFMessage(transforms=[t])
        pub = node.create_publisher(TFMessage, "/tf", qos)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        pub.publish(msg)
        rclpy.spin_once(node, timeout_sec=0.1)
    """
)

SUBSCRIBER = textwrap.dedent(
    """
    import sys, time
    import rclpy
    from rclpy.qos import QoSProfile, ReliabilityPolicy, DurabilityPolicy
    kind = sys.argv[1]
    rclpy.init()
    node = rclpy.create_node("smoke_sub")
    qos = QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE,
                     durability=DurabilityPolicy.TRANSIENT_LOCAL)
    got = []
    if kind == "image":
        from sensor_msgs.msg import Image
        node.create_subscription(Image, "smoke_image", got.append, qos)
    else:
        from tf2_msgs.msg import TFMessage
        node.create_subscription(TFMessage, "/tf", got.append, qos)
    deadline = time.monotonic() + 20
    while not got and time.monotonic() < deadline:
        rclpy.spin_once(node, timeout_sec=0.1)
    if not got:
        sys.exit("nothing received")
    m = got[0]
    if kind == "image":
        print(m.header.frame_id, m.header.stamp.sec, m.width, m.height, list(m.data[:4]))
    else:
        t = m.transforms[0]
        print(t.header.frame_id, t.child_frame_id, t.header.stamp.sec, t.transform.translation.z)
    """
)


def _exchange(kind: str) -> str:
    pub = subprocess.Popen([sys.executable, "-c", PUBLISHER, kind])
    try:
        out = subprocess.run(
            [sys.executable, "-c", SUBSCRIBER, kind],
            capture_output=True, text=True, timeout=60,
        )
    finally:
        pub.terminate()
        pub.wait(timeout=10)
    assert out.returncode == 0, out.stderr
    return out.stdout.strip()


def test_image_crosses_processes() -> None:
    assert _exchange("image") == "camera_optical_frame 42 3 4 [0, 1, 2, 3]"


def test_tf_message_crosses_processes() -> None:
    assert _exchange("tf") == "camera_optical_frame face_1 7 1.25"
