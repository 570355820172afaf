# Copyright 2026 The ldl_pose_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""Paths of the files shipped inside the package (demo image, default weights)."""

from __future__ import annotations

from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent
DATA_DIR = PACKAGE_DIR / "data"
WEIGHTS_DIR = PACKAGE_DIR / "weights"
DEMO_IMAGE = DATA_DIR / "astronaut.jpg"
#: The same face turned about 35 degrees to its right (nose towards the image left).
TURNED_IMAGE = DATA_DIR / "astronaut_turned.jpg"
DEFAULT_WEIGHTS = WEIGHTS_DIR / "default.ckpt"
#: YuNet face detector (Apache-2.0, see weights/YUNET_NOTICE.md), the default detector.
DEFAULT_YUNET = WEIGHTS_DIR / "yunet_2023mar.onnx"
#: Whether inference averages each crop with its mirror image unless told otherwise
#: (``PoseNetRunner(mirror_average=...)``): mirror-consistent predictions, two network
#: passes per face (see the README's default-model section for what it buys).
DEFAULT_MIRROR_AVERAGE = True
