# Copyright 2026 The ldl_pose_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""``ldl-pose bag export``: labels from ground truth or stable predictions, time-block splits."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from ldl_pose_ros.bag import io, make_demo
from ldl_pose_ros.bag.messages import TypestoreMessages
from ldl_pose_ros.bag.pseudo_labels import (
    StabilityLimits,
    select_stable,
    temporal_jumps,
    unmirror,
)
from ldl_pose_ros.bag.time_blocks import block_index, choose_val_blocks, guarded_split
from ldl_pose_ros.bag.writer import OutputBag
from ldl_pose_ros.cli import main
from ldl_pose_ros.core import geometry
from ldl_pose_ros.core.camera import nominal_intrinsics
from ldl_pose_ros.core.faces import FacePrediction
from ldl_pose_ros.core.placement import face_rotations, network_angles
from training.datasets.csvfolder import read_csv_folder

FRAMES = 24  # 1.6 s at 15 frames/s


@pytest.fixture(scope="module")
def demo_bag(tmp_path_factory) -> Path:
    return make_demo.write_demo_bag(tmp_path_factory.mktemp("b") / "demo", FRAMES)


def _rows(path: Path) -> list[dict[str, str]]:
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


# ---------------------------------------------------------------- pure parts


@pytest.mark.parametrize("box", [(300, 220, 340, 260), (20, 30, 120, 130), (560, 400, 640, 480)])
def test_network_angles_invert_the_nodes_ray_correction(box) -> None:
    intr = nominal_intrinsics(640, 480, 60.0)
    angles = (35.0, -20.0, 10.0)
    face = FacePrediction(np.array(box, float), 1.0, np.array(angles), np.ones(3))
    rot = face_rotations([face], intr, ray_correction=True)[0]
    c = intr.normalized((box[0] + box[2]) / 2, (box[1] + box[3]) / 2)
    np.testing.assert_allclose(network_angles(rot, c), angles, atol=1e-6)
    if box[0] < 100:  # off-centre: the camera-frame angles differ from the network's
        assert np.abs(geometry.face_matrix_to_euler(rot) - angles).max() > 3


def test_temporal_jumps_and_stability_selection() -> None:
    t = np.arange(6) * 0.1
    a = np.stack([np.linspace(0, 50, 6), np.zeros(6), np.zeros(6)], 1)
    a[3, 0] += 12.0  # a glitch in the middle of a smooth sweep
    j = temporal_jumps(t, a, np.zeros(6, int), max_gap_s=0.15)
    assert np.isnan(j[0]).all() and np.isnan(j[5]).all()  # track ends: not checkable
    assert j[3, 0] == pytest.approx(12.0) and j[1, 0] == pytest.approx(0.0)
    assert j[2, 0] == pytest.approx(6.0) and j[4, 0] == pytest.approx(6.0)
    # a gap longer than max_gap_s, or another track, gives no neighbour
    assert np.isnan(temporal_jumps(t * 3, a, np.zeros(6, int), 0.15)).all()
    assert np.isnan(temporal_jumps(t, a, np.arange(6), 1.0)).all()
    stds = np.full((6, 3), 4.0)
    stds[1, 2] = 30.0  # roll uncertain: matters only when roll is labelled
    mirror = np.full((6, 3), 2.0)
    mirror[4, 1] = 9.0
    lim = StabilityLimits(max_std_deg=10, max_mirror_deg=8, max_jump_deg=8)
    reason, w = select_stable(stds, mirror, j, lim)
    assert list(reason) == ["isolated", "spread", "", "jump", "mirror", "isolated"]
    assert w[2] == pytest.approx(min(1.0, 16 / (16 + 1 + 12)))  # ref 4: (4^2) / var
    assert (w[reason != ""] == 0).all()
    reason, _ = select_stable(stds, mirror, j, lim, angles=np.array([1, 1, 0], bool))
    assert reason[1] == ""
    reason, _ = select_stable(stds, mirror, j, StabilityLimits(allow_isolated=True))
    assert reason[0] == "" and reason[5] == ""
    np.testing.assert_allclose(unmirror(np.array([[10.0, 5.0, -3.0]])), [[-10.0, 5.0, 3.0]])


def test_time_blocks_split_keeps_neighbours_on_one_side() -> None:
    t = np.arange(200) * 0.1  # 20 s at 10 Hz
    blocks = block_index(t, 2.0)
    assert blocks[0] == 0 and blocks[19] == 0 and blocks[20] == 1 and blocks[-1] == 9
    val = choose_val_blocks(blocks, 0.3, seed=1)
    assert len(val) == 3 and val == choose_val_blocks(blocks, 0.3, seed=1)
    assert choose_val_blocks(blocks, 0.0, 1) == set() and len(choose_val_blocks(blocks[:5], 0.5,
                                                                                 0)) == 0
    assert len(choose_val_blocks(np.array([0, 1]), 0.99, 0)) == 1  # never every block
    side = guarded_split(t, blocks, val, guard_s=0.5)
    assert set(side) == {"train", "val", "guard"}
    tr, va = t[side == "train"], t[side == "val"]
    assert np.abs(tr[:, None] - va[None, :]).min() > 0.5
    assert (side == "val").sum() + (side == "guard").sum() >= 50


