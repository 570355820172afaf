# Copyright 2026 The ldl_pose_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""Intrinsics, the camera model, face positions, ray correction and the covariance (ROS-free)."""

from __future__ import annotations

import math
from types import SimpleNamespace

import numpy as np
import pytest

from ldl_pose_ros.core import geometry
from ldl_pose_ros.core.camera import (
    CameraIntrinsics,
    CameraModel,
    IntrinsicsError,
    nominal_intrinsics,
)
from ldl_pose_ros.core.faces import FacePrediction
from ldl_pose_ros.core.placement import (
    DEFAULT_FACE_WIDTH_M,
    EYE_LINE_OFFSET,
    eye_point,
    face_position,
    face_rotations,
    place_faces,
    pose_covariance,
)

K = np.array([[500.0, 0.0, 320.0], [0.0, 500.0, 240.0], [0.0, 0.0, 1.0]])


def make_face(box: tuple[float, float, float, float], yaw: float = 0.0, pitch: float = 0.0,
              roll: float = 0.0, landmarks: np.ndarray | None = None) -> FacePrediction:
    return FacePrediction(np.array(box, dtype=float), 0.9, [yaw, pitch, roll], [2.0, 3.0, 4.0],
                          landmarks)


def face_rotation_in_camera(face: FacePrediction, intr: CameraIntrinsics,
                            ray_correct: bool = True) -> np.ndarray:
    return face_rotations([face], intr, ray_correct)[0]


def camera_info(w: int, h: int, f: float = 500.0, p_scale: float = 1.0) -> SimpleNamespace:
    k = [f, 0.0, w / 2, 0.0, f, h / 2, 0.0, 0.0, 1.0]
    p = [p_scale * f, 0.0, w / 2, 0.0, 0.0, p_scale * f, h / 2, 0.0, 0.0, 0.0, 1.0, 0.0]
    return SimpleNamespace(width=w, height=h, distortion_model="plumb_bob", d=[0.0] * 5, k=k, p=p)


@pytest.mark.parametrize("bad", [
    np.zeros((3, 3)),
    np.array([[np.nan, 0, 1], [0, 1, 1], [0, 0, 1]]),
    np.array([[-500.0, 0, 320], [0, 500, 240], [0, 0, 1]]),
    np.array([[500.0, 0, 320], [0, 0, 240], [0, 0, 1]]),
    np.eye(2),
])
def test_invalid_intrinsics_rejected(bad: np.ndarray) -> None:
    with pytest.raises(IntrinsicsError):
        CameraIntrinsics(bad)


def test_nominal_intrinsics() -> None:
    intr = nominal_intrinsics(640, 480, 60.0)
    assert intr.nominal
    assert intr.fx == pytest.approx(320.0 / math.tan(math.radians(30.0)))
    assert intr.fy == intr.fx
    np.testing.assert_allclose(intr.K[:2, 2], [320.0, 240.0])
    with pytest.raises(IntrinsicsError):
        nominal_intrinsics(0, 480)
    with pytest.raises(IntrinsicsError):
        nominal_intrinsics(640, 480, 180.0)


def test_scaled_to_binning() -> None:
    intr = CameraIntrinsics(K, np.zeros(5), "plumb_bob", 640, 480)
    half = intr.scaled_to(320, 240)
    np.testing.assert_allclose(half.K, [[250, 0, 160], [0, 250, 120], [0, 0, 1]])
    assert intr.scaled_to(640, 480) is intr
    assert CameraIntrinsics(K).scaled_to(320, 240).fx == 500.0  # unknown calibrated size


def test_eye_point_landmarks_and_fallback() -> None:
    lm = np.full((5, 2), np.nan)
    lm[0], lm[1] = (100, 50), (140, 54)
    assert eye_point(make_face((90, 30, 150, 100), landmarks=lm)) == (120.0, 52.0)
    x, y = eye_point(make_face((90, 30, 150, 100)))
    assert x == 120.0 and y == pytest.approx(65.0 - EYE_LINE_OFFSET * 70)
    bad = np.full((5, 2), np.nan)
    assert eye_point(make_face((90, 30, 150, 100), landmarks=bad))[0] == 120.0


def test_face_position_depth_and_ray() -> None:
    intr = CameraIntrinsics(K)
    lm = np.full((5, 2), np.nan)
    lm[0], lm[1] = (300, 240), (340, 240)  # eyes centred on the principal point
    p = face_position(make_face((270, 200, 370, 320), landmarks=lm), intr)
    assert p[2] == pytest.approx(500.0 * DEFAULT_FACE_WIDTH_M / 100.0)
    np.testing.assert_allclose(p[:2], 0.0, atol=1e-12)
    lm[:2, 0] += 100  # 100 px to the right: x = 100 / f * z
    p = face_position(make_face((370, 200, 470, 320), landmarks=lm), intr, 0.2)
    assert p[2] == pytest.approx(1.0)
    assert p[0] == pytest.approx(0.2)


def test_distortion_is_undone() -> None:
    d = np.array([-0.3, 0.1, 0.0, 0.0, 0.0])
    intr = CameraIntrinsics(K, d, "plumb_bob")
    assert intr.has_distortion
    # Distort a known normalised point with the same model, then undo it.
    x, y = 0.4, -0.3
    r2 = x * x + y * y
    k = 1 + d[0] * r2 + d[1] * r2 * r2
    u, v = 500 * x * k + 320, 500 * y * k + 240
    xn, yn = intr.normalized(u, v)
    assert xn == pytest.approx(x, abs=1e-4) and yn == pytest.approx(y, abs=1e-4)
    unknown = CameraIntrinsics(K, d, "some_model")
    assert not unknown.has_distortion
    assert unknown.normalized(820, 240) == pytest.approx((1.0, 0.0))


