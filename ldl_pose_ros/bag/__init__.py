# Copyright 2026 The ldl_pose_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""The bag door: rosbag2 tools without a ROS installation (``rosbags``).

- :mod:`~ldl_pose_ros.bag.io`: reading bags (sqlite3, MCAP; damaged ones as far as
  they go, with :mod:`~ldl_pose_ros.bag.salvage`), topic detection;
  :mod:`~ldl_pose_ros.bag.writer`: MCAP output bags;
  :mod:`~ldl_pose_ros.bag.messages`: the typestore message factory (the node's
  messages, the same methods as its rclpy factory).
- ``ldl-pose bag evaluate``: :mod:`~ldl_pose_ros.bag.evaluate` runs a pass and
  summarises; :mod:`~ldl_pose_ros.bag.offline` (the node's pipeline,
  ``ldl_pose_ros.core.pipeline``, over every image, into an output bag: the pass of
  :mod:`~ldl_pose_ros.bag.pipeline_pass`) or :mod:`~ldl_pose_ros.bag.recorded` (a
  recording of the live node);
  :mod:`~ldl_pose_ros.bag.gt_source` and :mod:`~ldl_pose_ros.bag.groundtruth` (ground
  truth), :mod:`~ldl_pose_ros.bag.metrics`, :mod:`~ldl_pose_ros.bag.report`.
- ``ldl-pose bag export`` (a recording becomes a training set):
  :mod:`~ldl_pose_ros.bag.export` (the same pipeline pass, ground truth as
  ``evaluate`` reads it), :mod:`~ldl_pose_ros.bag.export_labels`,
  :mod:`~ldl_pose_ros.bag.pseudo_labels`, :mod:`~ldl_pose_ros.bag.time_blocks`,
  :mod:`~ldl_pose_ros.bag.export_files`.
- :mod:`~ldl_pose_ros.bag.make_demo`: the demo recording with known ground truth.

The command line is ``ldl_pose_ros.cli.bag``; ``ldl-pose bag play`` needs rclpy and
lives in the ROS door (``ldl_pose_ros.ros.player``).
"""
