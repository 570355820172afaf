# Copyright 2026 The ldl_pose_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""In-process DDS participants under the project's Fast DDS profile.

Fast DDS reads its XML profiles once per process, when the first participant is
created.  The node tests (test_node.py, test_reliability_node.py) need the large-image
profile in the pytest process, so any test that creates a participant in this process
earlier must do it under the same profile: use :func:`probe_node`.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

PROFILE = Path(__file__).resolve().parents[1] / "config" / "fastdds_large_images.xml"


def probe_node(name: str) -> tuple[Any, Any]:
    """``(context, node)`` on ``$ROS_DOMAIN_ID``, created with the project's profile."""
    import rclpy

    saved = os.environ.get("FASTDDS_DEFAULT_PROFILES_FILE")
    os.environ["FASTDDS_DEFAULT_PROFILES_FILE"] = str(PROFILE)
    try:
        ctx = rclpy.Context()
        rclpy.init(context=ctx, domain_id=int(os.environ["ROS_DOMAIN_ID"]))
        return ctx, rclpy.create_node(name, context=ctx)
    finally:
        if saved is None:
            os.environ.pop("FASTDDS_DEFAULT_PROFILES_FILE", None)
        else:
            os.environ["FASTDDS_DEFAULT_PROFILES_FILE"] = saved
