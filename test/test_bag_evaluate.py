# Copyright 2026 The ldl_pose_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""``ldl-pose bag evaluate`` without ROS: bags in (sqlite3, MCAP), output bag and reports out.

A random-init checkpoint is used, so nothing here depends on model accuracy: the
checks are on counts, stamps, frames, topics, and on metrics computed from known
poses (recordings whose poses are the ground truth, or off by a known rotation).
"""

from __future__ import annotations

import csv
import math
import shutil
from pathlib import Path

import numpy as np
import pytest

from ldl_pose_ros.bag import io, make_demo
from ldl_pose_ros.bag.evaluate import EvaluateOptions, evaluate_bag
from ldl_pose_ros.bag.groundtruth import GroundTruthError, Pose, parse_transform
from ldl_pose_ros.bag.messages import TypestoreMessages, pose_to_arrays, transform_to_arrays
from ldl_pose_ros.bag.report import FACE_COLUMNS, FRAME_COLUMNS, METRICS_COLUMNS
from ldl_pose_ros.bag.writer import OutputBag
from ldl_pose_ros.core import geometry
from ldl_pose_ros.core.outputs import ChildFrame
from ldl_pose_ros.core.params import Params
from ldl_pose_ros.core.pipeline import build_estimator

FRAMES = 8
REPO = Path(__file__).resolve().parents[1]
MSGS = TypestoreMessages()


def _header(stamp_ns: int, frame_id: str):
    return MSGS.header(stamp_ns // 1_000_000_000, stamp_ns % 1_000_000_000, frame_id)


@pytest.fixture(scope="module")
def tiny_weights(tiny_checkpoint):
    """A small random-init checkpoint (plumbing only, not accuracy), spread angles."""
    return tiny_checkpoint(spread_heads=True)


@pytest.fixture(scope="module")
def params(tiny_weights):
    return Params().replace(weights=str(tiny_weights), device="cpu", threads=1)


@pytest.fixture(scope="module")
def estimator(params):
    est = build_estimator(params)
    yield est
    est.close()


@pytest.fixture(scope="module")
def demo_mcap(tmp_path_factory):
    """JPEG demo recording, MCAP."""
    return make_demo.write_demo_bag(tmp_path_factory.mktemp("b") / "demo_mcap", FRAMES)


@pytest.fixture(scope="module")
def demo_sqlite(tmp_path_factory):
    """Raw bgr8 demo recording, sqlite3."""
    return make_demo.write_demo_bag(tmp_path_factory.mktemp("b") / "demo_sqlite", FRAMES,
                                    raw=True, storage="sqlite3")


def _read(bag_path: Path) -> dict[str, list[tuple[int, object]]]:
    out: dict[str, list[tuple[int, object]]] = {}
    with io.BagReader(bag_path) as bag:
        for m in bag.messages(list(bag.topics)):
            out.setdefault(m.topic, []).append((m.log_time_ns, io.deserialize(m.data, m.msgtype)))
    return out


def _csv(path: Path) -> list[dict[str, str]]:
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def _evaluate(bag, out, params, estimator=None, **kw):
    return evaluate_bag(EvaluateOptions(bag=Path(bag), out=Path(out), params=params, **kw),
                        estimator=estimator)


# ---------------------------------------------------------------- offline evaluation


@pytest.mark.parametrize("which", ["demo_mcap", "demo_sqlite"])
def test_evaluate_writes_output_bag_and_reports(which, request, tmp_path, params, estimator):
    bag = request.getfixturevalue(which)
    annotated = "raw" if which == "demo_sqlite" else "jpeg"
    res = _evaluate(bag, tmp_path, params, estimator, annotated=annotated)
    assert res.exit_code == 0 and res.stopped is None
    s = res.summary
    assert s["frames"] == s["frames_processed"] == FRAMES
    assert s["frames_with_gt"] == FRAMES and s["mode"] == "offline"

    inp = _read(bag)
    image_topic = make_demo.IMAGE_TOPIC if which == "demo_sqlite" else make_demo.COMPRESSED_TOPIC
    stamps = [io.stamp_key(m.header.stamp) for _, m in inp[image_topic]]
    logs = [t for t, _ in inp[image_topic]]
    out = _read(tmp_path / "output_bag")
    ann = "/image_annotated" if annotated == "raw" else "/image_annotated/compressed"
    assert {image_topic, make_demo.CAMERA_INFO_TOPIC, make_demo.GT_TOPIC, "/head_poses", ann,
            "/tf"} <= set(out)
    # The input image topic is copied unchanged; outputs are stamped and logged like it.
    assert [t for t, _ in out[image_topic]] == logs
    for topic in ("/head_poses", ann):
        assert [t for t, _ in out[topic]] == logs
        assert [io.stamp_key(m.header.stamp) for _, m in out[topic]] == stamps
        assert {m.header.frame_id for _, m in out[topic]} == {make_demo.FRAME_ID}
    if annotated == "raw":
        img = out[ann][0][1]
        assert (img.width, img.height, img.encoding) == (make_demo.WIDTH, make_demo.HEIGHT, "bgr8")
    # One TF message per frame with published faces: face_<id> and gaze_<id> of the camera.
    faces_per_frame = {io.stamp_key(m.header.stamp): len(m.poses) for _, m in out["/head_poses"]}
    assert len(out["/tf"]) == sum(1 for n in faces_per_frame.values() if n)
    for log_ns, tf in out["/tf"]:
        key = io.stamp_key(tf.transforms[0].header.stamp)
        assert log_ns == logs[stamps.index(key)]
        children = sorted(t.child_frame_id for t in tf.transforms)
        assert len(children) == 2 * faces_per_frame[key]
        assert all(c.startswith(("face_", "gaze_")) for c in children)
        assert {t.header.frame_id for t in tf.transforms} == {make_demo.FRAME_ID}
        # face_<id> carries the head_poses pose of the same frame
        pa = next(m for _, m in out["/head_poses"] if io.stamp_key(m.header.stamp) == key)
        face = next(t for t in tf.transforms if t.child_frame_id.startswith("face_"))
        p, q = transform_to_arrays(face.transform)
        pp, pq = pose_to_arrays(pa.poses[0])
        np.testing.assert_allclose(p, pp)
        np.testing.assert_allclose(q, pq)

    # Reports: columns, one row per frame / face, metrics that follow from the rows.
    frames = _csv(tmp_path / "frames.csv")
    assert list(frames[0]) == list(FRAME_COLUMNS) and len(frames) == FRAMES
    assert [int(r["stamp"].replace(".", "")) for r in frames] == stamps
    faces = _csv(tmp_path / "faces.csv")
    assert list(faces[0]) == list(FACE_COLUMNS)
    assert len(faces) == s["faces"] == sum(faces_per_frame.values())
    metrics = _csv(tmp_path / "metrics.csv")
    assert list(metrics[0]) == list(METRICS_COLUMNS) and len(metrics) == 1
    matched = [r for r in frames if r["matched"] == "1"]
    assert len(matched) == s["frames_matched"] == int(metrics[0]["frames_matched"])
    for a in ("yaw", "pitch", "roll"):
        mean_abs = np.mean([abs(float(r[f"err_{a}"])) for r in matched])
        assert mean_abs == pytest.approx(s["mae"][a], abs=2e-3)
        assert float(metrics[0][f"mae_{a}"]) == pytest.approx(s["mae"][a], abs=1e-3)
    assert np.mean([float(r["geodesic"]) for r in matched]) == pytest.approx(
        s["geodesic"]["mean"], abs=2e-3)
    # Per-frame processing time and the node's simulated latency are reported.
    assert all(float(r["processing_ms"]) > 0 for r in frames)
    assert s["processing_fps"] > 0 and s["latency_ms"]["mean"] >= s["processing_ms"]["mean"] - 1e-6
    for name in ("report.md", "metrics.json", "angles.png", "latency.png", "pred_vs_true.png"):
        assert (tmp_path / name).is_file(), name
    md = (tmp_path / "report.md").read_text()
    assert "Detection rate" in md and "MAE yaw" in md


# ---------------------------------------------------------------- known poses


def _gt(bag: Path) -> dict[int, tuple[int, Pose]]:
    """Ground truth of the demo bag: stamp -> (log time, pose in the camera)."""
    out = {}
    for t, m in _read(bag)[make_demo.GT_TOPIC]:
        p, q = pose_to_arrays(m.pose)
        out[io.stamp_key(m.header.stamp)] = (t, Pose.from_quaternion(p, q))
    return out


def _write_recording(path: Path, frames: dict[int, list[tuple[int, Pose]]],
                     image_log: dict[int, int] | None = None, latency_ns: int = 0) -> None:
    """A recording of 'the node': head_poses + /tf per stamp (faces: (id, pose in camera))."""
    with OutputBag(path) as bag:
        for stamp, faces in sorted(frames.items()):
            header = _header(stamp, make_demo.FRAME_ID)
            log = (image_log or {}).get(stamp, stamp) + latency_ns
            if image_log is not None:
                bag.write_raw(make_demo.COMPRESSED_TOPIC, io.COMPRESSED_IMAGE, image_log[stamp],
                              io.serialize(MSGS.compressed_image(header, b"\xff\xd8")))
            bag.write("/head_poses", MSGS.new(io.POSE_ARRAY, header=header, poses=[
                MSGS.pose(p.t, p.R) for _, p in faces]), log)
            if faces:
                bag.write("/tf", MSGS.tf_message(
                    header, [ChildFrame(f"face_{i}", p.t, p.R) for i, p in faces]), log)


def _rz(deg: float) -> np.ndarray:
    return geometry.euler_to_matrix(0.0, 0.0, deg)


def test_recorded_poses_equal_to_ground_truth_score_zero(demo_mcap, tmp_path):
    gt = _gt(demo_mcap)
    stamps = sorted(gt)
    rec = tmp_path / "rec"
    image_log = {s: gt[s][0] for s in stamps}
    # frame 0: not processed by the node; frame 1: processed, no face; others: the truth.
    frames = {s: [(0, gt[s][1])] for s in stamps[2:]}
    frames[stamps[1]] = []
    _write_recording(rec, frames, image_log, latency_ns=25_000_000)
    res = _evaluate(demo_mcap, tmp_path / "ev", Params(), predictions=rec)
    s = res.summary
    assert s["mode"] == "recorded"
    assert s["frames"] == FRAMES and s["frames_not_processed"] == 1
    assert s["frames_processed"] == FRAMES - 1
    assert s["frames_matched"] == FRAMES - 2
    assert s["detection_rate"] == pytest.approx((FRAMES - 2) / (FRAMES - 1))
    assert s["mae"]["mean"] == pytest.approx(0.0, abs=1e-6)
    assert s["geodesic"]["mean"] == pytest.approx(0.0, abs=1e-3)
    assert s["id_switches"] == 0 and s["false_positives"] == 0
    assert s["latency_ms"]["mean"] == pytest.approx(25.0, abs=1e-3)
    rows = _csv(tmp_path / "ev" / "frames.csv")
    assert [r["status"] for r in rows[:2]] == ["not_processed", "ok"]
    assert rows[2]["latency_ms"] == "25.000"


def test_recorded_known_error_id_switch_and_false_positive(demo_mcap, tmp_path):
    """Poses off by 10 degrees of in-plane rotation; an id change; an extra face far away."""
    gt = _gt(demo_mcap)
    stamps = sorted(gt)
    frames = {}
    for k, s in enumerate(stamps):
        true = gt[s][1]
        off = Pose(_rz(10.0) @ true.R, true.t)
        faces = [(0 if k < 4 else 7, off)]
        if k == 3:  # a second face, 40 degrees away from the true head's ray
            faces.append((1, Pose(true.R, geometry.euler_to_matrix(40.0, 0.0, 0.0) @ true.t)))
        frames[s] = faces
    rec = tmp_path / "rec"
    _write_recording(rec, frames)
    s = _evaluate(demo_mcap, tmp_path / "ev", Params(), predictions=rec).summary
    assert s["frames_matched"] == FRAMES and s["detection_rate"] == 1.0
    assert s["geodesic"]["mean"] == pytest.approx(10.0, abs=1e-6)
    assert s["geodesic"]["max"] == pytest.approx(10.0, abs=1e-6)
    assert s["id_switches"] == 1 and s["false_positives"] == 1 and s["tracks"] == 3
    assert s["latency_ms"]["mean"] is None or math.isnan(s["latency_ms"]["mean"])


def test_tf_ground_truth_with_given_and_estimated_transform(demo_mcap, tmp_path):
    """Ground truth as a mocap TF frame: given camera-to-mocap transform, or aligned."""
    gt = _gt(demo_mcap)
    x = "0.1,-0.2,1.5,0.1830127,0.1830127,0.6830127,0.6830127"
    T_cam_mocap = parse_transform(x)
    bag = tmp_path / "mocap_bag"
    with io.BagReader(demo_mcap) as src, OutputBag(bag) as dst:
        for m in src.messages([make_demo.COMPRESSED_TOPIC]):
            dst.write_raw(m.topic, m.msgtype, m.log_time_ns, m.data)
        # Mocap samples 10 ms before and after each image; interpolation gives the truth.
        d = np.array([0.01, -0.02, 0.005])
        for stamp, (_, pose) in sorted(gt.items()):
            for dt, sign in ((-10_000_000, -1.0), (10_000_000, 1.0)):
                pm = T_cam_mocap.inverse() @ Pose(pose.R, pose.t + sign * d)
                header = _header(stamp + dt, "mocap_world")
                dst.write("/tf", MSGS.tf_message(header, [ChildFrame("head_body", pm.t, pm.R)]),
                          stamp + dt)
    rec = tmp_path / "rec"
    _write_recording(rec, {s: [(0, gt[s][1])] for s in gt})

    with pytest.raises(GroundTruthError, match="--camera-to-mocap"):
        _evaluate(bag, tmp_path / "none", Params(), predictions=rec,
                  gt_frame="head_body")
    s = _evaluate(bag, tmp_path / "given", Params(), predictions=rec,
                  gt_frame="head_body", camera_to_mocap=x).summary
    assert s["frames_matched"] == FRAMES
    assert s["geodesic"]["max"] == pytest.approx(0.0, abs=1e-3)
    s = _evaluate(bag, tmp_path / "aligned", Params(), predictions=rec,
                  gt_frame="head_body", align_frames=3).summary
    assert s["frames_aligned"] == 3 and s["frames_scored"] == FRAMES - 3
    assert s["geodesic"]["max"] == pytest.approx(0.0, abs=1e-3)
    est = parse_transform(s["ground_truth"]["camera_to_mocap"])
    assert geometry.geodesic_deg(est.R, T_cam_mocap.R) < 1e-2
    np.testing.assert_allclose(est.t, T_cam_mocap.t, atol=1e-3)


# ---------------------------------------------------------------- bad input


def _bag_with_images(path: Path, encodings: list[str], corrupt: set[int] = frozenset(),
                     storage: str = "mcap") -> Path:
    from rosbags.rosbag2 import StoragePlugin, Writer

    plugin = StoragePlugin.MCAP if storage == "mcap" else StoragePlugin.SQLITE3
    with Writer(path, version=9, storage_plugin=plugin) as w:
        c = w.add_connection("/cam/image", io.IMAGE, typestore=io.typestore())
        for i, enc in enumerate(encodings):
            stamp = (100 + i) * 100_000_000
            header = _header(stamp, "cam")
            ch = 2 if "16" in enc else 1 if enc.startswith("bayer") else 3
            msg = MSGS.image(header, np.zeros((48, 64, 3), np.uint8), "bgr8")
            msg = type(msg)(header=header, height=48, width=64, encoding=enc, is_bigendian=0,
                            step=64 * ch, data=np.zeros(48 * 64 * ch, np.uint8))
            data = bytes(io.serialize(msg))
            if i in corrupt:
                data = data[:20]
            w.write(c, stamp, data)
    return path


def test_unknown_encodings_are_reported_per_frame(tmp_path, params, estimator):
    bag = _bag_with_images(tmp_path / "enc", ["bayer_rggb8", "16UC1", "bgr8", "weird"],
                           corrupt={3})
    res = _evaluate(bag, tmp_path / "out", params, estimator, no_gt=True)
    rows = _csv(tmp_path / "out" / "frames.csv")
    assert [r["status"] for r in rows] == ["bad_input", "bad_input", "ok", "bad_input"]
    assert rows[0]["detail"].startswith("encoding:") and "Bayer" in rows[0]["detail"]
    assert rows[1]["detail"].startswith("encoding:") and "16UC1" in rows[1]["detail"]
    assert rows[3]["detail"].startswith("decode:")
    assert res.exit_code == 0 and res.summary["frames_bad_input"] == 3
    assert "Bad input (3 frames)" in (tmp_path / "out" / "report.md").read_text()
    # Every input image is still in the output bag, as it was (the corrupt one too).
    with io.BagReader(tmp_path / "out" / "output_bag") as b:
        assert b.topics["/cam/image"].count == 4


def test_image_with_invalid_stamp_is_refused_and_counted(tmp_path, params, estimator):
    """A stamp with nanosec >= 1e9 is refused as the node does, not rolled over."""
    from rosbags.rosbag2 import StoragePlugin, Writer

    bag = tmp_path / "stamp"
    with Writer(bag, version=9, storage_plugin=StoragePlugin.MCAP) as w:
        c = w.add_connection("/cam/image", io.IMAGE, typestore=io.typestore())
        for i, nanosec in enumerate((100_000_000, 1_500_000_000, 300_000_000)):
            header = MSGS.header(10 + i, nanosec, "cam")
            msg = MSGS.image(header, np.zeros((48, 64, 3), np.uint8), "bgr8")
            w.write(c, (10 + i) * 1_000_000_000, bytes(io.serialize(msg)))
    res = _evaluate(bag, tmp_path / "out", params, estimator, no_gt=True)
    rows = _csv(tmp_path / "out" / "frames.csv")
    assert [r["status"] for r in rows] == ["ok", "bad_input", "ok"]
    assert rows[1]["detail"].startswith("stamp:") and "1500000000" in rows[1]["detail"]
    assert rows[1]["stamp"] == "0.000000000"  # no stamp rolled into the next second
    assert [r["stamp"] for r in rows[::2]] == ["10.100000000", "12.300000000"]
    assert res.exit_code == 0 and res.summary["frames_bad_input"] == 1


def test_cli_exit_codes_for_bad_weights_and_unusable_images(tmp_path, tiny_weights, capsys):
    from ldl_pose_ros.cli import main

    bag = _bag_with_images(tmp_path / "enc", ["32FC1", "32FC1"])
    out = tmp_path / "out"
    assert main(["bag", "evaluate", str(bag), "--out", str(out), "--weights", "nonexistent.ckpt",
                 "--device", "cpu"]) == 2  # bad weights: usage error before any frame
    assert not (out / "frames.csv").exists()
    capsys.readouterr()
    assert main(["bag", "evaluate", str(bag), "--out", str(out), "--weights", str(tiny_weights),
                 "--device", "cpu", "--annotated", "none"]) == 1
    err = capsys.readouterr().err
    assert "no frame could be processed" in err
    assert "'32FC1' images are not supported" in (out / "report.md").read_text()


@pytest.mark.parametrize("storage", ["mcap", "sqlite3"])
def test_truncated_bag_keeps_partial_results(storage, tmp_path, demo_mcap, params, estimator):
    if storage == "mcap":  # raw images: about one 1 MB chunk per frame
        bag = make_demo.write_demo_bag(tmp_path / "cut", FRAMES, raw=True)
        f = next(bag.glob("*.mcap"))
    else:
        bag = make_demo.write_demo_bag(tmp_path / "cut", FRAMES, raw=True, storage="sqlite3")
        f = next(bag.glob("*.db3"))
    data = f.read_bytes()
    f.write_bytes(data[: int(len(data) * 0.7)])
    res = _evaluate(bag, tmp_path / "out", params, estimator)
    assert res.exit_code == 3 and res.stopped
    n = res.summary["frames"]
    assert 0 < n < FRAMES and res.summary["frames_processed"] == n
    assert any("damaged" in w for w in res.warnings)
    md = (tmp_path / "out" / "report.md").read_text()
    assert "Stopped early" in md
    assert len(_csv(tmp_path / "out" / "frames.csv")) == n
    out = _read(tmp_path / "out" / "output_bag")  # closed and readable
    assert len(out["/head_poses"]) == n
    assert res.summary["frames_with_gt"] >= n - 1  # ground truth read up to the damage


def test_bag_without_metadata_is_read(tmp_path, demo_mcap):
    bag = tmp_path / "nometa"
    shutil.copytree(demo_mcap, bag)
    (bag / "metadata.yaml").unlink()
    with io.BagReader(bag) as b:
        assert any("no metadata.yaml" in w for w in b.warnings)
        assert b.topics[make_demo.COMPRESSED_TOPIC].count == FRAMES


def test_missing_and_bad_inputs_give_clear_errors(tmp_path, demo_mcap, params):
    with pytest.raises(io.BagError, match="no such bag"):
        _evaluate(tmp_path / "nope", tmp_path / "o", params)
    junk = tmp_path / "junk.mcap"
    junk.write_bytes(b"this is not a bag at all" * 10)
    with pytest.raises(io.BagError, match="not an MCAP file"):
        _evaluate(junk, tmp_path / "o", params)
    (tmp_path / "emptydir").mkdir()
    with pytest.raises(io.BagError, match="not a rosbag2 bag"):
        _evaluate(tmp_path / "emptydir", tmp_path / "o", params)
    with pytest.raises(io.BagError, match=r"(?s)not in .*/camera/camera_info"):
        _evaluate(demo_mcap, tmp_path / "o", params, image_topic="/nope")
    with pytest.raises(io.BagError, match="has type geometry_msgs/msg/PoseStamped"):
        _evaluate(demo_mcap, tmp_path / "o", params, image_topic=make_demo.GT_TOPIC)
    with pytest.raises(io.BagError, match="no such TF frame"):
        gtb = tmp_path / "tfbag"
        with io.BagReader(demo_mcap) as src, OutputBag(gtb) as dst:
            for m in src.messages([make_demo.COMPRESSED_TOPIC]):
                dst.write_raw(m.topic, m.msgtype, m.log_time_ns, m.data)
            dst.write("/tf", MSGS.tf_message(_header(1, "world"), [
                ChildFrame("x", np.zeros(3), np.eye(3))]), 1)
        _evaluate(gtb, tmp_path / "o", params, gt_frame="head")
    with pytest.raises(io.BagError, match="has no /tf"):
        _evaluate(demo_mcap, tmp_path / "o", params, gt_frame="head")
    no_images = tmp_path / "noimg"
    with OutputBag(no_images) as b:
        b.write("/pose", MSGS.pose_stamped(MSGS.header(1, 0, "c"), np.array([0.0, 0, 1]),
                                           np.eye(3)), 1)
    with pytest.raises(io.BagError, match=r"(?s)no image topic.*/pose \(geometry_msgs"):
        _evaluate(no_images, tmp_path / "o", params)
    with pytest.raises(GroundTruthError, match="7 finite numbers"):
        _evaluate(demo_mcap, tmp_path / "o", params, camera_to_mocap="1,2,3")


def test_cli_reports_missing_topic(tmp_path, demo_mcap, capsys):
    from ldl_pose_ros.cli import main

    code = main(["bag", "evaluate", str(demo_mcap), "--out", str(tmp_path / "o"),
                 "--image-topic", "/missing"])
    err = capsys.readouterr().err
    assert code == 2
    assert "topic /missing is not in" in err and make_demo.COMPRESSED_TOPIC in err


def test_output_bag_reads_the_same_with_an_independent_mcap_reader(tmp_path, demo_mcap, params,
                                                                   estimator):
    """Foxglove's ``mcap`` reader decodes the output bag to the messages rosbags reads."""
    from _mcap_check import read_independently

    res = _evaluate(demo_mcap, tmp_path, params, estimator, annotated="jpeg")
    assert res.exit_code == 0
    ours = _read(tmp_path / "output_bag")
    theirs = read_independently(tmp_path / "output_bag")
    assert {t: len(v) for t, v in theirs.items()} == {t: len(v) for t, v in ours.items()}
    assert {"/head_poses", "/tf", "/image_annotated/compressed"} <= set(theirs)
    for topic in theirs:
        assert [t for t, _ in theirs[topic]] == sorted(t for t, _ in ours[topic]), topic
    for (_, a), (_, b) in zip(theirs["/head_poses"], ours["/head_poses"], strict=True):
        assert (a.header.stamp.sec, a.header.stamp.nanosec, a.header.frame_id) == (
            b.header.stamp.sec, b.header.stamp.nanosec, b.header.frame_id)
        assert [(p.orientation.x, p.orientation.y, p.orientation.z, p.orientation.w)
                for p in a.poses] == [(p.orientation.x, p.orientation.y, p.orientation.z,
                                       p.orientation.w) for p in b.poses]
    for (_, a), (_, b) in zip(theirs["/tf"], ours["/tf"], strict=True):
        assert [t.child_frame_id for t in a.transforms] == [t.child_frame_id
                                                            for t in b.transforms]
        assert [t.transform.translation.z for t in a.transforms] == [
            t.transform.translation.z for t in b.transforms]
