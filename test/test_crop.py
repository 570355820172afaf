# Copyright 2026 The ldl_pose_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""The shared crop convention: square boxes, resampling, borders, flips, normalisation."""

from __future__ import annotations

import numpy as np
import pytest

from ldl_pose_ros.core.crop import crop_boxes, crop_faces, flip_boxes, flip_points, to_network_input
from ldl_pose_ros.model import ModelConfig


def _ramp(h: int = 120, w: int = 160) -> np.ndarray:
    yy, xx = np.mgrid[0:h, 0:w]
    return np.stack([xx % 256, yy % 256, (xx + yy) % 256], -1).astype(np.uint8)


def test_crop_boxes_square_centre_and_shift() -> None:
    boxes = np.array([[10.0, 20.0, 50.0, 80.0], [0, 0, 30, 10]])
    sq = crop_boxes(boxes, (1.5, 0.0))
    side = sq[:, 2] - sq[:, 0]
    np.testing.assert_allclose(side, [90.0, 45.0])
    np.testing.assert_allclose(sq[:, 3] - sq[:, 1], side)
    np.testing.assert_allclose(0.5 * (sq[:, 0] + sq[:, 2]), [30.0, 15.0])
    np.testing.assert_allclose(0.5 * (sq[:, 1] + sq[:, 3]), [50.0, 5.0])
    shifted = crop_boxes(boxes, (1.5, 0.1))
    np.testing.assert_allclose(shifted[:, 1] - sq[:, 1], 0.1 * side)
    cfg = ModelConfig(crop_scale=1.5, crop_shift_y=0.1)
    np.testing.assert_allclose(crop_boxes(boxes, cfg), shifted)
    assert crop_boxes(np.array([0.0, 0, 10, 10]), (1.0, 0.0)).shape == (4,)
    with pytest.raises(ValueError):
        crop_boxes(np.zeros((2, 3)), (1.0, 0.0))


def test_crop_identity_copy() -> None:
    img = _ramp()
    crops = crop_faces(img, np.array([[10, 20, 42, 52], [0, 0, 32, 32]]), size=32)
    assert crops.shape == (2, 32, 32, 3) and crops.dtype == np.uint8
    np.testing.assert_array_equal(crops[0], img[20:52, 10:42])
    np.testing.assert_array_equal(crops[1], img[0:32, 0:32])


def test_crop_upscale_keeps_geometry() -> None:
    img = np.zeros((100, 100, 3), np.uint8)
    img[40:60, 40:60] = 255  # 20-px white square, cropped with a 40-px box at 2x
    crop = crop_faces(img, np.array([[30, 30, 70, 70]]), size=80)[0]
    assert crop.shape == (80, 80, 3)
    ys, xs = np.nonzero(crop[..., 0] > 127)
    assert (ys.min(), ys.max(), xs.min(), xs.max()) == (20, 59, 20, 59)


def test_border_replicate() -> None:
    img = _ramp()
    crop = crop_faces(img, np.array([[-20, 10, 12, 42]]), size=32)[0]
    # Columns left of the image repeat column 0.
    np.testing.assert_array_equal(crop[:, :20], np.repeat(img[10:42, :1], 20, axis=1))
    np.testing.assert_array_equal(crop[:, 20:], img[10:42, 0:12])


def test_large_faces_are_area_averaged() -> None:
    img = np.zeros((400, 400, 3), np.uint8)
    img[::2, ::2] = 255
    img[1::2, 1::2] = 255  # 1-px checkerboard, mean 127.5
    crop = crop_faces(img, np.array([[40, 40, 360, 360]]), size=32)[0].astype(float)
    assert abs(crop.mean() - 127.5) < 2 and crop.std() < 3


def test_empty_and_bad_inputs() -> None:
    img = _ramp()
    assert crop_faces(img, np.zeros((0, 4)), size=16).shape == (0, 16, 16, 3)
    with pytest.raises(ValueError):
        crop_faces(img[..., 0], np.array([[0, 0, 10, 10]]), 16)
    with pytest.raises(ValueError):
        crop_faces(img.astype(np.float32), np.array([[0, 0, 10, 10]]), 16)
    with pytest.raises(ValueError):
        crop_faces(img, np.array([[10, 10, 10, 10]]), 16)


def test_flip_helpers() -> None:
    b = np.array([[10.0, 5.0, 30.0, 25.0]])
    np.testing.assert_allclose(flip_boxes(b, 100), [[70.0, 5.0, 90.0, 25.0]])
    np.testing.assert_allclose(flip_boxes(flip_boxes(b, 100), 100), b)
    np.testing.assert_allclose(flip_points(np.array([[10.0, 3.0]]), 100), [[90.0, 3.0]])


def test_flip_commutes_with_crop(demo_image_bgr: np.ndarray) -> None:
    img = demo_image_bgr[..., ::-1].copy()  # RGB
    w = img.shape[1]
    box = np.array([[178.3, 72.6, 268.9, 168.1]])  # the demo face, off-grid on purpose
    a = crop_faces(img, box, 64, 1.4, 0.05)[0]
    b = crop_faces(img[:, ::-1].copy(), flip_boxes(box, w), 64, 1.4, 0.05)[0]
    diff = np.abs(a[:, ::-1].astype(int) - b.astype(int))
    assert diff.max() <= 1


def test_demo_face_crop_is_centred(demo_image_bgr: np.ndarray) -> None:
    img = demo_image_bgr[..., ::-1].copy()
    box = np.array([[178.0, 72.0, 270.0, 168.0]])
    crop = crop_faces(img, box, 112, 1.0, 0.0)[0]
    gray = crop.astype(float).mean(-1)
    # Pupils (hand-annotated at (202.5, 101.3) and (245.8, 103.3)) are dark.
    s = 112 / 96.0  # square of side max(92, 96) = 96 about (224, 120): x from 176
    for px, py in [(202.5, 101.3), (245.8, 103.3)]:
        u, v = int((px - 176.0) * s), int((py - 72.0) * s)
        ring = gray[v - 8 : v + 9, u - 8 : u + 9].mean()
        assert gray[v - 1 : v + 2, u - 1 : u + 2].mean() < 0.75 * ring


def test_to_network_input() -> None:
    rng = np.random.default_rng(0)
    crops = rng.integers(0, 256, (2, 8, 8, 3), dtype=np.uint8)
    mean, std = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)
    x = to_network_input(crops, mean, std)
    assert x.shape == (2, 3, 8, 8) and x.dtype == np.float32 and x.flags.c_contiguous
    ref = (crops.astype(np.float64) / 255.0 - np.array(mean)) / np.array(std)
    np.testing.assert_allclose(x, ref.transpose(0, 3, 1, 2), atol=1e-5)
    assert to_network_input(crops[0], mean, std).shape == (1, 3, 8, 8)
    with pytest.raises(ValueError):
        to_network_input(crops[..., :2], mean, std)


def test_prepare_batch_uses_config(demo_image_bgr: np.ndarray) -> None:
    from ldl_pose_ros.core.crop import prepare_batch

    img = demo_image_bgr[..., ::-1].copy()
    cfg = ModelConfig(input_size=48, crop_scale=1.3, crop_shift_y=0.05)
    boxes = np.array([[178.0, 72.0, 270.0, 168.0], [0.0, 0.0, 40.0, 40.0]])
    x = prepare_batch(img, boxes, cfg)
    ref = to_network_input(crop_faces(img, boxes, 48, 1.3, 0.05), cfg.mean, cfg.std)
    assert x.shape == (2, 3, 48, 48)
    np.testing.assert_array_equal(x, ref)
