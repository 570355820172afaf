# Copyright 2026 The ldl_pose_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""``python -m ldl_pose_ros.cli`` = ``ldl-pose``."""

import sys

from ldl_pose_ros.cli import main

sys.exit(main())
