# Copyright 2026 The ldl_pose_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""HeadPoseEstimator and the image helpers on the shipped demo photograph."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from bench.scenes import DEMO_FACE_BOX, face_grid
from ldl_pose_ros.core import geometry
from ldl_pose_ros.core.estimator import HeadPoseEstimator, StageTiming, as_boxes
from ldl_pose_ros.core.faces import FacePrediction
from ldl_pose_ros.core.imaging import ImageError, check_image, load_image, to_rgb
from ldl_pose_ros.model.checkpoint import CheckpointError
from ldl_pose_ros.resources import DEFAULT_WEIGHTS

FACE_CENTER = np.array([224.0, 121.0])


@pytest.fixture(scope="module")
def tiny_weights(tiny_checkpoint):
    """A random-init checkpoint whose angles differ between crops (mechanics, not accuracy)."""
    return tiny_checkpoint(spread_heads=True)


@pytest.fixture(scope="module")
def estimator(tiny_weights):
    est = HeadPoseEstimator(tiny_weights, device="cpu", detector="mediapipe")
    yield est
    est.close()


def _check_pose(p: FacePrediction) -> None:
    assert isinstance(p, FacePrediction)
    assert np.all(np.isfinite(p.angles)) and np.all(np.abs(p.angles) <= 99)
    assert np.all(p.stds > 0)
    assert (p.yaw, p.pitch, p.roll) == tuple(p.angles)
    np.testing.assert_allclose(p.rotation, geometry.face_rotation_in_optical(*p.angles))
    assert not p.angles.flags.writeable  # frozen


def test_demo_face(estimator, demo_image_bgr, batch_log):
    poses = estimator.estimate(demo_image_bgr)
    assert len(poses) == 1
    _check_pose(poses[0])
    box = poses[0].box
    assert np.linalg.norm(0.5 * (box[:2] + box[2:]) - FACE_CENTER) < 15
    assert poses[0].landmarks is not None
    assert batch_log == [1]
    t = estimator.last_timing
    assert isinstance(t, StageTiming) and t.faces == 1
    assert min(t.decode_ms, t.detect_ms, t.crop_ms, t.network_ms, t.post_ms) >= 0
    assert t.total_ms == pytest.approx(
        sum(v for k, v in t.as_dict().items() if k.endswith("ms") and k != "total_ms")
    )


@pytest.mark.parametrize("count", [5, 12])
def test_multi_face_one_batch(estimator, demo_image_bgr, batch_log, count):
    frame, truth = face_grid(demo_image_bgr, DEMO_FACE_BOX, count)
    poses, timing = estimator.estimate_timed(frame)
    assert len(poses) == count and timing.faces == count
    assert batch_log == [count]  # every face of the frame in one forward pass
    # Identical copies of one face give (nearly) identical angles.
    angles = np.stack([p.angles for p in poses])
    assert np.ptp(angles, axis=0).max() < 3.0
    centers = np.stack([0.5 * (p.box[:2] + p.box[2:]) for p in poses])
    truth_c = 0.5 * (truth[:, :2] + truth[:, 2:])
    dist = np.linalg.norm(centers[:, None] - truth_c[None], axis=-1)
    assert np.all(dist.min(axis=1) < 10)


def test_twenty_given_boxes_one_batch(estimator, demo_image_bgr, batch_log):
    frame, truth = face_grid(demo_image_bgr, DEMO_FACE_BOX, 20)
    poses = estimator.estimate(frame, boxes=truth)
    assert len(poses) == 20 and batch_log == [20]
    np.testing.assert_allclose(np.stack([p.box for p in poses]), truth)
    assert all(p.score == 1.0 and p.landmarks is None for p in poses)


def test_filters(tiny_weights, demo_image_bgr):
    frame, _ = face_grid(demo_image_bgr, DEMO_FACE_BOX, 5)
    est = HeadPoseEstimator(tiny_weights, device="cpu", max_faces=3)
    assert len(est.estimate(frame)) == 3
    est = HeadPoseEstimator(tiny_weights, device="cpu", min_face_size=200)
    assert est.estimate(frame) == [] and est.last_timing.network_ms == 0.0
    est = HeadPoseEstimator(tiny_weights, device="cpu", score_threshold=0.99)
    assert est.estimate(frame) == []


