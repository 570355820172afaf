# Copyright 2026 The ldl_pose_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""Shared pytest fixtures."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

# Fixtures of the test-only hri_msgs build (see test/_hri_msgs.py).
from _hri_msgs import hri_msgs_env, hri_msgs_prefix  # noqa: F401

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED_DIR = Path(os.environ.get("LDL_POSE_SHARED", REPO_ROOT.parent / "shared"))


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    """The development data folder next to the checkout; skips when absent."""
    if not (SHARED_DIR / "data").is_dir():
        pytest.skip(f"shared data folder not found at {SHARED_DIR}")
    return SHARED_DIR


@pytest.fixture(scope="session")
def demo_image_bgr() -> np.ndarray:
    """The project's own demo photograph (one near-frontal face), BGR uint8."""
    import cv2

    from ldl_pose_ros.resources import DEMO_IMAGE

    img = cv2.imread(str(DEMO_IMAGE), cv2.IMREAD_COLOR)
    assert img is not None, DEMO_IMAGE
    return img


@pytest.fixture(scope="session", autouse=True)
def _limit_threads() -> None:
    """Keep torch from oversubscribing the small CI machine."""
    try:
        import torch

        torch.set_num_threads(min(2, os.cpu_count() or 1))
    except ImportError:
        pass


@pytest.fixture(scope="session", autouse=True)
def _isolated_ros_domain() -> None:
    """Give each test session its own DDS domain, on loopback only.

    Subprocesses inherit it, so two test runs on one machine do not see each
    other's traffic.
    """
    os.environ.setdefault("ROS_DOMAIN_ID", str(1 + os.getpid() % 100))
    os.environ.setdefault("ROS_AUTOMATIC_DISCOVERY_RANGE", "LOCALHOST")
