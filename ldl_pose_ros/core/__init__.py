# Copyright 2026 The ldl_pose_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""The ROS-free core: one frame in, everything a frame publishes out.

- :mod:`~ldl_pose_ros.core.pipeline`: a camera's per-frame processing (the node and
  ``bag evaluate`` both run it) and :class:`~ldl_pose_ros.core.pipeline.FrameOutputs`;
  :mod:`~ldl_pose_ros.core.params`: the parameter schema of every door.
- Stages: :mod:`~ldl_pose_ros.core.estimator` (detection, crops, the network of
  ``ldl_pose_ros.model``: :class:`~ldl_pose_ros.core.faces.FacePrediction`),
  :mod:`~ldl_pose_ros.core.placement` (the camera frame:
  :class:`~ldl_pose_ros.core.faces.PlacedFace`), :mod:`~ldl_pose_ros.core.tracking`
  (ids, smoothing: :class:`~ldl_pose_ros.core.faces.FaceTrack`).
- Inputs: :mod:`~ldl_pose_ros.core.decode` (image messages),
  :mod:`~ldl_pose_ros.core.camera` (camera_info, the camera model),
  :mod:`~ldl_pose_ros.core.imaging` (image files and checks),
  :mod:`~ldl_pose_ros.core.detection` (face detectors), :mod:`~ldl_pose_ros.core.crop`.
- Outputs: :mod:`~ldl_pose_ros.core.messages` (message layouts for both ROS runtimes),
  :mod:`~ldl_pose_ros.core.annotate` (drawings, marker text).
- Shared: :mod:`~ldl_pose_ros.core.geometry` (angle convention, rotations, boxes),
  :mod:`~ldl_pose_ros.core.evaluation` (metrics), :mod:`~ldl_pose_ros.core.protocols`
  (the seams), :mod:`~ldl_pose_ros.core.label_csv` (the training label format that
  ``bag export`` writes and ``training/`` reads).

Nothing here imports rclpy or ROS message packages (``test/test_boundary.py``).
"""
