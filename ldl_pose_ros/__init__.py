# Copyright 2026 The ldl_pose_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""Head-pose estimation by label distribution learning, with a ROS 2 node.

The core (model, geometry, detection, estimator, tracking) has no ROS
imports; ``ldl_pose_ros.ros`` is the only place that imports rclpy.
"""

__version__ = "0.1.0"
