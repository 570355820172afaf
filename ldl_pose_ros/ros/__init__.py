# Copyright 2026 The ldl_pose_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""The ROS 2 side: message conversions, TF broadcasting and the node.

This sub-package is the only part of ``ldl_pose_ros`` that imports rclpy and
ROS message packages.
"""
