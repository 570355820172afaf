# Copyright 2026 The ldl_pose_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""Face detector backends on the shipped demo photograph and composed multi-face frames."""

from __future__ import annotations

import hashlib
import threading

import cv2
import numpy as np
import pytest

from bench.scenes import DEMO_FACE_BOX, face_grid
from ldl_pose_ros.core.detection import BACKENDS, DEFAULT_DETECTOR, Detection, create_detector
from ldl_pose_ros.core.detection._util import clip_boxes, nms
from ldl_pose_ros.core.geometry import box_iou

# Face centre and size in the 512x512 demo image (checked by eye and with two detectors).
FACE_CENTER = np.array([224.0, 121.0])
FACE_SIDE = 96.0


def _rgb(bgr: np.ndarray) -> np.ndarray:
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)


def _check_demo_face(dets: list[Detection]) -> Detection:
    assert len(dets) >= 1
    best = dets[0]
    assert all(isinstance(d, Detection) for d in dets)
    assert [d.score for d in dets] == sorted((d.score for d in dets), reverse=True)
    box = np.asarray(best.box)
    assert box.shape == (4,)
    center = 0.5 * (box[:2] + box[2:])
    assert np.linalg.norm(center - FACE_CENTER) < 15, box
    side = np.sqrt((box[2] - box[0]) * (box[3] - box[1]))
    assert 0.7 * FACE_SIDE < side < 1.3 * FACE_SIDE, box
    assert 0.0 < best.score <= 1.0
    return best


def _matched(dets: list[Detection], truth: np.ndarray, iou: float = 0.3) -> int:
    """Count the truth boxes matched by some detection."""
    if not dets:
        return 0
    boxes = np.stack([d.box for d in dets])
    return int(sum(box_iou(t, boxes).max() > iou for t in truth))


@pytest.fixture(scope="module")
def mediapipe_detector():
    det = create_detector("mediapipe")
    yield det
    det.close()


def test_mediapipe_finds_demo_face(mediapipe_detector, demo_image_bgr):
    best = _check_demo_face(mediapipe_detector.detect(_rgb(demo_image_bgr)))
    lm = best.landmarks
    assert lm is not None and lm.shape == (5, 2)
    # Eyes and nose are inside the box, image-left eye first; mouth corners are unknown.
    assert np.all(np.isfinite(lm[:3]))
    assert np.all(np.isnan(lm[3:]))
    assert lm[0, 0] < lm[2, 0] < lm[1, 0]
    assert np.all((lm[:3] >= best.box[:2]) & (lm[:3] <= best.box[2:]))


def test_mediapipe_short_range(demo_image_bgr):
    det = create_detector("mediapipe", model_selection="short")
    try:
        _check_demo_face(det.detect(_rgb(demo_image_bgr)))
    finally:
        det.close()


@pytest.mark.parametrize("count", [1, 5, 12])
def test_mediapipe_composed_frames(mediapipe_detector, demo_image_bgr, count):
    frame, truth = face_grid(_rgb(demo_image_bgr), DEMO_FACE_BOX, count)
    assert frame.shape == (480, 640, 3)
    dets = mediapipe_detector.detect(frame)
    assert len(dets) == count
    assert _matched(dets, truth) == count


def test_mediapipe_tiles_find_small_faces(demo_image_bgr):
    frame, truth = face_grid(_rgb(demo_image_bgr), DEMO_FACE_BOX, 20)
    det = create_detector("mediapipe", tiles=2)
    try:
        dets = det.detect(frame)
    finally:
        det.close()
    assert len(dets) == 20
    assert _matched(dets, truth) == 20


@pytest.mark.parametrize("shape", [(1, 1), (3, 7), (31, 2000), (2000, 40), (480, 640)])
def test_mediapipe_any_image_size(mediapipe_detector, shape):
    img = np.full(shape + (3,), 128, np.uint8)
    assert mediapipe_detector.detect(img) == []


def test_mediapipe_non_contiguous_and_boxes_inside(mediapipe_detector, demo_image_bgr):
    rgb = demo_image_bgr[:, :, ::-1]  # a view with negative strides
    frame = np.zeros((300, 900, 3), np.uint8)
    frame[:, :260] = cv2.resize(np.ascontiguousarray(rgb[40:340, 90:350]), (260, 300))
    for img in (rgb, frame):
        for d in mediapipe_detector.detect(img):
            h, w = img.shape[:2]
            assert 0 <= d.box[0] < d.box[2] <= w and 0 <= d.box[1] < d.box[3] <= h