def test_deterministic_and_color_orders(estimator, demo_image_bgr):
    box = np.array(DEMO_FACE_BOX)
    ref = estimator.estimate(demo_image_bgr, boxes=box)[0]
    again = estimator.estimate(demo_image_bgr.copy(), boxes=[box])[0]
    np.testing.assert_array_equal(ref.angles, again.angles)
    rgb = np.ascontiguousarray(demo_image_bgr[:, :, ::-1])
    np.testing.assert_array_equal(estimator.estimate(rgb, "rgb", boxes=box)[0].angles, ref.angles)
    bgra = cv2.cvtColor(demo_image_bgr, cv2.COLOR_BGR2BGRA)
    np.testing.assert_array_equal(estimator.estimate(bgra, boxes=box)[0].angles, ref.angles)
    # Grey input (2-D or one channel) is accepted and equals its 3-channel copy.
    gray = cv2.cvtColor(demo_image_bgr, cv2.COLOR_BGR2GRAY)
    g3 = cv2.cvtColor(gray, cv2.COLOR_GRAY2BGR)
    for img in (gray, gray[:, :, None]):
        np.testing.assert_array_equal(
            estimator.estimate(img, boxes=box)[0].angles,
            estimator.estimate(g3, boxes=box)[0].angles,
        )
    assert len(estimator.estimate(gray)) == 1  # the detector also copes with grey


def test_estimate_boxes_and_predict_crops(estimator, demo_image_bgr):
    boxes = np.array([DEMO_FACE_BOX, [10, 300, 110, 400]])
    lms = [np.zeros((5, 2)), None]
    poses = estimator.estimate_boxes(demo_image_bgr, boxes, scores=[0.7, 0.2], landmarks=lms)
    assert [p.score for p in poses] == [0.7, 0.2]
    assert np.array_equal(poses[0].landmarks, lms[0]) and poses[1].landmarks is None
    rgb = to_rgb(demo_image_bgr)
    crops = estimator.crops(rgb, boxes)
    assert crops.shape == (2, 64, 64, 3) and crops.dtype == np.uint8
    angles, stds = estimator.predict_crops(crops)
    np.testing.assert_allclose(angles, np.stack([p.angles for p in poses]))
    np.testing.assert_allclose(stds, np.stack([p.stds for p in poses]))
    assert estimator.predict_crops(np.zeros((0, 64, 64, 3), np.uint8))[0].shape == (0, 3)
    with pytest.raises(ValueError, match="crops must be"):
        estimator.predict_crops(np.zeros((1, 32, 32, 3), np.uint8))
    with pytest.raises(ValueError, match="scores"):
        estimator.estimate_boxes(demo_image_bgr, boxes, scores=[1.0])


def test_no_face(estimator, batch_log):
    assert estimator.estimate(np.full((240, 320, 3), 127, np.uint8)) == []
    assert estimator.estimate(np.full((50, 50, 3), 0, np.uint8), boxes=np.zeros((0, 4))) == []
    assert batch_log == []


@pytest.mark.parametrize(
    ("image", "match"),
    [
        (np.zeros((0, 0, 3), np.uint8), "empty image"),
        (np.zeros((10, 0), np.uint8), "empty image"),
        (np.zeros((64, 64, 3), np.uint16), "16-bit"),
        (np.zeros((64, 64), np.uint16), "16-bit"),
        (np.zeros((64, 64, 3), np.float32), "floating-point"),
        (np.zeros((64, 64, 3), np.int32), "uint8"),
        (np.zeros((2, 64, 64, 3), np.uint8), "shape"),
        (np.zeros(64, np.uint8), "shape"),
        (np.zeros((64, 64, 2), np.uint8), "channels"),
        # 64 MP, but a broadcast view: no memory is allocated.
        (np.broadcast_to(np.uint8(0), (8000, 8000, 3)), "exceeds the limit of 50 MP"),
        ([[0, 1], [2, 3]], "numpy array"),
    ],
)
def test_bad_images(estimator, image, match):
    with pytest.raises(ImageError, match=match):
        estimator.estimate(image)
    assert issubclass(ImageError, ValueError)


