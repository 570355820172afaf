# Copyright 2026 The ldl_pose_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""Pseudo-labelling: fusion rules, spread filter, CSV format, teacher conventions."""

from __future__ import annotations

import csv
import math
from pathlib import Path

import cv2
import numpy as np
import pytest

from ldl_pose_ros.core.detection import Detection
from ldl_pose_ros.core.geometry import euler_to_matrix
from training.pseudo_label import (
    CSV_COLUMNS,
    NON_FACES,
    LabelRow,
    PseudoLabeler,
    angle_spread,
    confidence_weight,
    convert_teacher_labels,
    detect_faces,
    fuse_angles,
    keep_by_spread,
    label_folder,
    pose_agreement,
    read_labels_csv,
    write_labels_csv,
)
from training.teachers import margin_crop, transformation_to_euler

NAN = float("nan")


# ----------------------------------------------------------------------------- fusion


def test_median_of_three():
    preds = np.array([[10.0, 1.0, -2.0], [14.0, 5.0, 0.0], [30.0, 2.0, 1.0]])
    fused, spread, n = fuse_angles(preds, "median")
    np.testing.assert_allclose(fused, [14.0, 2.0, 0.0])
    assert n == 3
    assert spread == pytest.approx(20.0)  # yaw range 30 - 10


def test_two_teachers_give_the_mean():
    preds = np.array([[10.0, 0.0, 4.0], [20.0, -6.0, 0.0]])
    for method in ("median", "mean", "agreement"):
        fused, spread, n = fuse_angles(preds, method)
        np.testing.assert_allclose(fused, [15.0, -3.0, 2.0])
        assert n == 2 and spread == pytest.approx(10.0)


def test_missing_teacher_rows_are_ignored():
    preds = np.array([[10.0, 1.0, 1.0], [NAN, NAN, NAN], [12.0, 3.0, 1.0]])
    fused, spread, n = fuse_angles(preds)
    assert n == 2
    np.testing.assert_allclose(fused, [11.0, 2.0, 1.0])
    assert spread == pytest.approx(2.0)
    fused, spread, n = fuse_angles(np.full((2, 3), NAN))
    assert n == 0 and np.all(np.isnan(fused)) and math.isnan(spread)
    assert math.isnan(angle_spread(np.array([[1.0, 2.0, 3.0]])))


def test_agreement_fusion_downweights_the_outlier():
    preds = np.array([[10.0, 0.0, 0.0], [11.0, 0.0, 0.0], [12.0, 0.0, 0.0], [60.0, 0.0, 0.0]])
    mean, _, _ = fuse_angles(preds, "mean")
    agree, _, _ = fuse_angles(preds, "agreement", sigma=5.0)
    med, _, _ = fuse_angles(preds, "median")
    assert mean[0] == pytest.approx(23.25)
    assert med[0] == pytest.approx(11.5)
    assert 10.0 < agree[0] < 12.0  # the 60 deg teacher gets ~zero weight
    with pytest.raises(ValueError):
        fuse_angles(preds, "vote")


def test_spread_filter_and_weight():
    assert keep_by_spread(9.9, 0.0, max_spread=10.0)
    assert not keep_by_spread(10.1, 0.0, max_spread=10.0)
    # Yaw-dependent limit: 10 + 0.1 * 60 = 16.
    np.testing.assert_array_equal(
        keep_by_spread(np.array([15.0, 17.0, NAN]), np.array([60.0, -60.0, 0.0]), 10.0, 0.1),
        [True, False, True],
    )
    w = confidence_weight(np.array([0.0, 15.0, NAN]), tau=15.0, single=0.5)
    np.testing.assert_allclose(w, [1.0, math.exp(-1.0), 0.5])


# ----------------------------------------------------------------------------- CSV


def test_csv_has_exact_columns_and_empty_unknown_angles(tmp_path: Path):
    rows = [
        LabelRow("a/b.jpg", np.array([1, 2, 30, 40.5]), np.array([10.0, -5.25, 3.0]), 0.75),
        LabelRow("c.jpg", np.array([0, 0, 10, 10]), np.array([-90.0, 15.0, NAN]), 1.0),
    ]
    path = tmp_path / "labels.csv"
    assert write_labels_csv(rows, path) == 2
    with path.open(newline="") as fh:
        lines = list(csv.reader(fh))
    assert (
        tuple(lines[0])
        == CSV_COLUMNS
        == ("file", "x1", "y1", "x2", "y2", "yaw", "pitch", "roll", "weight")
    )
    assert lines[1] == [
        "a/b.jpg",
        "1.00",
        "2.00",
        "30.00",
        "40.50",
        "10.00",
        "-5.25",
        "3.00",
        "0.7500",
    ]
    assert lines[2][7] == ""  # unknown roll
    back = read_labels_csv(path)
    np.testing.assert_allclose(back[0].angles, [10.0, -5.25, 3.0])
    assert math.isnan(back[1].angles[2]) and back[1].weight == 1.0


