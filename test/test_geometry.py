# Copyright 2026 The ldl_pose_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""Euler convention, rotations, quaternions, derived frames, flips, projections.

Checks run on synthetic faces and on the project's own demo image; checks on the
development data in ``shared/data`` run only where that folder exists.
"""

from __future__ import annotations

import csv
from pathlib import Path

import cv2
import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from ldl_pose_ros.core.geometry import (
    euler_to_matrix,
    face_matrix_to_euler,
    face_rotation_in_optical,
    flip_euler,
    gaze_rotation_in_optical,
    geodesic_deg,
    matrix_to_euler,
    matrix_to_quaternion,
    pixel_rays,
    project_axes,
    quaternion_to_matrix,
    ray_correction,
    ray_rotation,
)

RNG = np.random.default_rng(123)
ANGLES = np.concatenate(
    [RNG.uniform([-89, -89, -89], [89, 89, 89], (200, 3)), [[0, 0, 0], [45, -30, 10]]]
)

# Synthetic face, head frame H (x subject's left, y chin, z back of head; cm).
FACE_3D = {
    "eye_r": np.array([-3.2, -1.0, 0.0]),  # subject's right eye: image-left when frontal
    "eye_l": np.array([3.2, -1.0, 0.0]),
    "nose_tip": np.array([0.0, 2.0, -3.0]),
    "nose_base": np.array([0.0, 2.0, 0.0]),
    "mouth": np.array([0.0, 5.0, -0.5]),
}


def _project(yaw: float, pitch: float, roll: float, distance: float = 80.0) -> dict:
    """Pinhole projection (f = 500 px, centre (320, 240)) of the synthetic face."""
    rot = euler_to_matrix(yaw, pitch, roll)
    out = {}
    for name, p in FACE_3D.items():
        q = rot @ p + np.array([0.0, 0.0, distance])
        out[name] = np.array([500 * q[0] / q[2] + 320, 500 * q[1] / q[2] + 240])
    return out


def _angle_deg(v: np.ndarray) -> float:
    return float(np.degrees(np.arctan2(v[1], v[0])))


# ----------------------------------------------------------------------- round trips


def test_matrices_are_rotations() -> None:
    m = euler_to_matrix(ANGLES[:, 0], ANGLES[:, 1], ANGLES[:, 2])
    assert m.shape == (len(ANGLES), 3, 3)
    np.testing.assert_allclose(
        m @ np.swapaxes(m, -1, -2), np.broadcast_to(np.eye(3), m.shape), atol=1e-12
    )
    np.testing.assert_allclose(np.linalg.det(m), 1.0, atol=1e-12)


def test_euler_round_trip() -> None:
    m = euler_to_matrix(*ANGLES.T)
    np.testing.assert_allclose(matrix_to_euler(m), ANGLES, atol=1e-9)


def test_elementary_rotations() -> None:
    """R = Rx(-pitch) Ry(yaw) Rz(roll), checked against scipy's intrinsic 'xyz'."""
    for yaw, pitch, roll in ANGLES[:20]:
        ref = Rotation.from_euler("XYZ", [-pitch, yaw, roll], degrees=True).as_matrix()
        np.testing.assert_allclose(euler_to_matrix(yaw, pitch, roll), ref, atol=1e-12)


def test_gimbal_lock_round_trip() -> None:
    for yaw in (90.0, -90.0):
        m = euler_to_matrix(yaw, 20.0, -35.0)
        back = matrix_to_euler(m)
        assert back[0] == pytest.approx(yaw)
        np.testing.assert_allclose(euler_to_matrix(*back), m, atol=1e-9)


def test_quaternion_round_trip_and_scipy() -> None:
    m = euler_to_matrix(*ANGLES.T)
    q = matrix_to_quaternion(m)
    assert q.shape == (len(ANGLES), 4)
    np.testing.assert_allclose(np.linalg.norm(q, axis=-1), 1.0, atol=1e-12)
    assert np.all(q[:, 3] >= 0)
    np.testing.assert_allclose(quaternion_to_matrix(q), m, atol=1e-12)
    ref = Rotation.from_matrix(m).as_quat()  # scipy is (x, y, z, w) too
    ref *= np.sign(ref[:, 3:4])
    np.testing.assert_allclose(q, ref, atol=1e-9)
    # 180-degree rotations (w = 0) and the identity
    for rot in (np.diag([1.0, -1, -1]), np.diag([-1.0, 1, -1]), np.diag([-1.0, -1, 1]), np.eye(3)):
        np.testing.assert_allclose(quaternion_to_matrix(matrix_to_quaternion(rot)), rot, atol=1e-12)
    with pytest.raises(ValueError):
        quaternion_to_matrix(np.zeros(4))


