# Copyright 2026 The ldl_pose_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""Face tracking (stable IDs) and One-Euro smoothing of rotation and position."""

from __future__ import annotations

import math
import sys

import numpy as np
import pytest

from ldl_pose_ros.core.faces import FacePrediction, PlacedFace
from ldl_pose_ros.core.geometry import box_iou, quaternion_to_matrix, slerp
from ldl_pose_ros.core.geometry import quaternion_angle as quat_angle
from ldl_pose_ros.core.tracking import FaceTracker, OneEuroParams, OneEuroRotation, OneEuroVector

IDENTITY = np.array([0.0, 0.0, 0.0, 1.0])


def axis_angle_quat(axis: tuple[float, float, float], angle_rad: float) -> np.ndarray:
    a = np.asarray(axis, dtype=float)
    a = a / np.linalg.norm(a)
    return np.concatenate([a * math.sin(angle_rad / 2), [math.cos(angle_rad / 2)]])


def face(x: float, y: float, size: float = 100.0, q: np.ndarray = IDENTITY,
         p: np.ndarray | None = None) -> PlacedFace:
    pred = FacePrediction(np.array([x, y, x + size, y + size]), 0.9, np.zeros(3),
                          np.full(3, 3.0))
    return PlacedFace(pred, quaternion_to_matrix(np.asarray(q, dtype=float)),
                      np.array([0.0, 0.0, 1.0]) if p is None else p)


def ids(tracked: list) -> list[int]:
    return [t.track_id for t in tracked]


def test_box_iou_is_pairwise() -> None:
    a = np.array([[0, 0, 10, 10], [0, 0, 0, 0]])
    b = np.array([[0, 0, 10, 10], [5, 0, 15, 10], [20, 20, 30, 30]])
    m = box_iou(a, b)
    assert m.shape == (2, 3)
    np.testing.assert_allclose(m[0], [1.0, 50 / 150, 0.0])
    np.testing.assert_allclose(m[1], 0.0)


def test_single_face_keeps_id_and_confirms() -> None:
    tr = FaceTracker(confirm_frames=3)
    seen = []
    for k in range(10):
        out = tr.update([face(100 + 3 * k, 50)], k / 30)
        assert len(out) == 1
        seen.append((out[0].track_id, out[0].confirmed, out[0].age, out[0].hits))
    assert {s[0] for s in seen} == {0}
    assert [s[1] for s in seen[:3]] == [False, False, True]
    assert all(s[1] for s in seen[2:])
    assert seen[-1][2:] == (9, 10)


def test_ids_follow_boxes_not_list_order() -> None:
    tr = FaceTracker(confirm_frames=1)
    a, b = face(0, 0), face(400, 0)
    first = tr.update([a, b], 0.0)
    second = tr.update([face(405, 2), face(4, 1)], 0.033)
    assert ids(first) == [0, 1]
    assert ids(second) == [1, 0]


def test_moving_face_matched_by_centre_distance() -> None:
    # Moves by 60 % of its size per frame: no overlap gate, but the centre gate holds.
    tr = FaceTracker(iou_threshold=0.5, max_center_dist=0.7, confirm_frames=1)
    for k in range(8):
        assert ids(tr.update([face(60.0 * k, 0)], k * 0.1)) == [0]
    far = FaceTracker(iou_threshold=0.5, max_center_dist=0.2, confirm_frames=1)
    assert ids(far.update([face(0, 0)], 0.0)) == [0]
    assert ids(far.update([face(60, 0)], 0.1)) == [1]


def test_drop_after_misses_and_new_id_on_return() -> None:
    tr = FaceTracker(confirm_frames=1, max_misses=3)
    tr.update([face(0, 0)], 0.0)
    for k in range(1, 3):  # two misses: still alive
        assert tr.update([], k * 0.1) == []
        assert tr.num_tracks == 1
    assert ids(tr.update([face(2, 0)], 0.3)) == [0]  # comes back in time
    for k in range(4, 7):  # three misses: gone
        tr.update([], k * 0.1)
    assert tr.num_tracks == 0
    assert ids(tr.update([face(2, 0)], 0.7)) == [1]


def test_tentative_track_dies_at_first_miss() -> None:
    tr = FaceTracker(confirm_frames=3, max_misses=10)
    tr.update([face(0, 0)], 0.0)
    tr.update([], 0.1)
    assert tr.num_tracks == 0


