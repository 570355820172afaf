# Copyright 2026 The ldl_pose_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""Metric, ground-truth and demo-recording functions of the bag tools on known inputs."""

from __future__ import annotations

import math

import numpy as np
import pytest

from ldl_pose_ros.bag import make_demo
from ldl_pose_ros.bag.groundtruth import (
    GroundTruthError,
    Pose,
    PoseSeries,
    TfBuffer,
    align_camera_to_gt,
    parse_transform,
    rotation_mean,
)
from ldl_pose_ros.bag.metrics import (
    PredFace,
    angle_metrics,
    count_id_switches,
    match_face,
    simulate_node_latency,
)
from ldl_pose_ros.core import geometry
from ldl_pose_ros.core.camera import nominal_intrinsics


def test_angle_metrics_known_offsets():
    true = [geometry.face_rotation_in_optical(0.0, 0.0, 0.0)] * 2
    pred = [geometry.face_rotation_in_optical(10.0, 0.0, 0.0),
            geometry.face_rotation_in_optical(0.0, 0.0, -20.0)]
    m = angle_metrics(pred, true)
    assert m["mae"]["yaw"] == pytest.approx(5.0)
    assert m["mae"]["pitch"] == pytest.approx(0.0, abs=1e-9)
    assert m["mae"]["roll"] == pytest.approx(10.0)
    assert m["mae"]["mean"] == pytest.approx(5.0)
    assert m["geodesic"]["mean"] == pytest.approx(15.0)
    assert m["geodesic"]["max"] == pytest.approx(20.0)
    assert math.isnan(angle_metrics([], [])["mae"]["mean"])


def test_id_switches():
    assert count_id_switches([]) == 0
    assert count_id_switches([0, 0, None, 0]) == 0
    assert count_id_switches([0, 0, None, 1, 1, 0, None]) == 2


def test_match_face_by_ray_angle():
    R = np.eye(3)
    far = PredFace(0, R, np.array([0.5, 0.0, 1.0]))  # 26.6 deg off axis
    near = PredFace(1, R, np.array([0.02, 0.0, 1.0]))
    assert match_face([far, near], np.array([0.0, 0.0, 2.0])) == 1
    assert match_face([far], np.array([0.0, 0.0, 2.0]), max_deg=15.0) is None
    assert match_face([], np.array([0.0, 0.0, 1.0])) is None
    # no true position: the nearest face
    assert match_face([PredFace(0, R, np.array([0, 0, 3.0])), far], None) == 1


def test_simulated_node_latency_latest_frame_wins():
    # frames every 100 ms; frame 1 takes 250 ms: frame 2 waits and is replaced by frame 3
    arrivals = [0.0, 0.1, 0.2, 0.3, 0.4]
    proc = [10.0, 250.0, 10.0, 10.0, None]
    lat, dropped = simulate_node_latency(arrivals, proc)
    assert dropped.tolist() == [False, False, True, False, False]
    assert lat[0] == pytest.approx(10.0)
    assert lat[1] == pytest.approx(250.0)
    assert math.isnan(lat[2]) and math.isnan(lat[4])
    assert lat[3] == pytest.approx(60.0)  # starts at 0.35 when frame 1 ends, 10 ms work


def test_pose_series_interpolation():
    s = PoseSeries()
    s.add(2.0, Pose(geometry.euler_to_matrix(0.0, 0.0, 20.0), np.array([2.0, 0, 0])))
    s.add(1.0, Pose(np.eye(3), np.zeros(3)))
    p = s.at(1.5, max_gap_s=2.0)
    assert geometry.geodesic_deg(p.R, geometry.euler_to_matrix(0.0, 0.0, 10.0)) < 1e-6
    np.testing.assert_allclose(p.t, [1.0, 0, 0])
    assert s.at(1.5, max_gap_s=0.5) is None  # gap too long
    assert s.at(3.0) is None and s.at(1.0) is not None


def test_tf_buffer_chain_and_static_edges():
    buf = TfBuffer()
    buf.add("world", "rig", 0.0, Pose(np.eye(3), np.array([1.0, 0, 0])), static=True)
    buf.add("rig", "camera", 0.0, Pose(np.eye(3), np.array([0, 1.0, 0])), static=True)
    for t in (0.0, 1.0):
        buf.add("/world", "head", t, Pose(np.eye(3), np.array([0, 0, 1.0 + t])), static=False)
    assert buf.root("camera") == "world" and buf.root("head") == "world"
    head_in_cam = buf.lookup("camera", "head", 0.5, 1.0)
    np.testing.assert_allclose(head_in_cam.t, [-1.0, -1.0, 1.5])
    assert buf.in_root("head", 5.0, 1.0) is None


def test_alignment_recovers_the_transform():
    T = parse_transform("0.3,0.1,-2,0,0,0.3826834,0.9238795")  # 45 deg about z
    gts = [Pose(geometry.euler_to_matrix(y, p, 0.0), np.array([y / 100, p / 100, 1.0]))
           for y, p in ((0, 0), (20, 5), (-15, 10))]
    preds = [T @ g for g in gts]
    est = align_camera_to_gt(preds, gts)
    assert geometry.geodesic_deg(est.R, T.R) < 1e-6
    np.testing.assert_allclose(est.t, T.t, atol=1e-9)
    assert np.linalg.det(rotation_mean([T.R, T.R])) == pytest.approx(1.0)
    with pytest.raises(GroundTruthError):
        align_camera_to_gt([], [])
    with pytest.raises(GroundTruthError, match="norm"):
        parse_transform("0,0,0,0,0,0,2")


def test_demo_ground_truth_composition():
    """Frontal, centred, unrotated frame = reference pose; in-plane rotation adds roll."""
    K = nominal_intrinsics(make_demo.WIDTH, make_demo.HEIGHT, make_demo.HFOV_DEG).K
    centre = (K[0, 2], K[1, 2])
    base = make_demo.FrameSpec(0.0, 1.0, centre, False)
    R, p = make_demo.true_pose(base, K)
    np.testing.assert_allclose(geometry.face_matrix_to_euler(R), make_demo.REFERENCE_POSE,
                               atol=1e-9)
    assert p[2] == pytest.approx(K[0, 0] * 0.15 / (make_demo.REFERENCE_BOX[2]
                                                   - make_demo.REFERENCE_BOX[0]))
    Rm, _ = make_demo.true_pose(make_demo.FrameSpec(0.0, 1.0, centre, True), K)
    y, pi, r = make_demo.REFERENCE_POSE
    np.testing.assert_allclose(geometry.face_matrix_to_euler(Rm), (-y, pi, -r), atol=1e-9)
    # rotation about the optical axis: the change of rotation is exactly theta about z
    Rr, _ = make_demo.true_pose(make_demo.FrameSpec(25.0, 1.3, centre, False), K)
    assert geometry.geodesic_deg(Rr, R) == pytest.approx(25.0)
    assert geometry.face_matrix_to_euler(Rr)[2] == pytest.approx(make_demo.REFERENCE_POSE[2]
                                                                 + 25.0, abs=1.0)