def test_scalar_and_broadcast_shapes() -> None:
    assert euler_to_matrix(10, 20, 30).shape == (3, 3)
    assert matrix_to_euler(euler_to_matrix(10, 20, 30)).shape == (3,)
    assert euler_to_matrix(np.zeros(4), 5.0, 0.0).shape == (4, 3, 3)
    assert matrix_to_quaternion(np.eye(3)).tolist() == [0.0, 0.0, 0.0, 1.0]
    axes = project_axes(np.zeros(4), 0.0, 0.0, np.zeros((4, 2)), 10.0)
    assert axes["x"].shape == (4, 2)


# ------------------------------------------------------------------------ conventions


def test_frontal_face_frame() -> None:
    r = face_rotation_in_optical(0, 0, 0)
    np.testing.assert_allclose(r[:, 0], [0, 0, -1])  # x: out of the face, at the camera
    np.testing.assert_allclose(r[:, 1], [1, 0, 0])  # y: face's left = image right
    np.testing.assert_allclose(r[:, 2], [0, -1, 0])  # z: scalp = image up
    assert np.linalg.det(r) == pytest.approx(1.0)


def test_gaze_frame() -> None:
    g0 = gaze_rotation_in_optical(0, 0, 0)
    np.testing.assert_allclose(g0, np.diag([-1.0, 1.0, -1.0]))
    g = gaze_rotation_in_optical(*ANGLES.T)
    f = face_rotation_in_optical(*ANGLES.T)
    np.testing.assert_allclose(g[..., 2], f[..., 0], atol=1e-12)  # z_gaze = nose
    np.testing.assert_allclose(g[..., 0], -f[..., 1], atol=1e-12)  # x_gaze = face right
    np.testing.assert_allclose(np.linalg.det(g), 1.0, atol=1e-12)


def test_face_matrix_inverse() -> None:
    f = face_rotation_in_optical(*ANGLES.T)
    np.testing.assert_allclose(face_matrix_to_euler(f), ANGLES, atol=1e-9)


@pytest.mark.parametrize("a", [5.0, 30.0, 60.0])
def test_signs_on_synthetic_face(a: float) -> None:
    base = _project(0, 0, 0)
    eyes0 = 0.5 * (base["eye_l"] + base["eye_r"])
    # yaw > 0: nose towards image-left
    p = _project(a, 0, 0)
    assert p["nose_tip"][0] < 0.5 * (p["eye_l"][0] + p["eye_r"][0])
    assert project_axes(a, 0, 0, (0, 0), 1)["x"][0] < 0
    # pitch > 0: face up -> nose tip rises relative to the eyes
    p = _project(0, a, 0)
    assert (p["nose_tip"][1] - 0.5 * (p["eye_l"][1] + p["eye_r"][1])) < (
        base["nose_tip"][1] - eyes0[1]
    )
    assert project_axes(0, a, 0, (0, 0), 1)["x"][1] < 0
    # roll > 0: clockwise, image-right eye (subject's left) lower; slope == roll
    p = _project(0, 0, a)
    assert p["eye_l"][1] > p["eye_r"][1]
    assert _angle_deg(p["eye_l"] - p["eye_r"]) == pytest.approx(a, abs=1e-9)
    assert _angle_deg(project_axes(0, 0, a, (0, 0), 1)["y"]) == pytest.approx(a)


