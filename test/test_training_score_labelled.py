# Copyright 2026 The ldl_pose_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""training.score_labelled: the dev scorer's metrics, and a run through ldl-pose predict."""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from ldl_pose_ros.resources import DEMO_IMAGE, TURNED_IMAGE
from training import score_labelled as sl


def _row(box: list[float], angles: list[float], std: float = 5.0) -> dict[str, str]:
    r = {k: str(v) for k, v in zip(("x1", "y1", "x2", "y2"), box, strict=True)}
    r.update({a: str(v) for a, v in zip(sl.ANGLES, angles, strict=True)})
    r.update({f"{a}_std": str(std) for a in sl.ANGLES})
    return r


def test_score_counts_errors_buckets_and_the_nearest_face() -> None:
    box = np.array([10.0, 10.0, 50.0, 50.0])
    labels = [{"file": f"{i}.jpg", "angles": np.array(a), "box": box}
              for i, a in enumerate(([0.0, 0.0, 0.0], [45.0, 10.0, 0.0], [70.0, 0.0, 5.0]))]
    rows = {
        # a far face that must not be picked, and the right one 10 deg off in yaw
        "0.jpg": [_row([200, 200, 240, 240], [90, 0, 0]), _row([12, 10, 50, 52], [10, 0, 0])],
        "1.jpg": [_row([10, 10, 50, 50], [45, 10, 0])],  # exact
        # 2.jpg: not found
    }
    out = sl.score(labels, rows)
    assert out["n_found"] == 2 and out["found_fraction"] == pytest.approx(2 / 3, abs=1e-4)
    assert out["mae"]["yaw"] == pytest.approx(5.0) and out["mae"]["pitch"] == 0.0
    assert out["buckets"]["0-30"]["mean"] == pytest.approx(10.0 / 3, abs=1e-3)
    assert out["buckets"]["30-60"]["mean"] == 0.0 and out["buckets"]["60-99"]["found"] == "0/1"
    assert out["geodesic"] == pytest.approx(5.0, abs=1e-3)  # 10 deg about one axis, and 0
    # |error| 10 > std 5 once, 0 <= 5 otherwise (per angle: 5 of 6 within 1 std)
    assert out["calibration"]["within_1std"] == pytest.approx(5 / 6, abs=1e-4)


@pytest.mark.slow
def test_a_run_scores_both_paths_and_mirror_averaging_is_exact(tmp_path: Path) -> None:
    images = tmp_path / "images"
    images.mkdir()
    shutil.copy(DEMO_IMAGE, images / "front.jpg")
    shutil.copy(TURNED_IMAGE, images / "turned.jpg")
    from ldl_pose_ros.core.estimator import HeadPoseEstimator
    from ldl_pose_ros.core.imaging import load_image

    est = HeadPoseEstimator(device="cpu")
    with open(tmp_path / "labels.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["file", "yaw_deg", "pitch_deg", "roll_deg", "within99", "x1", "y1", "x2", "y2"])
        for name, yaw in (("front.jpg", -2.0), ("turned.jpg", 33.0)):
            box = est.estimate(load_image(images / name))[0].box
            w.writerow([name, yaw, -5.0, 0.0, 1, *box])
    out = tmp_path / "score"
    assert sl.main(["--images", str(images), "--labels", str(tmp_path / "labels.csv"),
                    "--out", str(out), "--paths", "boxes", "product", "mirror"]) == 0
    result = json.loads((out / "metrics.json").read_text())
    assert result["boxes"]["n_found"] == result["product"]["n_found"] == 2
    assert result["boxes"]["mae"]["yaw"] < 10.0  # the shipped model on its own photos
    assert result["mirror"]["mean_abs_yaw_sum"] < 0.05  # mirror averaging: exact
    assert sl.main(["--images", str(images), "--labels", str(tmp_path / "labels.csv"),
                    "--out", str(out), "--paths", "mirror",
                    "--model-args=--no-mirror-average"]) == 0
    single = json.loads((out / "metrics.json").read_text())["mirror"]["mean_abs_yaw_sum"]
    assert single > result["mirror"]["mean_abs_yaw_sum"]  # the network alone is not exact