def test_megapixel_limit_is_configurable(tiny_weights, demo_image_bgr):
    est = HeadPoseEstimator(tiny_weights, device="cpu", detector=None, max_megapixels=0.1)
    with pytest.raises(ImageError, match="0.1 MP"):
        est.estimate(demo_image_bgr, boxes=DEMO_FACE_BOX)
    with pytest.raises(ValueError, match="no face detector"):
        HeadPoseEstimator(tiny_weights, device="cpu", detector=None).estimate(demo_image_bgr)
    check_image(np.broadcast_to(np.uint8(0), (8000, 8000, 3)), max_megapixels=None)


def test_bad_boxes(estimator, demo_image_bgr):
    for boxes, match in [
        ([[10, 10, 5, 20]], "x2 > x1"),
        ([[0, 0, 10, np.nan]], "NaN"),
        ([[0, 0, 10]], "shape"),
    ]:
        with pytest.raises(ValueError, match=match):
            estimator.estimate(demo_image_bgr, boxes=boxes)
    assert as_boxes([]).shape == (0, 4)


def test_bad_weights(tmp_path):
    corrupt = tmp_path / "corrupt.ckpt"
    corrupt.write_bytes(b"\x00garbage" * 100)
    with pytest.raises(CheckpointError, match="corrupt"):
        HeadPoseEstimator(corrupt, device="cpu", detector=None)
    with pytest.raises(CheckpointError, match="not found"):
        HeadPoseEstimator(tmp_path / "missing.ckpt", device="cpu", detector=None)
    if not DEFAULT_WEIGHTS.is_file():
        with pytest.raises(CheckpointError, match="no default weights"):
            HeadPoseEstimator(device="cpu", detector=None)


def test_bad_detector_choice(tiny_weights, tmp_path):
    with pytest.raises(ValueError, match="unknown detector backend"):
        HeadPoseEstimator(tiny_weights, device="cpu", detector="nope")
    with pytest.raises(FileNotFoundError):
        HeadPoseEstimator(
            tiny_weights, device="cpu", detector="yunet", detector_model=tmp_path / "missing.onnx"
        )


def test_load_image(tmp_path, demo_image_bgr):
    from ldl_pose_ros.resources import DEMO_IMAGE

    img = load_image(DEMO_IMAGE)
    assert img.dtype == np.uint8 and img.shape == demo_image_bgr.shape
    png16 = tmp_path / "deep.png"
    cv2.imwrite(str(png16), (demo_image_bgr.astype(np.uint16) * 257))
    assert load_image(png16).dtype == np.uint8  # files are converted, arrays are not
    gray = tmp_path / "gray.png"
    cv2.imwrite(str(gray), demo_image_bgr[:, :, 0])
    assert load_image(gray).shape == demo_image_bgr.shape
    corrupt = tmp_path / "corrupt.jpg"
    corrupt.write_bytes(np.random.default_rng(0).integers(0, 255, 500, np.uint8).tobytes())
    empty = tmp_path / "empty.png"
    empty.write_bytes(b"")
    for path, match in [
        (corrupt, "not a readable image"),
        (empty, "empty file"),
        (tmp_path / "missing.jpg", "no such file"),
        (tmp_path, "not a regular file"),
    ]:
        with pytest.raises(ImageError, match=match):
            load_image(path)
    with pytest.raises(ImageError, match="exceeds"):
        load_image(DEMO_IMAGE, max_megapixels=0.01)


def test_to_rgb():
    img = np.zeros((2, 3, 3), np.uint8)
    img[..., 0] = 1  # blue in BGR
    assert to_rgb(img, "bgr")[0, 0].tolist() == [0, 0, 1]
    assert to_rgb(img, "rgb")[0, 0].tolist() == [1, 0, 0]
    assert to_rgb(img, "RGB").flags.c_contiguous
    with pytest.raises(ValueError, match="color"):
        to_rgb(img, "hsv")


