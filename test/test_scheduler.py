# Copyright 2026 The ldl_pose_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""Several cameras on one estimator (``core.scheduler``), with the real estimator and detector."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest

from bench.scenes import DEMO_FACE_BOX, face_grid
from ldl_pose_ros.core.estimator import HeadPoseEstimator
from ldl_pose_ros.core.face_ids import id_prefixes
from ldl_pose_ros.core.imaging import ImageError
from ldl_pose_ros.core.params import Params
from ldl_pose_ros.core.pipeline import FramePipeline
from ldl_pose_ros.core.scheduler import BatchScheduler, DecodedFrame, LatestFrames
from ldl_pose_ros.resources import DEFAULT_WEIGHTS

PARAMS = Params().replace(confirm_frames=1, max_image_megapixels=1.0)


@pytest.fixture(scope="module")
def weights(tiny_checkpoint):
    """The shipped model (its angles differ between faces), else a tiny random one."""
    return DEFAULT_WEIGHTS if DEFAULT_WEIGHTS.is_file() else tiny_checkpoint(spread_heads=True)


@pytest.fixture(scope="module")
def estimator(weights):
    est = HeadPoseEstimator(weights, device="cpu", detector="mediapipe", max_megapixels=1.0)
    yield est
    est.close()


def scheduler(estimator, cameras=("front", "left", "rear")):
    prefixes = id_prefixes(cameras, hri=False)
    return BatchScheduler(estimator, [FramePipeline(estimator, PARAMS, id_prefix=p)
                                      for p in prefixes])


def frames(demo_image_bgr):
    """Three cameras' frames: 1 face, 3 faces, the mirrored photograph (1 face)."""
    three = face_grid(demo_image_bgr, DEMO_FACE_BOX, 3, (640, 480))[0]
    return {0: DecodedFrame(demo_image_bgr, "bgr", 10.0, 0.5),
            1: DecodedFrame(three, "bgr", 10.0),
            2: DecodedFrame(np.ascontiguousarray(demo_image_bgr[:, ::-1]), "bgr", 10.0)}


# -- newest frame per camera ------------------------------------------------------------------


def test_latest_frames_keep_the_newest_per_camera_and_count_replacements() -> None:
    slots: LatestFrames[str] = LatestFrames(3)
    assert slots.put(2, "c1") is False
    assert slots.put(0, "a1") is False
    assert slots.put(2, "c2") is True  # c1 replaced before it was taken: dropped
    assert slots.take(0.0) == [(0, "a1"), (2, "c2")]
    assert slots.take(0.05) == []  # nothing new: returns after the timeout
    assert slots.put(2, "c3") is False  # the slot was emptied by take


def test_latest_frames_wake_the_worker_and_close() -> None:
    slots: LatestFrames[int] = LatestFrames(2)
    got: list[list[tuple[int, int]]] = []
    worker = threading.Thread(target=lambda: got.append(slots.take(10.0)))
    worker.start()
    time.sleep(0.1)
    slots.put(1, 7)
    worker.join(5.0)
    assert got == [[(1, 7)]]
    waiting = threading.Thread(target=lambda: got.append(slots.take(10.0)))
    waiting.start()
    slots.close()
    waiting.join(5.0)
    assert not waiting.is_alive() and got[-1] == []
    slots.put(0, 1)
    assert slots.take(0.0) == []  # closed: the worker takes nothing more
    slots.open()  # served again (a lifecycle node activated again), empty
    assert slots.take(0.0) == []
    slots.put(0, 2)
    assert slots.take(0.0) == [(0, 2)]


# -- one batch, per-camera outputs ---------------------------------------------------------


def test_all_cameras_faces_go_through_the_network_in_one_batch(
        estimator, demo_image_bgr, batch_log) -> None:
    inputs = frames(demo_image_bgr)
    alone = {c: estimator.estimate_timed(f.image, f.color)[0] for c, f in inputs.items()}
    assert [len(p) for p in alone.values()] == [1, 3, 1]
    batch_log.clear()
    results = scheduler(estimator).process(inputs)
    assert batch_log == [5], "one network call with the faces of all three cameras"
    assert [r.camera for r in results] == [0, 1, 2]
    for r in results:
        assert r.error is None and r.batch_frames == 3
        shown = r.outputs.shown
        assert len(shown) == len(alone[r.camera])
        for track, ref in zip(shown, sorted(alone[r.camera], key=lambda p: -p.score),
                              strict=True):
            np.testing.assert_allclose(track.box, ref.box)
            np.testing.assert_allclose(track.prediction.angles, ref.angles, atol=1e-4)
    # Timing: each frame its own detection and crops, the batch's network time.
    t0, t1 = results[0].outputs.times, results[1].outputs.times
    assert t0.network == t1.network > 0 and t0.detect > 0 and t1.crop > 0
    assert t0.decode >= 0.5  # the caller's decoding time is in the decode stage


