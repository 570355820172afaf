# Copyright 2026 The ldl_pose_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""``python -m ldl_pose_ros.demo`` end to end (node process, DDS replay, scoring), shortened."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("rclpy")
pytest.importorskip("tf2_msgs.msg")

REPO = Path(__file__).resolve().parents[1]


def test_demo_runs_and_reports(tmp_path, tiny_weights):
    out = tmp_path / "demo"
    r = subprocess.run(
        [sys.executable, "-m", "ldl_pose_ros.demo", "--weights", str(tiny_weights),
         "--frames", "16", "--out", str(out)],
        cwd=REPO, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stdout + r.stderr
    text = r.stdout
    for label in ("frames (played / processed by the node)  16 / 16", "latency ms: mean",
                  "MAE deg: yaw / pitch / roll", "contact sheet", "output bag"):
        assert label in text, text
    assert (out / "contact_sheet.png").is_file()
    assert (out / "report" / "report.md").is_file()
    assert (out / "live_recording" / "metadata.yaml").is_file()
    assert (out / "demo_recording" / "metadata.yaml").is_file()
    # The node's outputs recorded from DDS read with an independent MCAP reader too.
    from _mcap_check import read_independently

    live = read_independently(out / "live_recording")
    assert len(live["/head_poses"]) == 16
    assert {"/tf", "/primary_head_pose", "/diagnostics"} <= set(live)
    assert all(m.header.frame_id for _, m in live["/head_poses"])


def test_demo_without_weights_says_what_to_do(tmp_path):
    r = subprocess.run([sys.executable, "-m", "ldl_pose_ros.demo", "--weights",
                        str(tmp_path / "none.ckpt"), "--out", str(tmp_path / "o")],
                       cwd=REPO, capture_output=True, text=True, timeout=60)
    assert r.returncode == 2 and "no such weights file" in r.stderr