@pytest.mark.skipif(
    not DEFAULT_WEIGHTS.is_file(),
    reason=f"needs trained default weights at {DEFAULT_WEIGHTS} (a random model has no "
    "flip symmetry); the lead ships them",
)
@pytest.mark.parametrize("mirror_average", [False, True])
def test_flip_negates_yaw_and_roll(demo_image_bgr, turned_image_bgr, mirror_average):
    # Without mirror averaging this is the network's own (learned) mirror behaviour; with
    # it only the detector's boxes of the two images differ.
    est = HeadPoseEstimator(device="cpu", mirror_average=mirror_average)
    # Rotating the image counter-clockwise by 20 degrees gives a clearly rolled face.
    rot = cv2.getRotationMatrix2D((224.0, 121.0), 20.0, 1.0)
    rolled = cv2.warpAffine(demo_image_bgr, rot, (512, 512), borderMode=cv2.BORDER_REPLICATE)
    results = []
    for img in (turned_image_bgr, rolled):
        a = est.estimate(img)[0]
        b = est.estimate(np.ascontiguousarray(img[:, ::-1]))[0]
        assert b.yaw == pytest.approx(-a.yaw, abs=5.0)
        assert b.pitch == pytest.approx(a.pitch, abs=5.0)
        assert b.roll == pytest.approx(-a.roll, abs=5.0)
        results.append((a, b))
    # The turned face (about +32 deg) reads as turned, and its mirror as turned the other way:
    # a model that ignored mirroring would give the same sign twice.
    turned, mirrored = results[0]
    assert turned.yaw > 15.0 and mirrored.yaw < -15.0, (turned.yaw, mirrored.yaw)
    # Roll > 0 is clockwise, so the counter-clockwise rotation makes the roll about -20.
    assert results[1][0].roll == pytest.approx(-20.0, abs=8.0)
    assert results[1][1].roll == pytest.approx(20.0, abs=8.0)


def test_annotate(estimator, demo_image_bgr):
    from ldl_pose_ros.core.annotate import draw_poses, pose_label

    frame, _ = face_grid(demo_image_bgr, DEMO_FACE_BOX, 5)
    poses = estimator.estimate(frame)
    before = frame.copy()
    out = draw_poses(frame, poses, ids=[3, 4, 5, 6, 7])
    np.testing.assert_array_equal(frame, before)  # drew on a copy
    assert out.shape == frame.shape and out.dtype == np.uint8
    changed = np.any(out != frame, axis=2)
    for p in poses:  # every face got marks inside or around its box
        x1, y1, x2, y2 = np.round(p.box).astype(int)
        assert changed[max(0, y1 - 2) : y2 + 2, max(0, x1 - 2) : x2 + 2].sum() > 50
    assert pose_label(poses[0])[0].startswith("Y ")
    same = draw_poses(frame, poses, copy=False, text=False)
    assert same is frame and np.any(frame != before)
    assert np.array_equal(draw_poses(before, []), before)
    with pytest.raises(ValueError, match="ids"):
        draw_poses(before, poses, ids=[1])
    with pytest.raises(ValueError, match="BGR"):
        draw_poses(before[:, :, 0], poses)


@pytest.mark.parametrize("backend", ["torch", "onnx"])
def test_close_releases_the_network(tiny_weights, demo_image_bgr, backend):
    """What the node's deactivate/cleanup rely on: nothing of the network stays referenced."""
    import gc
    import weakref

    est = HeadPoseEstimator(tiny_weights, device="cpu", backend=backend, detector=None)
    net = est.runner._model if backend == "torch" else est.runner._session
    ref = weakref.ref(net)
    del net
    est.estimate_boxes(demo_image_bgr, [[176.0, 70.0, 272.0, 172.0]])
    est.close()
    gc.collect()
    assert ref() is None, "the network is still referenced after close()"
    assert est.runner.closed
    with pytest.raises(RuntimeError, match="released"):
        est.estimate_boxes(demo_image_bgr, [[176.0, 70.0, 272.0, 172.0]])