def test_state_bounded_when_faces_come_and_go() -> None:
    rng = np.random.default_rng(0)
    tr = FaceTracker(confirm_frames=2, max_misses=5)
    for k in range(500):
        faces = [face(*rng.uniform(0, 5000, 2)) for _ in range(rng.integers(0, 4))]
        tr.update(faces, k / 30)
        assert tr.num_tracks <= 3 * 6
    assert tr.num_tracks <= 3 * 6


def test_tracking_off_gives_indices_and_raw_poses() -> None:
    tr = FaceTracker(tracking=False, confirm_frames=5)
    q = axis_angle_quat((0, 0, 1), 0.3)
    out = tr.update([face(0, 0, q=q), face(300, 0)], 0.0)
    assert ids(out) == [0, 1]
    assert all(t.confirmed for t in out)
    out = tr.update([face(300, 0), face(0, 0, q=q)], 0.1)
    assert ids(out) == [0, 1]
    np.testing.assert_allclose(out[1].rotation, quaternion_to_matrix(q), atol=1e-12)
    assert tr.num_tracks == 0


def test_smoothing_off_passes_through() -> None:
    tr = FaceTracker(smoothing=False, confirm_frames=1)
    rng = np.random.default_rng(1)
    for k in range(5):
        q = axis_angle_quat(rng.normal(size=3), rng.uniform(0, 3))
        p = rng.normal(size=3)
        (t,) = tr.update([face(0, 0, q=q, p=p)], k * 0.03)
        assert t.track_id == 0
        np.testing.assert_allclose(t.rotation, quaternion_to_matrix(q), atol=1e-12)
        np.testing.assert_allclose(t.position, p)


def test_smoothing_returns_rotations_and_keeps_the_measurement() -> None:
    tr = FaceTracker(confirm_frames=1)
    q0, q1 = axis_angle_quat((0, 1, 0), 0.0), axis_angle_quat((0, 1, 0), 0.5)
    tr.update([face(0, 0, q=q0)], 0.0)
    (t,) = tr.update([face(0, 0, q=q1, p=np.array([0.0, 0.0, 2.0]))], 0.05)
    assert np.allclose(t.rotation @ t.rotation.T, np.eye(3), atol=1e-9)
    # smoothed: between the previous and the new rotation; the frame's measurement is kept
    moved = math.degrees(quat_angle(q0, q1))
    angle = math.degrees(math.acos((np.trace(t.rotation) - 1) / 2))
    assert 0.0 < angle < moved
    np.testing.assert_allclose(t.face.rotation, quaternion_to_matrix(q1), atol=1e-12)
    assert 1.0 < t.position[2] < 2.0
    with pytest.raises(ValueError):
        tr.update([face(0, float("nan"))], 0.1)


def test_rotation_smoothing_reduces_jitter_and_follows_steps() -> None:
    rng = np.random.default_rng(2)
    f = OneEuroRotation(OneEuroParams(min_cutoff=1.0, beta=0.0, d_cutoff=1.0))
    base = axis_angle_quat((0, 1, 0), 0.4)
    raw_err, smooth_err = [], []
    for k in range(90):
        noise = axis_angle_quat(rng.normal(size=3), math.radians(3.0))
        meas = quat_mul(noise, base)
        out = f(meas, k / 30)
        assert abs(np.linalg.norm(out) - 1.0) < 1e-9
        if k > 30:
            raw_err.append(quat_angle(meas, base))
            smooth_err.append(quat_angle(out, base))
    assert np.mean(smooth_err) < 0.5 * np.mean(raw_err)
    # A step of 60 degrees: the filter follows within a couple of seconds.
    step = axis_angle_quat((0, 0, 1), math.radians(60.0))
    for k in range(90, 180):
        out = f(step, k / 30)
    assert math.degrees(quat_angle(out, step)) < 1.0


def test_beta_makes_fast_motion_lag_less() -> None:
    def lag(beta: float) -> float:
        f = OneEuroRotation(OneEuroParams(min_cutoff=0.5, beta=beta))
        out = IDENTITY
        for k in range(30):  # 90 deg/s about z
            q = axis_angle_quat((0, 0, 1), math.radians(3.0 * k))
            out = f(q, k / 30)
        return quat_angle(out, q)

    assert lag(2.0) < 0.5 * lag(0.0)


def test_hemisphere_flips_do_not_move_the_rotation() -> None:
    f = OneEuroRotation(OneEuroParams(beta=1.0))
    q = axis_angle_quat((1, 2, 3), 1.0)
    for k in range(20):
        out = f(q if k % 2 == 0 else -q, k / 30)
        assert quat_angle(out, q) < 1e-6