# ---------------------------------------------------------------- the command


def test_export_with_ground_truth(demo_bag, tmp_path) -> None:
    out = tmp_path / "gt"
    code = main(["bag", "export", str(demo_bag), "--out", str(out), "--device", "cpu",
                 "--val-fraction", "0.4", "--block-seconds", "0.4", "--guard-seconds", "0.1",
                 "--identity", "alice"])
    assert code == 0
    summary = json.loads((out / "export.json").read_text())
    assert summary["labels"] == "gt" and summary["frames"] == FRAMES
    assert summary["exported"] >= FRAMES - 2  # one face per frame, matched to the truth
    labels = _rows(out / "labels.csv")
    assert list(labels[0]) == ["file", "x1", "y1", "x2", "y2", "yaw", "pitch", "roll", "weight"]
    assert all(r["weight"] == "1" for r in labels)
    # frame 0 shows the photograph unrotated: the label is its reference pose
    first = next(r for r in _rows(out / "index.csv") if r["frame"] == "0")
    np.testing.assert_allclose([float(first[k]) for k in ("yaw", "pitch", "roll")],
                               make_demo.REFERENCE_POSE, atol=0.5)
    # the training tree reads it: identity from the folder, crops that hold the box
    samples = read_csv_folder(out / "labels.csv")
    assert {s.identity for s in samples} == {"alice"} and len(samples) == len(labels)
    img = cv2.imread(samples[0].image)
    x1, y1, x2, y2 = samples[0].box
    assert 0 <= x1 < x2 <= img.shape[1] and 0 <= y1 < y2 <= img.shape[0]
    # time-block split: no training face within the guard gap of a validation face
    index = _rows(out / "index.csv")
    t = {r["file"]: float(r["time_s"]) for r in index if r["file"]}
    tr = np.array([t[r["file"]] for r in _rows(out / "train.csv")])
    va = np.array([t[r["file"]] for r in _rows(out / "val.csv")])
    assert len(tr) and len(va) and np.abs(tr[:, None] - va[None, :]).min() > 0.1
    guard = sum(r["split"] == "guard" for r in index)
    assert len(tr) + len(va) + guard == len(labels)
    # only exported faces keep image files
    files = {p.relative_to(out).as_posix() for p in out.rglob("*.jpg")}
    assert files == {r["file"] for r in labels}
    # exporting again into the folder replaces the earlier export (another identity here)
    assert main(["bag", "export", str(demo_bag), "--out", str(out), "--device", "cpu",
                 "--identity", "bob", "--max-frames", "5"]) == 0
    assert {p.relative_to(out).parts[0] for p in out.rglob("*.jpg")} == {"bob"}
    assert not (out / "train.csv").exists() and len(_rows(out / "labels.csv")) == 5
    # a result name taken by a file the export did not write (or edited since): refused,
    # and nothing in the folder changes
    (out / "labels.csv").write_text("edited by hand\n")
    before = {p: p.read_bytes() for p in out.rglob("*") if p.is_file()}
    assert main(["bag", "export", str(demo_bag), "--out", str(out)]) == 2
    assert {p: p.read_bytes() for p in out.rglob("*") if p.is_file()} == before


def test_export_pseudo_labels_respects_the_limits(demo_bag, tmp_path) -> None:
    out = tmp_path / "ps"
    code = main(["bag", "export", str(demo_bag), "--out", str(out), "--device", "cpu",
                 "--labels", "pseudo", "--max-std", "20", "--max-mirror-deg", "15",
                 "--max-jump-deg", "15", "--label-angles", "yaw,pitch", "--save", "frames"])
    index = _rows(out / "index.csv")
    exported = [r for r in index if r["status"] == "exported"]
    assert code == (0 if exported else 1)
    assert len(index) >= FRAMES - 2 and {r["status"] for r in index} <= {
        "exported", "spread", "mirror", "isolated", "jump"}
    assert not any(r["status"] == "exported" for r in index if r["frame"] in ("0", "23"))
    for r in exported:
        assert r["label_source"] == "pseudo" and 0 < float(r["weight"]) <= 1
        assert max(float(r["yaw_std"]), float(r["pitch_std"])) <= 20
        assert float(r["mirror_deg"]) <= 15 and float(r["jump_deg"]) <= 15
        assert abs(float(r["yaw"]) - float(r["net_yaw"])) <= 7.5  # mean with the mirror
    labels = _rows(out / "labels.csv")
    assert all(r["roll"] == "" for r in labels)  # not labelled
    # whole frames: the box is the detector's box in the frame
    for r, lab in zip(exported, labels, strict=True):
        assert float(lab["x1"]) == pytest.approx(float(r["frame_x1"]), abs=0.01)
    summary = json.loads((out / "export.json").read_text())
    assert summary["labels"] == "pseudo" and summary["limits"]["max_std_deg"] == 20