def test_csv_is_read_by_the_training_reader(tmp_path: Path):
    csvfolder = pytest.importorskip("training.datasets.csvfolder")
    rows = [LabelRow("x.jpg", np.array([0, 0, 10, 12]), np.array([5.0, 6.0, NAN]), 0.5)]
    write_labels_csv(rows, tmp_path / "labels.csv")
    samples = csvfolder.read_csv_folder(tmp_path / "labels.csv")
    assert len(samples) == 1
    np.testing.assert_array_equal(samples[0].mask, [1, 1, 0])
    assert samples[0].weight == pytest.approx(0.5)


def _teacher_labels_csv(path: Path) -> None:
    teachers = ("fsanet", "tddfa", "lwhpe", "mediapipe", "openvino")
    cols = ["file", "box_x1", "box_y1", "box_x2", "box_y2", "box_source", "det_score"]
    cols += [f"{t}_{a}" for t in teachers for a in ("yaw", "pitch", "roll")]
    cols += ["yaw", "pitch", "roll", "spread", "n_teachers"]
    data = [
        ("lfw/a.jpg", 4.0, 12.0, 3.0, 2.0, 3),  # kept, weight exp(-2/15)
        ("lfw/b.jpg", 50.0, 0.0, 0.0, 14.0, 3),  # spread 14 <= 10 + 0.1 * 50: kept
        ("web7876/c.jpg", 5.0, 0.0, 0.0, 12.0, 3),  # 12 > 10.5: dropped
        (NON_FACES[0], 0.0, 0.0, 0.0, 1.0, 3),  # listed non-face: dropped
        ("mtfl_aflw/d.jpg", 1.0, 1.0, 1.0, NAN, 1),  # one teacher: dropped
    ]
    with path.open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(cols)
        for f, yaw, pitch, roll, spread, n in data:
            row = [f, 1, 2, 51, 62, "yunet", 0.9] + [0.0] * 15
            row += [yaw, pitch, roll, "" if math.isnan(spread) else spread, n]
            w.writerow(row)


def test_convert_teacher_labels(tmp_path: Path):
    src = tmp_path / "teacher_labels.csv"
    _teacher_labels_csv(src)
    rows, st = convert_teacher_labels(src, max_spread=10.0, spread_per_deg=0.1, tau=15.0)
    assert [r.file for r in rows] == ["lfw/a.jpg", "lfw/b.jpg"]
    assert st.non_faces == 1 and st.dropped_spread == 1 and st.too_few_teachers == 1
    assert st.by_source == {"lfw": 2}
    np.testing.assert_allclose(rows[0].box, [1, 2, 51, 62])
    np.testing.assert_allclose(rows[0].angles, [4.0, 12.0, 3.0])
    assert rows[0].weight == pytest.approx(math.exp(-2.0 / 15.0))
    rows, _ = convert_teacher_labels(src, max_spread=10.0, spread_per_deg=0.0)
    assert [r.file for r in rows] == ["lfw/a.jpg"]


def test_pose_agreement_numbers():
    pan = np.array([-30.0, 0.0, 30.0, 90.0])
    tilt = np.array([0.0, 15.0, -15.0, 0.0])
    pred = np.stack([pan + [2.0, -2.0, 2.0, -10.0], tilt + 1.0], 1)
    rep = pose_agreement(pred, pan, tilt)
    assert rep["all"]["mae_yaw"] == pytest.approx(4.0)
    assert rep["all"]["mae_pitch"] == pytest.approx(1.0)
    assert rep["core"]["n"] == 3 and rep["core"]["mae_yaw"] == pytest.approx(2.0)
    assert rep["all"]["r_yaw"] > 0.99


# ----------------------------------------------------------------------------- detection + run


class _FakeDetector:
    """Finds one face at a fixed place of the *input* it is given (after upscaling)."""

    name = "fake"

    def __init__(self, frac_box: tuple[float, float, float, float]) -> None:
        self.frac_box = np.array(frac_box)
        self.sizes: list[tuple[int, int]] = []

    def detect(self, image_rgb: np.ndarray) -> list[Detection]:
        h, w = image_rgb.shape[:2]
        self.sizes.append((h, w))
        return [Detection(box=self.frac_box * [w, h, w, h], score=0.9)]


class _FakeTeacher:
    def __init__(self, name: str, out: tuple[float, float, float] | None) -> None:
        self.name = name
        self.out = out

    def predict(self, image_bgr: np.ndarray, box: np.ndarray):
        return self.out