def test_projected_axes_follow_synthetic_landmarks() -> None:
    for yaw, pitch, roll in ANGLES[:50]:
        p = _project(yaw, pitch, roll, distance=1e6)  # ~orthographic
        ax = project_axes(yaw, pitch, roll, (0, 0), 1.0)
        nose = p["nose_tip"] - p["nose_base"]
        if np.linalg.norm(nose) > 1e-9 and np.linalg.norm(ax["x"]) > 1e-3:
            cos = nose @ ax["x"] / np.linalg.norm(nose) / np.linalg.norm(ax["x"])
            assert cos == pytest.approx(1.0, abs=1e-6)
        eye = p["eye_l"] - p["eye_r"]
        if np.linalg.norm(ax["y"]) > 1e-3:
            cos = eye @ ax["y"] / np.linalg.norm(eye) / np.linalg.norm(ax["y"])
            assert cos == pytest.approx(1.0, abs=1e-6)


def test_flip_rule_matches_mirror() -> None:
    s = np.diag([-1.0, 1.0, 1.0])  # mirror of the optical x axis (image flip)
    m = euler_to_matrix(*ANGLES.T)
    mirrored = s @ m @ s  # the mirrored head, frame re-made right-handed
    fy, fp, fr = flip_euler(*ANGLES.T)
    np.testing.assert_allclose(matrix_to_euler(mirrored), np.stack([fy, fp, fr], -1), atol=1e-9)
    assert flip_euler(10.0, 5.0, -3.0) == (-10.0, 5.0, 3.0)


def test_geodesic() -> None:
    a = euler_to_matrix(10, 20, 30)
    assert float(geodesic_deg(a, a)) == pytest.approx(0.0, abs=1e-5)
    assert float(geodesic_deg(np.eye(3), euler_to_matrix(37, 0, 0))) == pytest.approx(37)
    b = euler_to_matrix(*ANGLES[:10].T)
    d1, d2 = geodesic_deg(b, a), geodesic_deg(a, b)
    assert d1.shape == (10,)
    np.testing.assert_allclose(d1, d2, atol=1e-6)
    assert float(geodesic_deg(np.eye(3), np.diag([1.0, -1, -1]))) == pytest.approx(180)


def test_ray_correction() -> None:
    k = np.array([[500.0, 0, 320], [0, 500, 240], [0, 0, 1]])
    np.testing.assert_allclose(ray_rotation((320, 240), k), np.eye(3), atol=1e-12)
    for px in [(600.0, 100.0), (10.0, 470.0)]:
        r = ray_rotation(px, k)
        ray = np.linalg.solve(k, [px[0], px[1], 1.0])
        np.testing.assert_allclose(r[:, 2], ray / np.linalg.norm(ray), atol=1e-12)
        assert np.linalg.det(r) == pytest.approx(1.0)
        # A face that looks "frontal" in its crop looks straight at the camera.
        f = ray_correction(face_rotation_in_optical(0, 0, 0), px, k)
        np.testing.assert_allclose(f[:, 0], -ray / np.linalg.norm(ray), atol=1e-12)
    many = ray_rotation(np.array([[320.0, 240], [600, 100]]), k)
    assert many.shape == (2, 3, 3)


def test_pixel_rays_solve_the_intrinsics() -> None:
    """Back substitution by hand (no LAPACK call per frame) equals K^-1 (u, v, 1)."""
    k = np.array([[510.0, 2.5, 321.0], [0, 495.0, 238.0], [0, 0, 1.0]])  # with skew
    px = np.array([[0.0, 0.0], [600.0, 100.0], [321.0, 238.0], [-50.0, 900.0]])
    ref = np.linalg.solve(k, np.c_[px, np.ones(len(px))].T).T
    np.testing.assert_allclose(pixel_rays(px, k), ref, rtol=1e-12)
    np.testing.assert_allclose(pixel_rays((600.0, 100.0), k), ref[1], rtol=1e-12)
    for bad in (np.array([[500.0, 0, 320], [3, 500, 240], [0, 0, 1]]), np.diag([0.0, 1, 1]),
                np.eye(2)):
        with pytest.raises(ValueError, match="upper triangular"):
            pixel_rays((1.0, 2.0), bad)


# ------------------------------------------------------- project-owned demo image

# Hand-annotated pupil centres of the demo photograph (pixels, continuous coords).
ASTRONAUT_PUPILS = np.array([[202.5, 101.3], [245.8, 103.3]])  # image-left, image-right


