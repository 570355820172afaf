# Copyright 2026 The ldl_pose_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""Small helpers on a ROS graph: message classes by name, topic types, waiting."""

from __future__ import annotations

import importlib
import threading
import time
from collections.abc import Callable

from rclpy.context import Context
from rclpy.executors import SingleThreadedExecutor
from rclpy.node import Node

#: Types of the node's outputs, used when the graph does not show a topic yet.
KNOWN_TYPES = {
    "/head_poses": "geometry_msgs/msg/PoseArray",
    "/primary_head_pose": "geometry_msgs/msg/PoseWithCovarianceStamped",
    "/tf": "tf2_msgs/msg/TFMessage",
    "/tf_static": "tf2_msgs/msg/TFMessage",
    "/image_annotated": "sensor_msgs/msg/Image",
    "/markers": "visualization_msgs/msg/MarkerArray",
    "/diagnostics": "diagnostic_msgs/msg/DiagnosticArray",
}


def message_class(msgtype: str) -> type:
    """The rclpy message class of ``pkg/msg/Name``; raises ``ImportError``/``ValueError``."""
    pkg, kind, name = msgtype.split("/")
    cls: type = getattr(importlib.import_module(f"{pkg}.{kind}"), name)
    return cls


def topic_types(node: Node) -> dict[str, list[str]]:
    """Every topic of the graph with its types."""
    return dict(node.get_topic_names_and_types())


def wait_until(pred: Callable[[], object], timeout: float, step: float = 0.05) -> bool:
    """Poll ``pred`` until it is true or ``timeout`` s passed; its last truth value."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():
            return True
        time.sleep(step)
    return bool(pred())


def start_spinner(node: Node, context: Context | None = None
                  ) -> tuple[SingleThreadedExecutor, threading.Thread]:
    """Spin ``node`` in a daemon thread; returns ``(executor, thread)``.

    Shut the executor down (``executor.shutdown``) and join the thread before ROS
    goes down: a thread still inside the executor at exit aborts the process.
    """
    executor = SingleThreadedExecutor(context=context)
    executor.add_node(node)

    def spin() -> None:
        try:
            executor.spin()
        except Exception:  # noqa: BLE001, S110 - context shut down at the end
            pass

    thread = threading.Thread(target=spin, daemon=True)
    thread.start()
    return executor, thread
