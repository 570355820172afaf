# Copyright 2026 The ldl_pose_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""Large-pose synthesis: geometry, labels, rendering, planning."""

from __future__ import annotations

import csv
from pathlib import Path

import cv2
import numpy as np
import pytest

from ldl_pose_ros.core.geometry import euler_to_matrix
from training.synthesize import (
    PoolFace,
    build_head_mesh,
    compose_label,
    delta_rotation,
    make_topology,
    moved_box,
    plan_pairs,
    render_mesh,
    rotate_mesh,
    synthesize_face,
    umeyama,
)

MESH = Path("models/face_mesh/canonical_face_model_landmark_order.obj")


def _dome():
    """A small face-like mesh: a dome (face towards -z) with a nose bump at the centre.

    Returns the topology and the index of the nose vertex; units are cm, optical
    frame (x right, y down, z into the scene).
    """
    from scipy.spatial import Delaunay

    xs = np.linspace(-1.0, 1.0, 11)
    gx, gy = np.meshgrid(xs, xs)
    r2 = gx**2 + gy**2
    inner = np.column_stack([gx[r2 < 0.85], gy[r2 < 0.85]])
    ang = np.linspace(0.0, 2 * np.pi, 32, endpoint=False)
    pts = np.vstack([inner, np.column_stack([np.cos(ang), np.sin(ang)])])
    rr = (pts**2).sum(1)
    z = -6.0 * np.sqrt(np.clip(1.0 - rr, 0.0, None)) - 4.0 * np.exp(-rr / 0.03)
    canonical = np.column_stack([8.0 * pts, z])
    topo = make_topology(canonical, Delaunay(pts).simplices)
    return topo, int(np.argmin(rr))


def _dome_image(topo, nose: int, size: int = 200, scale: float = 6.0):
    """Landmarks of the dome seen frontally and a texture with a red nose tip."""
    lm = topo.canonical * scale + np.array([size / 2, size / 2, 0.0])
    yy, xx = np.mgrid[0:size, 0:size]
    img = np.stack([xx % 256, yy % 256, (xx + yy) % 256], -1).astype(np.uint8) // 2
    cv2.circle(img, (int(lm[nose, 0]), int(lm[nose, 1])), 5, (0, 0, 255), -1)
    box = np.array(
        [size / 2 - 8 * scale, size / 2 - 8 * scale, size / 2 + 8 * scale, size / 2 + 8 * scale]
    )
    return img, lm, box


def _red_centroid(img: np.ndarray) -> np.ndarray:
    m = (img[..., 2] > 200) & (img[..., 1] < 60) & (img[..., 0] < 60)
    assert m.sum() > 10, "red nose tip not visible"
    ys, xs = np.nonzero(m)
    return np.array([xs.mean(), ys.mean()])


# ----------------------------------------------------------------------------- labels


def test_camera_frame_composition():
    np.testing.assert_allclose(
        compose_label((0, 0, 0), euler_to_matrix(30.0, 0, 0)), [30, 0, 0], atol=1e-9
    )
    np.testing.assert_allclose(
        compose_label((20, 0, 0), euler_to_matrix(25.0, 0, 0)), [45, 0, 0], atol=1e-9
    )
    np.testing.assert_allclose(
        compose_label((0, 10, 0), euler_to_matrix(0, 15.0, 0)), [0, 25, 0], atol=1e-9
    )


def test_composed_labels_round_trip():
    rng = np.random.default_rng(3)
    for _ in range(200):
        a = rng.uniform([-40, -25, -20], [40, 25, 20])
        t = a + np.array([rng.uniform(-75, 75), rng.uniform(-20, 20), 0.0])
        t[0] = np.clip(t[0], -88, 88)
        rd = delta_rotation(a, t)
        np.testing.assert_allclose(rd @ rd.T, np.eye(3), atol=1e-12)
        np.testing.assert_allclose(compose_label(a, rd), t, atol=1e-7)


def test_umeyama_recovers_a_similarity():
    rng = np.random.default_rng(0)
    src = rng.normal(size=(50, 3))
    rot = euler_to_matrix(20.0, -10.0, 5.0)
    s, r, t = umeyama(src, 3.0 * src @ rot.T + [1.0, 2.0, 3.0])
    assert s == pytest.approx(3.0)
    np.testing.assert_allclose(r, rot, atol=1e-9)
    np.testing.assert_allclose(t, [1, 2, 3], atol=1e-9)


