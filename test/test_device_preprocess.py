# Copyright 2026 The ldl_pose_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""The torch (GPU-ready) crop path agrees with the OpenCV crop convention; run here on CPU."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
import torch

from bench.scenes import DEMO_FACE_BOX, face_grid
from ldl_pose_ros.core.crop import crop_faces, crop_faces_torch, to_network_input
from ldl_pose_ros.core.estimator import HeadPoseEstimator
from ldl_pose_ros.resources import DEMO_IMAGE

MEAN, STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)


def _rgb() -> np.ndarray:
    return cv2.cvtColor(cv2.imread(str(DEMO_IMAGE), cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)


def test_torch_crops_match_opencv_crops() -> None:
    img = _rgb()
    boxes = np.array([
        DEMO_FACE_BOX,              # upsampled face
        [0, 0, 30, 40],             # small, partly outside (border replicate)
        [-20, 400, 60, 520],        # outside at the bottom-left
        [100, 100, 400, 420],       # large: area-averaged path
        [10, 10, 500, 500],         # very large
    ], dtype=np.float64)
    ref = to_network_input(crop_faces(img, boxes, 112, 1.4, 0.05), MEAN, STD)
    got = crop_faces_torch(torch.from_numpy(img), boxes, 112, 1.4, 0.05, MEAN, STD)
    assert got.shape == ref.shape and got.dtype == torch.float32
    grey = np.abs(got.numpy() - ref) * (np.array(STD) * 255.0).reshape(1, 3, 1, 1)
    assert grey.reshape(len(boxes), -1).mean(axis=1).max() < 1.0  # below one grey level
    assert np.percentile(grey, 99) < 3.0
    empty = crop_faces_torch(torch.from_numpy(img), np.zeros((0, 4)), 112, 1.4, 0.0, MEAN, STD)
    assert empty.shape == (0, 3, 112, 112)
    with pytest.raises(ValueError):
        crop_faces_torch(torch.from_numpy(img).float(), boxes, 112, 1.4, 0.0, MEAN, STD)


@pytest.fixture(scope="module")
def weights(tiny_checkpoint):
    return tiny_checkpoint(spread_heads=True)


def test_estimator_torch_preprocess_matches_numpy(weights) -> None:
    frame, boxes = face_grid(cv2.imread(str(DEMO_IMAGE), cv2.IMREAD_COLOR), DEMO_FACE_BOX, 5)
    kw = dict(device="cpu", backend="torch", detector=None, threads=1)
    ref = HeadPoseEstimator(weights, preprocess="numpy", **kw).estimate(frame, boxes=boxes)
    got = HeadPoseEstimator(weights, preprocess="torch", **kw).estimate(frame, boxes=boxes)
    assert len(got) == len(ref) == 5
    for a, b in zip(got, ref, strict=True):
        np.testing.assert_allclose([a.yaw, a.pitch, a.roll], [b.yaw, b.pitch, b.roll], atol=1.0)
        np.testing.assert_array_equal(a.box, b.box)
    with pytest.raises(ValueError, match="torch backend"):
        HeadPoseEstimator(weights, device="cpu", backend="onnx", detector=None,
                          preprocess="torch")
    with pytest.raises(ValueError, match="preprocess"):
        HeadPoseEstimator(weights, device="cpu", detector=None, preprocess="gpu")
