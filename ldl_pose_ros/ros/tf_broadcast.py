# Copyright 2026 The ldl_pose_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""Broadcast transforms on ``/tf``: through tf2_ros when it is installed, else by hand.

On a ROS 2 distribution ``tf2_ros.TransformBroadcaster`` is used.  Where only
the ``tf2_msgs`` message package is importable (ROS 2 from PyPI wheels, with
tf2_msgs generated locally), a ``tf2_msgs/TFMessage`` publisher on ``/tf`` with
the broadcaster's QoS (reliable, keep last 100, volatile) does the same job:
listeners cannot tell the difference.
"""

from __future__ import annotations

from collections.abc import Sequence

from geometry_msgs.msg import TransformStamped
from rclpy.node import Node
from rclpy.qos import DurabilityPolicy, HistoryPolicy, QoSProfile, ReliabilityPolicy

#: QoS of tf2_ros's TransformBroadcaster (``QoSProfile(depth=100)``).
TF_QOS = QoSProfile(
    history=HistoryPolicy.KEEP_LAST,
    depth=100,
    reliability=ReliabilityPolicy.RELIABLE,
    durability=DurabilityPolicy.VOLATILE,
)


class TfBroadcaster:
    """Sends ``TransformStamped`` lists on ``/tf``.

    ``backend`` is ``'tf2_ros'`` or ``'tf2_msgs'``.  Raises ``ImportError`` with a
    clear message when neither package can be imported.
    """

    def __init__(self, node: Node, prefer_tf2_ros: bool = True) -> None:
        self._broadcaster = None
        self._publisher = None
        if prefer_tf2_ros:
            try:
                from tf2_ros import TransformBroadcaster
            except ImportError:
                pass
            else:
                self._broadcaster = TransformBroadcaster(node, qos=TF_QOS)
                self.backend = "tf2_ros"
                return
        try:
            from tf2_msgs.msg import TFMessage
        except ImportError as exc:
            raise ImportError(
                "neither tf2_ros nor tf2_msgs can be imported: source a ROS 2 distribution or "
                "generate tf2_msgs (scripts/build_tf2_msgs.sh)"
            ) from exc
        self._msg_type = TFMessage
        self._publisher = node.create_publisher(TFMessage, "/tf", TF_QOS)
        self.backend = "tf2_msgs"

    def send(self, transforms: Sequence[TransformStamped]) -> None:
        """Publish ``transforms`` (nothing is sent for an empty list)."""
        if not transforms:
            return
        if self._broadcaster is not None:
            self._broadcaster.sendTransform(list(transforms))
        elif self._publisher is not None:
            self._publisher.publish(self._msg_type(transforms=list(transforms)))

    def destroy(self, node: Node) -> None:
        """Release the publisher (the tf2_ros broadcaster lives with the node)."""
        if self._publisher is not None:
            node.destroy_publisher(self._publisher)
            self._publisher = None
