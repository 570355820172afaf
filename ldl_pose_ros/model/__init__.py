# Copyright 2026 The ldl_pose_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""Label-distribution-learning head-pose network, losses, checkpoints, inference."""

from ldl_pose_ros.model.backbones import build_backbone, load_pretrained
from ldl_pose_ros.model.checkpoint import (
    CheckpointError,
    count_parameters,
    load_checkpoint,
    read_checkpoint,
    save_checkpoint,
)
from ldl_pose_ros.model.config import ANGLE_NAMES, BACKBONES, ModelConfig
from ldl_pose_ros.model.distribution import (
    bin_centers,
    bin_centers_np,
    bin_index,
    expectation_and_std,
    expectation_and_std_np,
    gaussian_labels,
    gaussian_labels_np,
    softmax_np,
)
from ldl_pose_ros.model.losses import LDLMultiLoss
from ldl_pose_ros.model.network import LDLHeadPoseNet
from ldl_pose_ros.model.onnx_cache import cached_onnx_path, export_onnx
from ldl_pose_ros.model.runner import PoseNetRunner

__all__ = [
    "ANGLE_NAMES",
    "BACKBONES",
    "CheckpointError",
    "LDLHeadPoseNet",
    "LDLMultiLoss",
    "ModelConfig",
    "PoseNetRunner",
    "bin_centers",
    "bin_centers_np",
    "bin_index",
    "build_backbone",
    "cached_onnx_path",
    "count_parameters",
    "expectation_and_std",
    "expectation_and_std_np",
    "export_onnx",
    "gaussian_labels",
    "gaussian_labels_np",
    "load_checkpoint",
    "load_pretrained",
    "read_checkpoint",
    "save_checkpoint",
    "softmax_np",
]