# ----------------------------------------------------------------------------- rendering


@pytest.mark.parametrize("dyaw", [30.0, -30.0])
def test_yaw_moves_the_nose_and_labels_it(dyaw: float):
    topo, nose = _dome()
    img, lm, box = _dome_image(topo, nose)
    res = synthesize_face(img, lm, topo, (0.0, 0.0, 0.0), box, dyaw, 0.0, recentre=False)
    np.testing.assert_allclose(res.angles, [dyaw, 0.0, 0.0], atol=1e-7)
    # yaw > 0: nose towards image-left.  The nose tip is 14 cm in front of the
    # pivot at 6 px/cm, so its vertex moves by 14 sin(30 deg) 6 = 42 px.
    expected = -np.sign(dyaw) * 14.0 * np.sin(np.radians(abs(dyaw))) * 6.0
    mesh = build_head_mesh(lm, topo)
    dst = rotate_mesh(mesh, delta_rotation((0, 0, 0), (dyaw, 0, 0)))
    assert dst[nose, 0] - lm[nose, 0] == pytest.approx(expected, abs=1e-6)
    # The rendered red nose tip (a disc around the vertex, partly on the slope of
    # the bump) moves the same way by most of that.
    c0, c1 = _red_centroid(img), _red_centroid(res.image)
    assert 0.7 < (c1[0] - c0[0]) / expected < 1.05
    assert abs(c1[1] - c0[1]) < 3.0
    # Re-centred: the nose still points the same way relative to the face box.
    res = synthesize_face(img, lm, topo, (0.0, 0.0, 0.0), box, dyaw, 0.0)
    cx = 0.5 * (res.box[0] + res.box[2])
    assert np.sign(_red_centroid(res.image)[0] - cx) == -np.sign(dyaw)


def test_pitch_up_moves_the_nose_up():
    topo, nose = _dome()
    img, lm, box = _dome_image(topo, nose)
    res = synthesize_face(img, lm, topo, (0.0, 0.0, 0.0), box, 0.0, 15.0, recentre=False)
    np.testing.assert_allclose(res.angles, [0.0, 15.0, 0.0], atol=1e-7)
    assert _red_centroid(res.image)[1] < _red_centroid(img)[1] - 10.0


def test_zero_rotation_is_identity():
    topo, nose = _dome()
    img, lm, box = _dome_image(topo, nose)
    mesh = build_head_mesh(lm, topo)
    out = render_mesh(img, mesh, rotate_mesh(mesh, np.eye(3)))
    assert np.abs(out.astype(int) - img.astype(int)).max() <= 2
    np.testing.assert_allclose(moved_box(box, lm[:, :2], lm[:, :2]), box)


def test_back_faces_are_culled_at_large_yaw():
    topo, nose = _dome()
    img, lm, box = _dome_image(topo, nose)
    res = synthesize_face(img, lm, topo, (0.0, 0.0, 0.0), box, 85.0, 0.0)
    assert 0.3 < res.visible_fraction < 0.8
    front = synthesize_face(img, lm, topo, (0.0, 0.0, 0.0), box, 5.0, 0.0)
    assert front.visible_fraction > 0.95


# ----------------------------------------------------------------------------- planning


def test_plan_pairs_respects_the_limits():
    rng = np.random.default_rng(0)
    pool = [
        PoolFace(f"{i}.jpg", np.array([0, 0, 10, 10]), np.array([y, p, 0.0]), 1.0)
        for i, (y, p) in enumerate(
            zip(rng.uniform(-40, 40, 400), rng.uniform(-30, 30, 400), strict=True)
        )
    ]
    plans = plan_pairs(pool, 150, rng, max_src_yaw=35.0, max_src_pitch=20.0)
    assert len(plans) == 150
    idx = [i for i, _, _ in plans]
    assert len(set(idx)) == len(idx)  # each source used once
    for i, dy, dp in plans:
        y0, p0 = pool[i].angles[:2]
        assert abs(y0) <= 35.0 and abs(p0) <= 20.0
        assert 30.0 <= abs(y0 + dy) <= 90.0
        assert 10.0 <= abs(dy) <= 75.0
        assert abs(dp) <= 20.0 and abs(p0 + dp) <= 40.0
    targets = np.array([pool[i].angles[0] + dy for i, dy, _ in plans])
    assert (targets > 0).mean() == pytest.approx(0.5, abs=0.15)
    assert (np.abs(targets) >= 60).mean() > 0.4