def test_detect_faces_maps_upscaled_boxes_back():
    det = _FakeDetector((0.25, 0.25, 0.75, 0.75))
    img = np.zeros((80, 100, 3), np.uint8)
    faces = detect_faces(det, img, min_side=320)
    assert det.sizes[0][0] == 320  # short side upscaled
    np.testing.assert_allclose(faces[0][0], [25, 20, 75, 60], atol=0.5)


def test_label_folder_end_to_end(tmp_path: Path, demo_image_bgr: np.ndarray):
    small = cv2.resize(demo_image_bgr, (128, 128))
    (tmp_path / "sub").mkdir()
    cv2.imwrite(str(tmp_path / "a.jpg"), small)
    cv2.imwrite(str(tmp_path / "sub" / "b.png"), small)
    (tmp_path / "notes.txt").write_text("not an image")
    agree = PseudoLabeler(
        [_FakeTeacher("t1", (10.0, 2.0, 0.0)), _FakeTeacher("t2", (14.0, 0.0, 2.0))],
        _FakeDetector((0.2, 0.2, 0.8, 0.8)),
    )
    raw: list[dict] = []
    rows, st = label_folder(tmp_path, agree, max_spread=10.0, raw_rows=raw, progress=False)
    assert st.images == 2 and st.kept == 2
    assert [r.file for r in rows] == ["a.jpg", "sub/b.png"]
    np.testing.assert_allclose(rows[0].angles, [12.0, 1.0, 1.0])
    assert rows[0].weight == pytest.approx(math.exp(-4.0 / 15.0))
    assert raw[0]["t1_yaw"] == 10.0 and raw[0]["kept"] == 1
    disagree = PseudoLabeler(
        [_FakeTeacher("t1", (-20.0, 0.0, 0.0)), _FakeTeacher("t2", (20.0, 0.0, 0.0))],
        _FakeDetector((0.2, 0.2, 0.8, 0.8)),
    )
    rows, st = label_folder(tmp_path, disagree, max_spread=10.0, progress=False)
    assert rows == [] and st.dropped_spread == 2
    silent = PseudoLabeler([_FakeTeacher("t1", None)], _FakeDetector((0.2, 0.2, 0.8, 0.8)))
    rows, st = label_folder(tmp_path, silent, progress=False)
    assert rows == [] and st.no_teacher == 2


# ----------------------------------------------------------------------------- teachers


def test_margin_crop_clamps():
    img = np.zeros((100, 100, 3), np.uint8)
    assert margin_crop(img, np.array([40, 40, 60, 60]), 0.6).shape[:2] == (44, 44)
    assert margin_crop(img, np.array([0, 0, 50, 50]), 0.6).shape[:2] == (80, 80)


@pytest.mark.parametrize("angles", [(30.0, 0.0, 0.0), (-20.0, 15.0, 5.0), (10.0, -25.0, -12.0)])
def test_mediapipe_matrix_conversion(angles):
    # MediaPipe's matrix maps the canonical face into an OpenGL-like camera frame
    # (y up, z towards the viewer): R_gl = D R_optical D with D = diag(1, -1, -1).
    d = np.diag([1.0, -1.0, -1.0])
    m = np.eye(4)
    m[:3, :3] = 7.0 * (d @ euler_to_matrix(*angles) @ d)  # scale is removed
    np.testing.assert_allclose(transformation_to_euler(m), angles, atol=1e-9)
    # Nose (canonical +z) of a positive-yaw face points to image-left (x < 0).
    if angles[0] > 0:
        assert (m[:3, :3] @ [0, 0, 1])[0] < 0


def test_fsanet_teacher_signs_on_pointing04(shared_dir: Path):
    teachers = pytest.importorskip("training.teachers")
    pytest.importorskip("onnxruntime")
    fs_dir = shared_dir / "models" / "teachers"
    if not list(fs_dir.glob("fsanet-*.onnx")):
        pytest.skip("FSA-Net ONNX files not found")
    from training.pseudo_label import read_pointing04

    rows = read_pointing04(shared_dir / "data" / "pointing04", [5])
    pick = {(r["pan"], r["tilt"]): r for r in rows if r["file"].split("/")[-1][8] == "1"}
    t = teachers.FSANetTeacher.from_dir(fs_dir)
    out = {}
    for key in [(-45.0, 0.0), (45.0, 0.0), (0.0, -30.0), (0.0, 30.0)]:
        r = pick[key]
        img = cv2.imread(str(shared_dir / "data" / "pointing04" / r["file"]))
        out[key] = t.predict(img, r["box"])
    assert out[(45.0, 0.0)][0] > 15.0 > -15.0 > out[(-45.0, 0.0)][0]  # yaw = pan sign
    assert out[(0.0, 30.0)][1] > out[(0.0, -30.0)][1] + 10.0  # pitch = tilt sign
