# Copyright 2026 The ldl_pose_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""Offline training tree of ldl_pose_ros: datasets, augmentation, training and evaluation.

The network, its losses, bins, checkpoint format and crop convention are imported
from :mod:`ldl_pose_ros`; nothing here is a copy of the runtime code, so a model
trained here is preprocessed exactly as the node and the CLI will preprocess it.
"""