def test_non_increasing_stamps_hold_the_filters() -> None:
    f = OneEuroVector(OneEuroParams(min_cutoff=1.0, beta=5.0))
    f(np.zeros(3), 1.0)
    a = f(np.ones(3), 1.1)
    for stamp in (1.1, 1.05, 0.9):  # duplicate, reordered, older
        b = f(np.full(3, 100.0), stamp)
        assert np.all(np.isfinite(b))
        np.testing.assert_allclose(b, a)
    c = f(np.ones(3), 1.2)
    assert np.all(np.isfinite(c)) and np.all(c < 1.0 + 1e-9)


def test_tracker_survives_out_of_order_and_duplicate_stamps() -> None:
    tr = FaceTracker(confirm_frames=1)
    q1 = axis_angle_quat((0, 1, 0), 0.2)
    for stamp in (1.0, 1.0, 0.99, 1.03, 1.02, 1.06):
        (t,) = tr.update([face(0, 0, q=q1, p=np.array([0.0, 0.0, 1.0]))], stamp)
        assert t.track_id == 0
        assert np.all(np.isfinite(t.rotation)) and np.all(np.isfinite(t.position))
        assert np.allclose(t.rotation @ t.rotation.T, np.eye(3), atol=1e-9)


def test_clock_jump_back_resets_tracks() -> None:
    tr = FaceTracker(confirm_frames=1, reset_gap_s=1.0)
    assert ids(tr.update([face(0, 0)], 100.0)) == [0]
    assert ids(tr.update([face(0, 0)], 100.1)) == [0]
    assert ids(tr.update([face(0, 0)], 5.0)) == [1]
    assert ids(tr.update([face(0, 0)], 5.1)) == [1]


def test_long_gap_restarts_filter_at_measurement() -> None:
    f = OneEuroVector(OneEuroParams(min_cutoff=0.1), reset_gap_s=0.5)
    f(np.zeros(2), 0.0)
    np.testing.assert_allclose(f(np.ones(2), 2.0), np.ones(2))


def test_position_low_pass_matches_first_order_filter() -> None:
    f = OneEuroVector(OneEuroParams(min_cutoff=2.0, beta=0.0))
    f(np.zeros(1), 0.0)
    dt = 0.05
    tau = 1 / (2 * math.pi * 2.0)
    alpha = 1 / (1 + tau / dt)
    expected = 0.0
    for k in range(1, 10):
        expected += alpha * (1.0 - expected)
        out = f(np.ones(1), k * dt)
        assert out[0] == pytest.approx(expected)


def test_greedy_fallback_without_scipy(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "scipy.optimize", None)
    tr = FaceTracker(confirm_frames=1)
    assert ids(tr.update([face(0, 0), face(400, 0)], 0.0)) == [0, 1]
    assert ids(tr.update([face(402, 0), face(1, 0), face(900, 0)], 0.1)) == [1, 0, 2]


def test_invalid_arguments() -> None:
    for kw in (
        {"iou_threshold": 1.5},
        {"confirm_frames": 0},
        {"max_misses": 0},
        {"rotation_min_cutoff": 0.0},
        {"position_beta": -1.0},
        {"max_center_dist": -0.1},
    ):
        with pytest.raises(ValueError):
            FaceTracker(**kw)


def test_slerp_endpoints_and_midpoint() -> None:
    q0 = IDENTITY
    q1 = axis_angle_quat((0, 0, 1), 1.0)
    np.testing.assert_allclose(slerp(q0, q1, 0.0), q0, atol=1e-12)
    np.testing.assert_allclose(slerp(q0, q1, 1.0), q1, atol=1e-12)
    np.testing.assert_allclose(slerp(q0, q1, 0.5), axis_angle_quat((0, 0, 1), 0.5), atol=1e-12)
    np.testing.assert_allclose(slerp(q0, -q1, 0.5), axis_angle_quat((0, 0, 1), 0.5), atol=1e-12)


def quat_mul(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    ax, ay, az, aw = a
    bx, by, bz, bw = b
    return np.array([
        aw * bx + ax * bw + ay * bz - az * by,
        aw * by - ax * bz + ay * bw + az * bx,
        aw * bz + ax * by - ay * bx + az * bw,
        aw * bw - ax * bx - ay * by - az * bz,
    ])