def test_damaged_bag_is_exported_up_to_the_damage(tmp_path, capsys) -> None:
    bag = make_demo.write_demo_bag(tmp_path / "cut", 8, raw=True)
    f = next(bag.glob("*.mcap"))
    data = f.read_bytes()
    f.write_bytes(data[: int(len(data) * 0.7)])
    out = tmp_path / "o"
    assert main(["bag", "export", str(bag), "--out", str(out), "--device", "cpu"]) == 3
    assert "stopped early" in capsys.readouterr().err
    s = json.loads((out / "export.json").read_text())
    assert s["stopped"] and 0 < s["frames"] < 8 and s["exported"] >= 1
    assert len(_rows(out / "labels.csv")) == s["exported"]


def test_missing_topics_and_bad_arguments_give_one_clear_line(demo_bag, tmp_path,
                                                              capsys) -> None:
    images_only = tmp_path / "images_only"
    with io.BagReader(demo_bag) as src, OutputBag(images_only) as dst:
        for m in src.messages([make_demo.COMPRESSED_TOPIC]):
            dst.write_raw(m.topic, m.msgtype, m.log_time_ns, m.data)
    out = tmp_path / "o"
    assert main(["bag", "export", str(images_only), "--out", str(out), "--labels", "gt"]) == 2
    err = capsys.readouterr().err
    assert "--labels gt: no ground truth" in err and make_demo.COMPRESSED_TOPIC in err
    assert not out.exists()
    no_images = tmp_path / "noimg"
    msgs = TypestoreMessages()
    with OutputBag(no_images) as b:
        b.write("/pose", msgs.pose_stamped(msgs.header(1, 0, "c"), np.array([0.0, 0, 1]),
                                           np.eye(3)), 1)
    assert main(["bag", "export", str(no_images), "--out", str(out)]) == 2
    assert "no image topic" in capsys.readouterr().err
    assert main(["bag", "export", str(demo_bag), "--out", str(out), "--image-topic",
                 "/nope"]) == 2
    assert "topic /nope is not in" in capsys.readouterr().err
    assert main(["bag", "export", str(demo_bag), "--out", str(out), "--label-angles",
                 "yaw,tilt"]) == 2
    assert "label angles" in capsys.readouterr().err
    assert main(["bag", "export", str(demo_bag), "--out", str(out), "--val-fraction", "1"]) == 2
    assert main(["bag", "export", str(demo_bag), "--out", str(out), "--gt-frame", "head",
                 "--labels", "pseudo"]) == 2
    assert not out.exists()


def test_ground_truth_that_cannot_be_aligned_leaves_nothing_behind(tmp_path, capsys) -> None:
    """--align-frames finds no frame with both a face and ground truth: error, no files left."""
    demo = make_demo.write_demo_bag(tmp_path / "demo", 8)
    bag, msgs = tmp_path / "mocap", TypestoreMessages()
    ok, blank = cv2.imencode(".jpg", np.full((120, 160, 3), 128, np.uint8))
    assert ok
    with io.BagReader(demo) as src, OutputBag(bag) as dst:
        for i, m in enumerate(src.messages([make_demo.COMPRESSED_TOPIC])):
            if i >= 5:  # faces from here on, and no ground truth
                dst.write_raw(m.topic, m.msgtype, m.log_time_ns, m.data)
                continue
            header = io.deserialize(m.data, m.msgtype).header
            dst.write(m.topic, msgs.compressed_image(header, blank.tobytes(), "jpeg"),
                      m.log_time_ns)
            if i < 3:  # ground truth in a mocap frame, on frames without a face
                gt = msgs.header(header.stamp.sec, header.stamp.nanosec, "mocap")
                dst.write("/head_pose_gt", msgs.pose_stamped(gt, np.array([0.0, 0, 1]),
                                                             np.eye(3)), m.log_time_ns)
    out = tmp_path / "o"
    assert main(["bag", "export", str(bag), "--out", str(out), "--device", "cpu",
                 "--align-frames", "2"]) == 2
    err = capsys.readouterr().err
    assert "ground truth cannot be used" in err and "nothing was exported" in err
    assert not out.exists()
