# Copyright 2026 The ldl_pose_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""Augmentation label handling: flip negates yaw and roll and mirrors the box, etc."""

from __future__ import annotations

import dataclasses

import cv2
import numpy as np
import pytest

from ldl_pose_ros.model.config import ModelConfig
from training.augment import (
    AugmentConfig,
    augment_geometry,
    augment_photometric,
    color_jitter,
    grayscale,
    hflip,
    jitter_box,
    random_erase,
    rotate_inplane,
)
from training.datasets import PoseDataset, Sample


def _marked_image() -> np.ndarray:
    img = np.zeros((40, 60, 3), np.uint8)
    img[10:14, 5:9] = (255, 0, 0)  # red square near the left edge
    return img


def test_hflip_negates_yaw_and_roll_and_mirrors_box() -> None:
    img = _marked_image()
    box = np.array([2.0, 8.0, 20.0, 30.0])
    out, fbox, fang = hflip(img, box, np.array([30.0, -12.0, 7.0]))
    np.testing.assert_allclose(fang, [-30.0, -12.0, -7.0])
    np.testing.assert_allclose(fbox, [40.0, 8.0, 58.0, 30.0])  # x1' = W - x2, x2' = W - x1
    # the marker moved to the mirrored columns: 60 - 9 .. 60 - 5
    assert (out[10:14, 51:55] == (255, 0, 0)).all() and out[10:14, 5:9].max() == 0
    # flipping twice is the identity
    back, bbox, bang = hflip(out, fbox, fang)
    assert np.array_equal(back, img)
    np.testing.assert_allclose(bbox, box)
    np.testing.assert_allclose(bang, [30.0, -12.0, 7.0])


def test_flip_keeps_the_face_in_the_box() -> None:
    img = _marked_image()
    box = np.array([4.0, 9.0, 10.0, 15.0])  # around the marker
    out, fbox, _ = hflip(img, box, np.zeros(3))
    x1, y1, x2, y2 = fbox.astype(int)
    assert out[y1:y2, x1:x2].sum() == img[9:15, 4:10].sum()


def test_dataset_flip_labels(tmp_path) -> None:
    img = np.random.default_rng(0).integers(0, 255, (50, 70, 3), dtype=np.uint8)
    img = cv2.GaussianBlur(img, (0, 0), 2.0)
    path = tmp_path / "f.png"
    cv2.imwrite(str(path), img[:, :, ::-1])
    s = Sample(str(path), [10, 10, 40, 45], [25.0, 8.0, -6.0], [1, 1, 1])
    cfg = ModelConfig(input_size=32)
    only_flip = dataclasses.replace(AugmentConfig.off(), flip=1.0)
    crop_f, ang_f, _ = PoseDataset([s], cfg, only_flip).crop(0)
    crop_n, ang_n, _ = PoseDataset([s], cfg, AugmentConfig.off()).crop(0)
    np.testing.assert_allclose(ang_f, [-25.0, 8.0, 6.0])
    np.testing.assert_allclose(ang_n, [25.0, 8.0, -6.0])
    # the crop of the flipped image is the mirrored crop (the crop square is centred in x)
    diff = np.abs(crop_f.astype(int) - crop_n[:, ::-1].astype(int))
    assert diff.mean() < 1.0


def test_masked_roll_stays_masked_under_flip() -> None:
    rng = np.random.default_rng(0)
    cfg = dataclasses.replace(AugmentConfig.off(), flip=1.0, rotate_p=1.0, rotate_deg=20.0)
    img = np.zeros((30, 30, 3), np.uint8)
    _, _, ang = augment_geometry(img, np.array([5, 5, 25, 25.0]), np.array([40.0, 10.0, 0.0]),
                                 np.array([1, 1, 0]), cfg, rng)
    # no rotation for a sample without roll label: yaw/pitch only flipped
    np.testing.assert_allclose(ang, [-40.0, 10.0, 0.0])


def test_rotate_inplane_adds_roll_for_frontal_face() -> None:
    img = np.zeros((41, 41, 3), np.uint8)
    img[20, 30] = 255  # a point right of the centre
    out, box, ang = rotate_inplane(img, np.array([10, 10, 30, 30.0]), np.zeros(3), 90.0)
    np.testing.assert_allclose(ang, [0, 0, 90], atol=1e-9)
    # clockwise as displayed (y down): right of centre -> below centre
    y, x = np.unravel_index(np.argmax(out[:, :, 0]), out.shape[:2])
    assert (y, x) == (30, 20)
    np.testing.assert_allclose(box, [10, 10, 30, 30])


@pytest.mark.parametrize("theta", [-25.0, 10.0])
def test_rotate_inplane_composes_rotations(theta: float) -> None:
    from ldl_pose_ros.core.geometry import euler_to_matrix, geodesic_deg

    ang = np.array([30.0, -15.0, 5.0])
    _, _, new = rotate_inplane(np.zeros((8, 8, 3), np.uint8), np.array([0, 0, 8, 8.0]), ang,
                               theta)
    r_old, r_new = euler_to_matrix(*ang), euler_to_matrix(*new)
    assert geodesic_deg(r_old, r_new) == pytest.approx(abs(theta), abs=1e-6)


def test_jitter_box_ranges() -> None:
    rng = np.random.default_rng(1)
    box = np.array([10.0, 20.0, 50.0, 80.0])
    for _ in range(50):
        b = jitter_box(box, rng, 0.1, 0.05)
        w, h = b[2] - b[0], b[3] - b[1]
        assert 0.9 * 40 - 1e-9 <= w <= 1.1 * 40 + 1e-9
        assert w / h == pytest.approx(40 / 60)
        c = (b[:2] + b[2:]) / 2
        assert abs(c[0] - 30) <= 0.05 * 40 + 1e-9 and abs(c[1] - 50) <= 0.05 * 60 + 1e-9
    np.testing.assert_allclose(jitter_box(box, rng, 0.0, 0.0), box)


def test_photometric_steps_keep_shape_and_labels_free() -> None:
    rng = np.random.default_rng(2)
    crop = rng.integers(0, 256, (32, 32, 3), dtype=np.uint8)
    for out in (color_jitter(crop, rng, 0.3, 0.3, 0.3, 0.05), grayscale(crop),
                random_erase(crop, rng, (0.1, 0.2), (0.5, 2.0)),
                augment_photometric(crop, AugmentConfig(color_p=1, blur_p=1, grayscale_p=1,
                                                        erase_p=1), rng)):
        assert out.shape == crop.shape and out.dtype == np.uint8
    g = grayscale(crop)
    assert np.array_equal(g[..., 0], g[..., 1]) and np.array_equal(g[..., 1], g[..., 2])
    erased = random_erase(np.zeros((32, 32, 3), np.uint8), np.random.default_rng(3),
                          (0.1, 0.1), (1.0, 1.0))
    changed = (erased != 0).any(-1).sum()
    assert 0 < changed <= 0.12 * 32 * 32
    assert np.array_equal(augment_photometric(crop, AugmentConfig.off(), rng), crop)


def test_augment_config_from_dict() -> None:
    cfg = AugmentConfig.from_dict({"flip": 0.0, "erase_area": [0.1, 0.3]})
    assert cfg.flip == 0.0 and cfg.erase_area == (0.1, 0.3)
    with pytest.raises(ValueError, match="unknown"):
        AugmentConfig.from_dict({"flipp": 1})
