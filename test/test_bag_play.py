# Copyright 2026 The ldl_pose_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""``ldl-pose bag play`` into the real node (one process for the module), with ``--record``.

The live replay's recording is compared with the offline evaluation of the same bag:
the node and ``ldl-pose bag evaluate`` share the estimator, the geometry and the
tracker (``core.pipeline``), so with every frame processed (``--lockstep``) they must agree
frame by frame: faces, ids, poses, the primary face with its covariance, the gaze frames.
"""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

pytest.importorskip("rclpy")
pytest.importorskip("tf2_msgs.msg")

from ldl_pose_ros.bag import io, make_demo  # noqa: E402
from ldl_pose_ros.bag.evaluate import EvaluateOptions, evaluate_bag  # noqa: E402
from ldl_pose_ros.bag.messages import pose_to_arrays, transform_to_arrays  # noqa: E402
from ldl_pose_ros.core import geometry  # noqa: E402
from ldl_pose_ros.core.params import Params  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
FRAMES = 12
FPS = 10.0


@pytest.fixture(scope="module")
def tiny_weights(tiny_checkpoint: Callable[..., Path]) -> Path:
    return tiny_checkpoint(spread_heads=True)


@pytest.fixture(scope="module")
def demo_bag(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_demo.write_demo_bag(tmp_path_factory.mktemp("bag") / "demo", FRAMES, FPS,
                                    period=6 * FRAMES)


@pytest.fixture(scope="module")
def node(start_node: Callable[..., Any], tiny_weights: Path) -> Iterator[Any]:
    """The head-pose node on the demo recording's topics (JPEG input)."""
    proc = start_node("node", params={"weights": str(tiny_weights), "use_compressed": True},
                      remap={"image/compressed": make_demo.COMPRESSED_TOPIC,
                             "camera_info": make_demo.CAMERA_INFO_TOPIC})
    try:
        proc.wait_ready(90)
    except RuntimeError as exc:
        pytest.fail(f"node did not start: {exc}")
    yield proc
    proc.stop()