def _is_dark_spot(gray: np.ndarray, xy: np.ndarray) -> bool:
    x, y = int(xy[0]), int(xy[1])
    return (
        gray[y - 1 : y + 2, x - 1 : x + 2].mean() < 0.75 * gray[y - 8 : y + 9, x - 8 : x + 9].mean()
    )


@pytest.mark.parametrize("turn", [-25.0, 0.0, 15.0])
def test_roll_sign_on_demo_image(demo_image_bgr: np.ndarray, turn: float) -> None:
    """Rotate the demo photo clockwise by ``turn``: the measured eye line gives roll."""
    h, w = demo_image_bgr.shape[:2]
    # cv2: positive angle = counter-clockwise on screen, so -turn is clockwise.
    m = cv2.getRotationMatrix2D((w / 2 - 0.5, h / 2 - 0.5), -turn, 1.0)
    img = cv2.warpAffine(demo_image_bgr, m, (w, h), flags=cv2.INTER_LINEAR)
    gray = cv2.cvtColor(img, cv2.COLOR_BGR2GRAY).astype(np.float64)
    pupils = (ASTRONAUT_PUPILS - 0.5) @ m[:, :2].T + m[:, 2] + 0.5
    assert all(_is_dark_spot(gray, p) for p in pupils)  # the annotation moved with the image
    base_roll = _angle_deg(ASTRONAUT_PUPILS[1] - ASTRONAUT_PUPILS[0])
    assert 1.0 < base_roll < 5.0  # the photo is slightly clockwise already
    roll = _angle_deg(pupils[1] - pupils[0])
    assert roll == pytest.approx(base_roll + turn, abs=1e-6)
    # The face's y axis (towards its own left = image-right eye) follows the eye line.
    y_axis = project_axes(0.0, 0.0, roll, (0, 0), 1)["y"]
    assert _angle_deg(y_axis) == pytest.approx(roll, abs=1e-9)


def test_flip_on_demo_image(demo_image_bgr: np.ndarray) -> None:
    w = demo_image_bgr.shape[1]
    flipped = cv2.cvtColor(demo_image_bgr[:, ::-1], cv2.COLOR_BGR2GRAY).astype(np.float64)
    pupils = ASTRONAUT_PUPILS.copy()
    pupils[:, 0] = w - pupils[:, 0]
    assert all(_is_dark_spot(flipped, p) for p in pupils)
    # In the flipped image the image-left pupil is the former right one.
    roll = _angle_deg(pupils[0] - pupils[1])
    base = _angle_deg(ASTRONAUT_PUPILS[1] - ASTRONAUT_PUPILS[0])
    assert roll == pytest.approx(flip_euler(0.0, 0.0, base)[2])


# ------------------------------------------------- development data (skips if absent)


def test_biwi_hopenet_decoding(shared_dir: Path) -> None:
    d = shared_dir / "data" / "convention_checks" / "biwi"
    m = np.loadtxt(d / "frame_00003_pose.txt", max_rows=3)
    with open(d / "decoded_hopenet_style.csv") as f:
        row = next(csv.DictReader(f))
    ref = [float(row["yaw_deg"]), float(row["pitch_deg"]), float(row["roll_deg"])]
    np.testing.assert_allclose(matrix_to_euler(m), ref, atol=1e-3)
    np.testing.assert_allclose(euler_to_matrix(*ref), m, atol=1e-4)


def test_300wlp_unrotated_views(shared_dir: Path) -> None:
    import scipy.io as sio

    d = shared_dir / "data" / "300wlp_mini"
    mats = sorted(d.glob("*_0.mat"))
    assert len(mats) == 4
    for mat in mats:
        data = sio.loadmat(mat)
        pitch, yaw, roll = np.degrees(data["Pose_Para"][0, :3])
        pt = data["pt2d"]  # landmarks of the unrotated (k = 0) view
        ref = pt[:, [36, 39, 42, 45, 48, 54]].mean(axis=1)  # eye and mouth corners
        nose = pt[:, 30] - ref
        ax = project_axes(yaw, pitch, roll, (0, 0), 1.0)
        assert abs(yaw) > 5
        assert np.sign(nose[0]) == np.sign(ax["x"][0]) == -np.sign(yaw)
        eye_line = _angle_deg(pt[:, 45] - pt[:, 36])
        assert _angle_deg(ax["y"]) == pytest.approx(eye_line, abs=3.0)


