# Copyright 2026 The ldl_pose_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""The ROS 2 door: the node, and the bag player that talks to a ROS graph.

The only part of ``ldl_pose_ros`` that imports rclpy and ROS message packages
(``test/test_boundary.py`` holds every other module to that).

- :mod:`~ldl_pose_ros.ros.node`: ``ldl_pose_node`` (``pose_node``), wiring and lifecycle
  transitions; :mod:`~ldl_pose_ros.ros.camera_stream` (one camera's I/O and state),
  :mod:`~ldl_pose_ros.ros.multi_camera` (the node's cameras and the two worker threads
  that serve them with one estimator), :mod:`~ldl_pose_ros.ros.hri` (ROS4HRI outputs),
  :mod:`~ldl_pose_ros.ros.input_qos` (input subscriptions that follow the publishers'
  reliability), :mod:`~ldl_pose_ros.ros.graph` (graph helpers, the duplicate-name watch),
  :mod:`~ldl_pose_ros.ros.params` (ROS parameters from the core schema),
  :mod:`~ldl_pose_ros.ros.messages` (the rclpy message factory and markers),
  :mod:`~ldl_pose_ros.ros.diagnostics`, :mod:`~ldl_pose_ros.ros.tf_broadcast`.
- :mod:`~ldl_pose_ros.ros.player` and :mod:`~ldl_pose_ros.ros.recorder`:
  ``ldl-pose bag play`` (the command line is ``ldl_pose_ros.cli.bag``).
- :mod:`~ldl_pose_ros.ros.process` and :mod:`~ldl_pose_ros.ros.dds`: the node as a
  child process with its DDS environment (demo, bench, tests; no rclpy import).
"""