def test_ids_and_frames_are_the_cameras_own(estimator, demo_image_bgr) -> None:
    sched = scheduler(estimator)
    inputs = frames(demo_image_bgr)
    for stamp in (10.0, 10.033, 10.066):
        results = sched.process({c: DecodedFrame(f.image, f.color, stamp) for c, f in
                                 inputs.items()})
    ids = [r.outputs.face_ids for r in results]
    assert ids == [("front_0",), ("left_0", "left_1", "left_2"), ("rear_0",)]
    children = {f.child_frame_id for r in results for f in r.outputs.child_frames}
    assert {"face_front_0", "gaze_front_0", "face_left_2", "gaze_rear_0"} <= children
    assert len(children) == 2 * 5  # no id is shared between cameras


def test_a_stalled_camera_is_left_out_and_keeps_its_tracks(estimator, demo_image_bgr,
                                                          batch_log) -> None:
    sched = scheduler(estimator)
    inputs = frames(demo_image_bgr)
    sched.process(inputs)
    tracks_left = sched.pipelines[1].tracker.num_tracks
    batch_log.clear()
    for k in range(3):  # camera 1 ("left") sends nothing for a while
        results = sched.process({0: DecodedFrame(inputs[0].image, "bgr", 11.0 + k * 0.03),
                                 2: DecodedFrame(inputs[2].image, "bgr", 11.0 + k * 0.03)})
        assert [r.camera for r in results] == [0, 2]
        assert all(r.outputs is not None and r.batch_frames == 2 for r in results)
    assert batch_log == [2, 2, 2]
    assert sched.pipelines[1].tracker.num_tracks == tracks_left


def test_bad_input_of_one_camera_is_its_own(estimator, demo_image_bgr) -> None:
    inputs = frames(demo_image_bgr)
    huge = np.zeros((1200, 1000, 3), np.uint8)  # 1.2 MP > the 1 MP limit
    inputs[1] = DecodedFrame(huge, "bgr", 10.0)
    results = scheduler(estimator).process(inputs)
    assert isinstance(results[1].error, ImageError) and results[1].outputs is None
    assert "1.2" in str(results[1].error)
    assert results[0].outputs is not None and len(results[0].outputs.shown) == 1
    assert results[2].outputs is not None and len(results[2].outputs.shown) == 1


def test_a_network_failure_is_every_batched_cameras(estimator, demo_image_bgr,
                                                    monkeypatch) -> None:
    def broken(batch):
        raise RuntimeError("device lost")

    monkeypatch.setattr(estimator.runner, "probabilities", broken)
    results = scheduler(estimator).process(frames(demo_image_bgr))
    assert [str(r.error) for r in results] == ["device lost"] * 3


def test_frames_without_faces_skip_the_network(estimator, batch_log) -> None:
    empty = np.full((240, 320, 3), 128, np.uint8)
    results = scheduler(estimator, ("a", "b")).process(
        {0: DecodedFrame(empty, "bgr", 1.0), 1: DecodedFrame(empty, "bgr", 1.0)})
    assert batch_log == [] and [r.outputs.shown for r in results] == [(), ()]


def test_torch_crops_batched_match_one_by_one(weights, demo_image_bgr) -> None:
    """The device-crop path (here on the CPU) gives each frame of a batch its own crops."""
    est = HeadPoseEstimator(weights, device="cpu", backend="torch", detector=None,
                            preprocess="torch")
    a = demo_image_bgr
    b = np.ascontiguousarray(demo_image_bgr[::-1])  # upside down: other crops, other angles
    boxes_a = [DEMO_FACE_BOX]
    boxes_b = [[100.0, 120.0, 220.0, 250.0], [300.0, 50.0, 380.0, 140.0]]
    one = [est.estimate_boxes(a, boxes_a), est.estimate_boxes(b, boxes_b)]
    both = est.estimate_detected([est.detect_frame(a, "bgr", boxes_a),
                                  est.detect_frame(b, "bgr", boxes_b)])
    for ref, got in zip(one, both, strict=True):
        np.testing.assert_allclose([p.angles for p in got], [p.angles for p in ref], atol=1e-3)
    if DEFAULT_WEIGHTS.is_file():  # a random tiny model answers ~0 for every face
        assert not np.allclose(both[0][0].angles, both[1][0].angles, atol=0.5)


def test_the_two_stages_run_as_a_pipeline(estimator, demo_image_bgr, batch_log) -> None:
    """Round k + 1 is detected (another thread) while round k's batch runs and publishes."""
    sched = scheduler(estimator, ("a", "b"))
    inputs = frames(demo_image_bgr)
    rounds = [{c: DecodedFrame(inputs[c].image, "bgr", 20.0 + k / 30) for c in (0, 1)}
              for k in range(4)]
    detected = [None] * len(rounds)

    def detect_all() -> None:
        for k, r in enumerate(rounds):
            detected[k], errors = sched.detect(r)
            assert errors == {}

    worker = threading.Thread(target=detect_all)
    worker.start()
    worker.join(30.0)
    batch_log.clear()
    outs = [sched.finish(d) for d in detected]
    assert batch_log == [4] * 4  # 1 + 3 faces per round, one call each
    ids = [[r.outputs.face_ids for r in out] for out in outs]
    assert ids[-1] == [("a_0",), ("b_0", "b_1", "b_2")]  # tracks carried across rounds
    assert all(r.batch_frames == 2 for out in outs for r in out)
