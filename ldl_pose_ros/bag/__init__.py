# Copyright 2026 The ldl_pose_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""Rosbag2 tools without a ROS installation (``rosbags``): evaluation, demo recording.

- :mod:`ldl_pose_ros.bag.io`: reading bags (sqlite3, MCAP), topic detection, writing
  the output bag, building messages; :mod:`ldl_pose_ros.bag.salvage` reads what is
  left of truncated MCAP and sqlite3 files.
- :mod:`ldl_pose_ros.bag.pipeline`: the node's per-frame processing (estimator,
  ray correction, positions, :class:`ldl_pose_ros.core.tracking.FaceTracker`).
- :mod:`ldl_pose_ros.bag.groundtruth`: ground truth from a PoseStamped topic or a
  TF frame, with a camera-to-mocap transform given or estimated.
- :mod:`ldl_pose_ros.bag.metrics`: matching, MAE, geodesic error, detection rate,
  ID switches, the node's latency simulated.
- :mod:`ldl_pose_ros.bag.evaluate`: ``ldl-pose bag evaluate``; reports in
  :mod:`ldl_pose_ros.bag.report`; the command line in :mod:`ldl_pose_ros.bag.cli`.
- :mod:`ldl_pose_ros.bag.make_demo`: the demo recording with known ground truth.

Live replay (``ldl-pose bag play``) needs rclpy and lives in ``ldl_pose_ros.ros.bag_play``.
"""