def _play(*args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    """``ldl-pose bag play`` as a process (this session's domain; the package's DDS profile)."""
    return subprocess.run([sys.executable, "-m", "ldl_pose_ros.cli", "bag", "play", *args],
                          cwd=REPO, capture_output=True, text=True, timeout=timeout)


def _by_stamp(bag_path: Path, topic: str) -> dict[int, Any]:
    with io.BagReader(bag_path) as bag:
        msgs = [io.deserialize(m.data, m.msgtype) for m in bag.messages([topic])]
    if topic == "/tf":
        out: dict[int, Any] = {}
        for m in msgs:
            for t in m.transforms:
                out.setdefault(io.stamp_key(t.header.stamp), {})[t.child_frame_id] = t
        return out
    return {io.stamp_key(m.header.stamp): m for m in msgs}


def test_live_replay_matches_offline_evaluation(node, demo_bag, tiny_weights, tmp_path):
    rec = tmp_path / "rec"
    r = _play(str(demo_bag), "--lockstep", "--record", str(rec), "--linger", "1")
    assert r.returncode == 0, r.stderr
    assert f"published {make_demo.CAMERA_INFO_TOPIC} {FRAMES}" in r.stderr

    params = Params().replace(weights=str(tiny_weights))
    live = evaluate_bag(EvaluateOptions(bag=demo_bag, out=tmp_path / "live", params=params,
                                        predictions=rec))
    off = evaluate_bag(EvaluateOptions(bag=demo_bag, out=tmp_path / "offline", params=params,
                                       annotated="none"))
    # Every frame processed live, at the same stamps, with the same faces and ids.
    assert live.summary["frames_processed"] == off.summary["frames_processed"] == FRAMES
    assert live.summary["frames_not_processed"] == 0
    assert [f.stamp_ns for f in live.frames] == [f.stamp_ns for f in off.frames]
    assert [len(f.faces) for f in live.frames] == [len(f.faces) for f in off.frames]
    assert sum(len(f.faces) for f in live.frames) >= FRAMES - 2  # the face is found
    for a, b in zip(live.frames, off.frames, strict=True):
        assert [x.track_id for x in a.faces] == [x.track_id for x in b.faces]
        for fa, fb in zip(a.faces, b.faces, strict=True):
            assert geometry.geodesic_deg(fa.R, fb.R) < 0.5
            np.testing.assert_allclose(fa.position, fb.position, atol=5e-3)
    assert live.summary["mae"]["mean"] == pytest.approx(off.summary["mae"]["mean"], abs=0.5)
    # Live latency was measured for every frame from the recording.
    assert all(f.latency_ms is not None and f.latency_ms > 0 for f in live.frames)

    # The recording: played topics at publication, the node's outputs with the input stamps.
    with io.BagReader(rec) as bag:
        topics = bag.topics
        assert topics[make_demo.COMPRESSED_TOPIC].count == FRAMES
        assert topics["/head_poses"].count == FRAMES
        assert topics["/image_annotated"].count == FRAMES
        tf = [io.deserialize(m.data, m.msgtype) for m in bag.messages(["/tf"])]
    assert {t.header.frame_id for m in tf for t in m.transforms} == {make_demo.FRAME_ID}
    assert {t.child_frame_id for m in tf for t in m.transforms} <= {"face_0", "gaze_0",
                                                                    "face_1", "gaze_1"}

    # Everything else a frame publishes agrees too: the primary face with its covariance,
    # and the gaze frames (the offline run's output bag against the live recording).
    off_bag = tmp_path / "offline" / "output_bag"
    live_primary, off_primary = (_by_stamp(b, "/primary_head_pose") for b in (rec, off_bag))
    assert live_primary.keys() == off_primary.keys() and len(live_primary) >= FRAMES - 2
    for stamp, a in live_primary.items():
        b = off_primary[stamp]
        assert a.header.frame_id == b.header.frame_id == make_demo.FRAME_ID
        (pa, qa), (pb, qb) = pose_to_arrays(a.pose.pose), pose_to_arrays(b.pose.pose)
        np.testing.assert_allclose(pa, pb, atol=5e-3)
        assert geometry.geodesic_deg(geometry.quaternion_to_matrix(qa),
                                     geometry.quaternion_to_matrix(qb)) < 0.5
        ca, cb = (np.asarray(m.pose.covariance).reshape(6, 6) for m in (a, b))
        np.testing.assert_allclose(ca, cb, rtol=0.05, atol=1e-7)
    live_tf, off_tf = (_by_stamp(b, "/tf") for b in (rec, off_bag))
    assert live_tf.keys() == off_tf.keys()
    gaze = 0
    for stamp, frames in live_tf.items():
        assert frames.keys() == off_tf[stamp].keys()
        for child, t in frames.items():
            (ta, qa), (tb, qb) = (transform_to_arrays(x.transform)
                                  for x in (t, off_tf[stamp][child]))
            np.testing.assert_allclose(ta, tb, atol=5e-3)
            assert geometry.geodesic_deg(geometry.quaternion_to_matrix(qa),
                                         geometry.quaternion_to_matrix(qb)) < 0.5
            gaze += child.startswith("gaze_")
    assert gaze >= FRAMES - 2


def test_play_honours_the_recorded_rate(node, demo_bag, tmp_path):
    rec = tmp_path / "rec"
    t0 = time.monotonic()
    r = _play(str(demo_bag), "--rate", "2", "--record", str(rec), "--record-topics",
              "/head_poses", "--linger", "0.5")
    assert r.returncode == 0, r.stderr
    assert time.monotonic() - t0 < 60
    with io.BagReader(rec) as bag:
        logs = [m.log_time_ns for m in bag.messages([make_demo.COMPRESSED_TOPIC])]
        stamps = [io.stamp_key(io.deserialize(m.data, m.msgtype).header.stamp)
                  for m in bag.messages([make_demo.COMPRESSED_TOPIC])]
    assert len(logs) == FRAMES
    # stamps unchanged; published every 1 / (FPS * rate) s
    assert stamps == [make_demo.START_STAMP_NS + round(i * 1e9 / FPS) for i in range(FRAMES)]
    spacing = np.diff(logs) * 1e-9
    assert spacing.mean() == pytest.approx(1.0 / (2 * FPS), abs=0.015)
    assert (logs[-1] - logs[0]) * 1e-9 == pytest.approx((FRAMES - 1) / (2 * FPS), abs=0.1)


def test_play_errors_are_clear(tmp_path, demo_bag, capsys):
    from ldl_pose_ros.cli import main

    assert main(["bag", "play", str(tmp_path / "missing")]) == 2
    assert "no such bag" in capsys.readouterr().err
    assert main(["bag", "play", str(demo_bag), "--topics", "/nope"]) == 2
    err = capsys.readouterr().err
    assert "/nope not in" in err and make_demo.COMPRESSED_TOPIC in err
    assert main(["bag", "play", str(demo_bag), "--remap", "nonsense"]) == 2
    assert "FROM:=TO" in capsys.readouterr().err