def test_mediapipe_thread_safe(mediapipe_detector, demo_image_bgr):
    rgb = _rgb(demo_image_bgr)
    ref = mediapipe_detector.detect(rgb)
    results: list = []

    def work() -> None:
        for _ in range(5):
            results.append(mediapipe_detector.detect(rgb))

    threads = [threading.Thread(target=work) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(results) == 10
    for r in results:
        assert len(r) == len(ref)
        np.testing.assert_allclose(r[0].box, ref[0].box, atol=1.0)


def test_mediapipe_rejects_bad_input(mediapipe_detector):
    with pytest.raises(ValueError):
        mediapipe_detector.detect(np.zeros((10, 10), np.uint8))
    with pytest.raises(ValueError):
        create_detector("mediapipe", model_selection=3)


def test_haar_finds_demo_face(demo_image_bgr):
    det = create_detector("haar")
    best = _check_demo_face(det.detect(_rgb(demo_image_bgr)))
    assert best.landmarks is None


def test_haar_composed_frame(demo_image_bgr):
    frame, truth = face_grid(_rgb(demo_image_bgr), DEMO_FACE_BOX, 5)
    dets = create_detector("haar", profile=False).detect(frame)
    assert _matched(dets, truth) == 5
    assert all(0.5 <= d.score < 1.0 for d in dets)


def test_yunet_is_the_default_and_ships_with_its_notice():
    from ldl_pose_ros.resources import DEFAULT_YUNET, WEIGHTS_DIR

    assert DEFAULT_DETECTOR == "yunet"
    digest = hashlib.sha256(DEFAULT_YUNET.read_bytes()).hexdigest()
    notice = (WEIGHTS_DIR / "YUNET_NOTICE.md").read_text()
    assert digest in notice and "Apache License 2.0" in notice
    assert create_detector().model_path == DEFAULT_YUNET


def test_yunet_finds_demo_face(demo_image_bgr):
    det = create_detector("yunet")
    best = _check_demo_face(det.detect(_rgb(demo_image_bgr)))
    lm = best.landmarks
    assert lm is not None and lm.shape == (5, 2) and np.all(np.isfinite(lm))
    assert lm[0, 0] < lm[2, 0] < lm[1, 0]  # image-left eye, nose, image-right eye
    assert lm[3, 0] < lm[4, 0] and lm[3, 1] > lm[0, 1]  # mouth corners below the eyes


def test_yunet_finds_the_turned_face(turned_image_bgr):
    """A face turned ~35 degrees is found, mirrored or not."""
    det = create_detector("yunet")
    for img in (turned_image_bgr, np.ascontiguousarray(turned_image_bgr[:, ::-1])):
        assert len(det.detect(_rgb(img))) == 1


def test_yunet_composed_frame_and_downscale(demo_image_bgr):
    frame, truth = face_grid(_rgb(demo_image_bgr), DEMO_FACE_BOX, 20)
    det = create_detector("yunet", max_side=4096)
    assert _matched(det.detect(frame), truth) == 20
    # Downscaled detection maps boxes back to input pixels.
    big = cv2.resize(_rgb(demo_image_bgr), (1024, 1024))
    small = create_detector("yunet", max_side=512)
    box = small.detect(big)[0].box
    np.testing.assert_allclose(0.5 * (box[:2] + box[2:]), 2 * FACE_CENTER, atol=30)


def test_create_detector_errors(tmp_path):
    assert set(BACKENDS) == {"mediapipe", "yunet", "haar"}
    with pytest.raises(ValueError, match="unknown detector backend"):
        create_detector("retinaface")
    with pytest.raises(FileNotFoundError, match="not found"):
        create_detector("yunet", model_path=tmp_path / "missing.onnx")
    with pytest.raises(ValueError, match="inside the mediapipe wheel"):
        create_detector("mediapipe", model_path=__file__)
    with pytest.raises(ValueError, match="score_threshold"):
        create_detector("haar", score_threshold=1.5)
    junk = tmp_path / "junk.onnx"
    junk.write_bytes(b"not an onnx model")
    with pytest.raises(ValueError, match="cannot load YuNet"):
        create_detector("yunet", model_path=junk)
    with pytest.raises(ValueError, match="cannot load Haar"):
        create_detector("haar", model_path=junk)


def test_nms_and_clip():
    boxes = np.array([[0, 0, 10, 10], [1, 1, 11, 11], [20, 20, 30, 30], [2, 2, 6, 6]], float)
    scores = np.array([0.9, 0.8, 0.7, 0.95])
    assert nms(boxes, scores, 0.5).tolist() == [3, 0, 2]
    # Intersection-over-smaller removes the contained box 3 once box 0 is kept first.
    assert nms(boxes, np.array([0.99, 0.8, 0.7, 0.95]), 0.5, ios_threshold=0.6).tolist() == [0, 2]
    assert nms(np.zeros((0, 4)), np.zeros(0), 0.5).tolist() == []
    np.testing.assert_array_equal(clip_boxes(np.array([-5, -5, 50, 50]), 40, 30), [[0, 0, 40, 30]])