# ----------------------------------------------------------------------------- shared data


def test_canonical_mesh_rotation(shared_dir: Path):
    from training.synthesize import load_topology

    topo = load_topology(shared_dir / MESH)
    assert topo.triangles.shape == (898, 3) and len(topo.oval) == 36
    size, scale = 240, 6.0
    lm = topo.canonical * scale + np.array([size / 2, size / 2, 0.0])
    img = np.full((size, size, 3), 128, np.uint8)
    box = np.array([60.0, 60.0, 180.0, 180.0])
    mesh = build_head_mesh(lm, topo)
    dst = rotate_mesh(mesh, delta_rotation((0, 0, 0), (30.0, 0.0, 0.0)))
    assert dst[4, 0] < lm[4, 0] - 20.0  # nose tip (landmark 4) to image-left
    res = synthesize_face(img, lm, topo, (0.0, 0.0, 0.0), box, 30.0, 0.0)
    np.testing.assert_allclose(res.angles, [30.0, 0.0, 0.0], atol=1e-7)


def test_synthesised_face_reads_as_turned(shared_dir: Path, demo_image_bgr: np.ndarray):
    """FaceMesh on the demo photo, turned +-45 deg: FSA-Net must agree on the sign."""
    pytest.importorskip("mediapipe")
    pytest.importorskip("onnxruntime")
    from training.synthesize import FaceMeshLandmarks, load_topology
    from training.teachers import FSANetTeacher

    img = cv2.resize(demo_image_bgr, (256, 256))
    fm = FaceMeshLandmarks()
    lm = fm(img)
    fm.close()
    assert lm is not None and lm.shape == (468, 3)
    topo = load_topology(shared_dir / MESH)
    teacher = FSANetTeacher.from_dir(shared_dir / "models" / "teachers")
    xs, ys = lm[:, 0], lm[:, 1]
    box = np.array([xs.min(), ys.min(), xs.max(), ys.max()])
    y0 = teacher.predict(img, box)[0]
    for dyaw in (45.0, -45.0):
        res = synthesize_face(img, lm, topo, (y0, 0.0, 0.0), box, dyaw, 0.0)
        pred = teacher.predict(res.image, res.box)
        assert np.sign(pred[0]) == np.sign(dyaw)
        assert abs(pred[0] - res.angles[0]) < 20.0


def test_synthesize_dataset_end_to_end(
    shared_dir: Path, demo_image_bgr: np.ndarray, tmp_path: Path
):
    pytest.importorskip("mediapipe")
    from training.synthesize import contact_sheet, synthesize_dataset

    src = tmp_path / "src"
    src.mkdir()
    pool = []
    for i in range(3):
        cv2.imwrite(str(src / f"f{i}.jpg"), cv2.resize(demo_image_bgr, (160, 160)))
        pool.append(PoolFace(f"f{i}.jpg", np.array([45.0, 30.0, 115.0, 120.0]), np.zeros(3), 1.0))
    out = tmp_path / "out"
    st = synthesize_dataset(pool, src, out, 3, shared_dir / MESH, seed=1, progress=False)
    assert st.written == 3
    with (out / "labels.csv").open(newline="") as fh:
        rows = list(csv.reader(fh))
    assert rows[0] == ["file", "x1", "y1", "x2", "y2", "yaw", "pitch", "roll", "weight"]
    assert len(rows) == 4
    for r in rows[1:]:
        assert (out / r[0]).is_file()
        assert 30.0 <= abs(float(r[5])) <= 90.0
        assert float(r[8]) == pytest.approx(0.7)
    sheet = contact_sheet(out, tmp_path / "sheet.png", rows=2, cols=2, thumb=64)
    assert cv2.imread(str(sheet)).shape == (128, 128, 3)
