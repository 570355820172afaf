# Copyright 2026 The ldl_pose_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""Paths of the files shipped inside the package (demo image, default weights)."""

from __future__ import annotations

from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent
DATA_DIR = PACKAGE_DIR / "data"
WEIGHTS_DIR = PACKAGE_DIR / "weights"
DEMO_IMAGE = DATA_DIR / "astronaut.jpg"
DEFAULT_WEIGHTS = WEIGHTS_DIR / "default.ckpt"
