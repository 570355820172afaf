# Copyright 2026 The ldl_pose_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""``ldl-pose bag play`` into the real node (one process for the module), with ``--record``.

The live replay's recording is compared with the offline evaluation of the same bag:
the node and ``ldl-pose bag evaluate`` share the estimator, the geometry and the
tracker, so with every frame processed (``--lockstep``) they must agree frame by frame.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("rclpy")
pytest.importorskip("tf2_msgs.msg")

from ldl_pose_ros.bag import io, make_demo  # noqa: E402
from ldl_pose_ros.bag.evaluate import EvaluateOptions, evaluate_bag  # noqa: E402
from ldl_pose_ros.bag.pipeline import PipelineParams  # noqa: E402
from ldl_pose_ros.core import geometry  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
FRAMES = 12
FPS = 10.0


def _env() -> dict[str, str]:
    env = dict(os.environ)  # ROS_DOMAIN_ID and localhost discovery come from conftest
    env["ROS_AUTOMATIC_DISCOVERY_RANGE"] = "LOCALHOST"
    env.pop("ROS_LOCALHOST_ONLY", None)
    env["PYTHONUNBUFFERED"] = "1"
    env["FASTDDS_DEFAULT_PROFILES_FILE"] = str(REPO / "config" / "fastdds_large_images.xml")
    return env


@pytest.fixture(scope="module")
def tiny_weights(tmp_path_factory):
    import torch

    from ldl_pose_ros.model import LDLHeadPoseNet, ModelConfig, save_checkpoint

    torch.manual_seed(0)
    cfg = ModelConfig(backbone="mobilenetv3_small", input_size=64, width_mult=0.5)
    net = LDLHeadPoseNet(cfg)
    with torch.no_grad():
        for head in net.heads:
            head.weight.normal_(0.0, 0.5)
    return save_checkpoint(tmp_path_factory.mktemp("w") / "tiny.ckpt", net, cfg)


@pytest.fixture(scope="module")
def demo_bag(tmp_path_factory):
    return make_demo.write_demo_bag(tmp_path_factory.mktemp("bag") / "demo", FRAMES, FPS,
                                    period=6 * FRAMES)


@pytest.fixture(scope="module")
def node(tmp_path_factory, tiny_weights):
    """The head-pose node on the demo recording's topics (JPEG input)."""
    log = tmp_path_factory.mktemp("node") / "node.log"
    with open(log, "w") as fh:
        proc = subprocess.Popen(
            [sys.executable, "-m", "ldl_pose_ros.ros.node", "--ros-args",
             "--params-file", str(REPO / "config" / "pose.yaml"),
             "-p", f"weights:={tiny_weights}", "-p", "use_compressed:=true",
             "-r", f"image/compressed:={make_demo.COMPRESSED_TOPIC}",
             "-r", f"camera_info:={make_demo.CAMERA_INFO_TOPIC}"],
            cwd=REPO, env=_env(), stdout=fh, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 90
        while "ready:" not in log.read_text(errors="replace"):
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                pytest.fail("node did not start:\n" + log.read_text(errors="replace")[-3000:])
            time.sleep(0.1)
        yield proc
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _play(*args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "ldl_pose_ros.cli", "bag", "play", *args],
                          cwd=REPO, env=_env(), capture_output=True, text=True, timeout=timeout)


def test_live_replay_matches_offline_evaluation(node, demo_bag, tiny_weights, tmp_path):
    rec = tmp_path / "rec"
    r = _play(str(demo_bag), "--lockstep", "--record", str(rec), "--linger", "1")
    assert r.returncode == 0, r.stderr
    assert f"published {make_demo.CAMERA_INFO_TOPIC} {FRAMES}" in r.stderr

    params = PipelineParams(weights=str(tiny_weights))
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
