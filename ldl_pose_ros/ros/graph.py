# Copyright 2026 The ldl_pose_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""Small helpers on a ROS graph: message classes by name, topic types, waiting."""

from __future__ import annotations

import importlib
import threading
import time
from collections.abc import Callable, Mapping

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


def node_in_environment(name: str, env: Mapping[str, str]) -> tuple[Context, Node]:
    """``(context, node)``: a node in a new context, its participant made under ``env``.

    ``env`` gives the domain and Fast DDS profile (read when the participant is
    created); this process's environment is restored afterwards.
    """
    import os

    import rclpy

    saved = dict(os.environ)
    os.environ.update(env)
    try:
        ctx = Context()
        rclpy.init(context=ctx, domain_id=int(env["ROS_DOMAIN_ID"]))
        return ctx, rclpy.create_node(name, context=ctx)
    finally:
        os.environ.clear()
        os.environ.update(saved)


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


def fully_qualified(namespace: str, name: str) -> str:
    """``/ns/name`` of a node (``/name`` in the root namespace)."""
    return f"{namespace.rstrip('/')}/{name}"


class DuplicateNameWatch:
    """Warns while other nodes in the graph have ``node``'s fully qualified name.

    Two nodes with one name both answer every frame, and their parameter and
    lifecycle services collide.  The graph is checked every ``period_s`` seconds
    (steady clock; discovery of a node started later takes a moment); a warning is
    logged when the number of namesakes grows, a note when they are gone.
    :attr:`problem` is the current warning ('' if none), for the diagnostics.
    """

    def __init__(self, node: Node, period_s: float = 2.0) -> None:
        from rclpy.clock import Clock, ClockType

        self.node = node
        self.others = 0
        self.problem = ""
        self._timer = node.create_timer(period_s, self.check,
                                        clock=Clock(clock_type=ClockType.STEADY_TIME))

    def check(self) -> None:
        """Count the namesakes now (:attr:`others`) and log a change."""
        me = self.node.get_fully_qualified_name()
        others = sum(1 for name, ns in self.node.get_node_names_and_namespaces()
                     if fully_qualified(ns, name) == me) - 1
        others = max(others, 0)
        if others > self.others:
            self.problem = (f"{others} other node(s) named {me} in the graph: each frame is "
                            "answered twice and parameter and lifecycle services collide; "
                            "give each node its own name (__node:=) or namespace (a node "
                            "killed moments ago stays listed until its DDS lease ends, "
                            "about 20 s)")
            self.node.get_logger().warning(self.problem)
        elif others == 0 and self.others > 0:
            self.problem = ""
            self.node.get_logger().info(f"no other node is named {me} any more")
        self.others = others

    def destroy(self) -> None:
        """Stop checking."""
        self.node.destroy_timer(self._timer)