def test_300wlp_profiles_face_the_right_way(shared_dir: Path) -> None:
    d = shared_dir / "data" / "300wlp_mini"
    with open(d / "labels.csv") as f:
        rows = {r["file"]: r for r in csv.DictReader(f)}
    for name, side in [("AFW_134212_1_12.jpg", -1), ("AFW_261068_2_12.jpg", -1)]:
        r = rows[name]
        ax = project_axes(
            float(r["yaw_deg"]), float(r["pitch_deg"]), float(r["roll_deg"]), (0, 0), 1.0
        )
        assert np.sign(ax["x"][0]) == side  # README: these profiles face image-left


def test_pointing04_signs(shared_dir: Path) -> None:
    d = shared_dir / "data" / "pointing04"
    with open(d / "labels.csv") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 2232
    for r in rows[:200]:
        name = Path(r["file"]).stem  # personPPSII<tilt><pan>
        tail = name[len("person") + 5 :]
        split = max(tail.rfind("+"), tail.rfind("-"))
        tilt, pan = int(tail[:split]), int(tail[split:])
        assert (tilt, pan) == (int(r["tilt_deg"]), int(r["pan_deg"]))
        # pan has the sign of yaw and tilt the sign of pitch (README, checked visually).
        ax = project_axes(pan, tilt, 0.0, (0, 0), 1.0)
        if abs(pan) > 0 and abs(pan) < 90:
            assert np.sign(ax["x"][0]) == -np.sign(pan)
        if abs(tilt) > 0 and abs(tilt) < 90 and abs(pan) < 90:
            assert np.sign(ax["x"][1]) == -np.sign(tilt)


def test_teacher_labels_match_landmarks(shared_dir: Path) -> None:
    """Fused teacher yaw/roll vs 5-point landmarks of the face pool (mtfl_aflw rows)."""
    faces = shared_dir / "data" / "faces"
    with open(faces / "index.csv") as f:
        lms = {r["file"]: r["landmarks5"] for r in csv.DictReader(f) if r["source"] == "mtfl_aflw"}
    yaw_ok = yaw_n = 0
    roll_err = []
    with open(faces / "teacher_labels.csv") as f:
        for r in csv.DictReader(f):
            if r["file"] not in lms or not lms[r["file"]] or not r["spread"]:
                continue
            if float(r["spread"]) > 6:
                continue
            p = np.array(lms[r["file"]].split(), float).reshape(5, 2)
            yaw, pitch, roll = float(r["yaw"]), float(r["pitch"]), float(r["roll"])
            ax = project_axes(yaw, pitch, roll, (0, 0), 1.0)
            if abs(yaw) > 20:
                nose_dx = p[2, 0] - p[[0, 1, 3, 4], 0].mean()
                yaw_n += 1
                yaw_ok += np.sign(nose_dx) == np.sign(ax["x"][0])
            if abs(yaw) < 20 and abs(pitch) < 20:
                roll_err.append(_angle_deg(p[1] - p[0]) - _angle_deg(ax["y"]))
    print(f"yaw sign agreement {yaw_ok}/{yaw_n}, median roll error {np.median(roll_err):.2f}")
    assert yaw_n > 50 and yaw_ok / yaw_n > 0.9
    assert len(roll_err) > 200 and abs(np.median(roll_err)) < 3.0


def test_face_quaternion() -> None:
    from ldl_pose_ros.core.geometry import face_quaternion_in_optical

    q = face_quaternion_in_optical(*ANGLES[:5].T)
    np.testing.assert_allclose(quaternion_to_matrix(q), face_rotation_in_optical(*ANGLES[:5].T))
    # Frontal: 120 degrees about (1, 1, -1)/sqrt(3) (x -> -z, y -> x, z -> -y).
    q0 = face_quaternion_in_optical(0.0, 0.0, 0.0)
    np.testing.assert_allclose(
        quaternion_to_matrix(q0), face_rotation_in_optical(0, 0, 0), atol=1e-12
    )
    np.testing.assert_allclose(q0, [0.5, 0.5, -0.5, 0.5], atol=1e-12)