def test_ray_correction_turns_border_faces_towards_the_camera() -> None:
    intr = CameraIntrinsics(K)
    centre = make_face((270, 190, 370, 290))
    np.testing.assert_allclose(
        face_rotation_in_camera(centre, intr), geometry.face_rotation_in_optical(0, 0, 0),
        atol=1e-9,
    )
    # A "frontal" crop at the right border: its nose points back along the ray to the camera.
    border = make_face((570, 190, 670, 290))
    r = face_rotation_in_camera(border, intr)
    ray = np.array([(620 - 320) / 500, 0.0, 1.0])
    ray /= np.linalg.norm(ray)
    np.testing.assert_allclose(r[:, 0], -ray, atol=1e-9)
    np.testing.assert_allclose(face_rotation_in_camera(border, intr, ray_correct=False),
                               geometry.face_rotation_in_optical(0, 0, 0), atol=1e-9)


def test_pose_covariance_layout() -> None:
    r = geometry.face_rotation_in_optical(0.0, 0.0, 0.0)
    stds = np.array([1.0, 2.0, 3.0])  # yaw, pitch, roll (degrees)
    cov = pose_covariance(np.array([0.0, 0.0, 2.0]), r, stds, fx=500.0, rel_depth_std=0.1,
                          pixel_std=5.0)
    np.testing.assert_allclose(cov, cov.T)
    # Frontal face: optical x = face y (pitch), optical y = -face z (yaw), optical z = -face x.
    np.testing.assert_allclose(np.diag(cov)[3:], np.radians([2.0, 1.0, 3.0]) ** 2)
    assert cov[2, 2] == pytest.approx((0.1 * 2.0) ** 2)
    assert cov[0, 0] == pytest.approx((5.0 * 2.0 / 500.0) ** 2)
    np.testing.assert_allclose(cov[:3, 3:], 0.0)
    # Any orientation: the rotational block is R diag(roll², pitch², yaw²) R^T, positive definite.
    r = geometry.face_rotation_in_optical(40.0, -20.0, 10.0)
    cov = pose_covariance(np.array([0.3, -0.1, 1.5]), r, stds, fx=500.0)
    np.testing.assert_allclose(r.T @ cov[3:, 3:] @ r, np.diag(np.radians([3.0, 2.0, 1.0]) ** 2),
                               atol=1e-15)
    assert np.all(np.linalg.eigvalsh(cov) > 0)


def test_place_faces_is_the_per_face_placement() -> None:
    intr = CameraIntrinsics(K, np.array([-0.2, 0.05, 0.0, 0.0, 0.0]), "plumb_bob", 640, 480)
    faces = [make_face((100, 80, 180, 170), 20.0, -5.0, 3.0),
             make_face((400, 260, 520, 400), -40.0, 10.0, -8.0)]
    placed = place_faces(faces, intr, face_width_m=0.16)
    assert [p.prediction for p in placed] == faces
    for f, p in zip(faces, placed, strict=True):
        x1, y1, x2, y2 = f.box
        ray = geometry.ray_rotation(intr.normalized((x1 + x2) / 2, (y1 + y2) / 2), np.eye(3))
        np.testing.assert_allclose(p.rotation, ray @ f.rotation, atol=1e-12)
        np.testing.assert_allclose(p.position, face_position(f, intr, 0.16))
        np.testing.assert_allclose(p.angles, geometry.face_matrix_to_euler(p.rotation))
    assert place_faces([], intr) == []
    with pytest.raises(ValueError):  # stage types are frozen
        placed[0].rotation[0, 0] = 2.0


def test_camera_model_last_info_rectified_scaled_and_nominal() -> None:
    cam = CameraModel(default_hfov_deg=90.0)
    v = cam.view(640, 480)
    assert v.intrinsics.nominal and v.source == "nominal 90 deg HFOV" and not cam.has_info
    assert v.intrinsics.fx == pytest.approx(320.0)
    cam.update(camera_info(640, 480, p_scale=0.5))
    v = cam.view(640, 480)
    assert cam.has_info and v.source == "camera_info K, D" and v.intrinsics.fx == 500.0
    assert cam.view(640, 480) is v  # cached for the same info and size
    v = cam.view(320, 240)  # binned stream, full-size calibration: scaled
    assert v.scaled_from == (640, 480) and v.intrinsics.fx == 250.0
    cam.configure(use_rectified=True, default_hfov_deg=90.0)
    v = cam.view(640, 480)
    assert v.source == "camera_info P (rectified)" and v.intrinsics.fx == 250.0
    with pytest.raises(IntrinsicsError):  # refused: the previous calibration stays
        cam.update(camera_info(640, 480, f=0.0, p_scale=0.0))
    assert cam.view(640, 480).intrinsics.fx == 250.0
    # A calibration whose P became unusable when use_rectified was switched on: nominal.
    cam = CameraModel()
    cam.update(camera_info(640, 480, p_scale=0.0))
    cam.configure(use_rectified=True, default_hfov_deg=60.0)
    v = cam.view(640, 480)
    assert v.intrinsics.nominal and v.problem is not None and "P" in v.problem
