# Copyright 2026 The ldl_pose_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""The FaceMesh-layout backbone and its initialisation from MediaPipe's TFLite model."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from ldl_pose_ros.model.config import ModelConfig
from ldl_pose_ros.model.facemesh import FaceMeshNet, _same_pad
from ldl_pose_ros.model.network import LDLHeadPoseNet


@pytest.mark.parametrize(("n", "stride", "before", "after"),
                         [(192, 2, 0, 1), (5, 2, 1, 1), (6, 1, 1, 1), (7, 1, 1, 1)])
def test_same_padding_matches_tensorflow_rule(n: int, stride: int, before: int, after: int) -> None:
    x = torch.ones(1, 1, n, n)
    y = _same_pad(x, 3, stride)
    assert y.shape[-1] == n + before + after
    # TensorFlow puts the odd extra pixel at the end (bottom / right).
    assert float(y[0, 0, -1, -1]) == (0.0 if after else 1.0)
    assert float(y[0, 0, 0, 0]) == (0.0 if before else 1.0)


@pytest.mark.parametrize("size", [64, 128, 144, 160, 192])
def test_ldl_net_with_facemesh_backbone(size: int) -> None:
    torch.manual_seed(0)
    cfg = ModelConfig(backbone="facemesh", input_size=size)
    net = LDLHeadPoseNet(cfg).eval()
    with torch.no_grad():
        logits = net(torch.rand(2, 3, size, size))
    assert logits.shape == (2, 3, cfg.num_bins)
    assert torch.isfinite(logits).all()


def test_small_inputs_pad_the_last_map_and_large_ones_do_not() -> None:
    """Under 129 px the last map is 2x2 and is padded to the 3x3 landmark kernel."""
    torch.manual_seed(0)
    net = FaceMeshNet().eval()
    seen: list[tuple[int, ...]] = []
    net.landmark.register_forward_hook(lambda _m, inp, _o: seen.append(tuple(inp[0].shape[-2:])))
    with torch.no_grad():
        for size in (128, 160):
            net.landmarks(torch.rand(1, 3, size, size))
    assert seen == [(3, 3), (3, 3)]
    # the padding is zeros at the bottom/right: the top-left 2x2 of the 128 map is intact
    x = torch.rand(1, 3, 128, 128)
    with torch.no_grad():
        h = net.tail(net.reduce_act(net.reduce(net.branch(net.trunk(
            net.stem_act(net.stem(_same_pad(x, 3, 2))))))))
        padded = torch.nn.functional.pad(h, (0, 1, 0, 1))
        assert torch.allclose(net.landmark(padded).flatten(1), net.landmarks(x), atol=1e-5)


def test_tflite_reader_refuses_other_files(tmp_path) -> None:
    from training.facemesh_init import read_tflite_tensors

    bad = tmp_path / "x.tflite"
    bad.write_bytes(b"\x00" * 64)
    with pytest.raises(ValueError, match="not a TFLite model"):
        read_tflite_tensors(bad)


def test_converted_facemesh_finds_the_demo_face_landmarks(demo_image_bgr: np.ndarray) -> None:
    """Converted weights put the nose tip and eye corners where the detector sees them."""
    pytest.importorskip("mediapipe")
    import cv2

    from ldl_pose_ros.core.crop import crop_faces
    from ldl_pose_ros.core.detection import create_detector
    from training.facemesh_init import default_tflite_path, facemesh_state_dict, read_tflite_tensors

    rgb = cv2.cvtColor(demo_image_bgr, cv2.COLOR_BGR2RGB)
    det = create_detector("mediapipe").detect(rgb)[0]
    size, scale = 192, 1.5
    crop = crop_faces(rgb, det.box[None], size, scale)[0]
    net = FaceMeshNet().eval()
    net.load_state_dict(facemesh_state_dict(read_tflite_tensors(default_tflite_path())),
                        strict=False)
    x = torch.from_numpy(crop.astype(np.float32) / 255.0).permute(2, 0, 1)[None]
    with torch.no_grad():
        lm = net.landmarks(x).reshape(468, 3)[:, :2].numpy()
    # Detector keypoints mapped into crop pixels.
    x1, y1, x2, y2 = det.box
    side = max(x2 - x1, y2 - y1) * scale
    origin = np.array([(x1 + x2) / 2 - side / 2, (y1 + y2) / 2 - side / 2])
    kp = (det.landmarks - origin) * size / side
    tol = 0.06 * size
    assert np.linalg.norm(lm[1] - kp[2]) < tol  # nose tip
    # Eye centres: mean of the two corners of each eye (33/133 image-left, 362/263 image-right).
    assert np.linalg.norm(0.5 * (lm[33] + lm[133]) - kp[0]) < tol
    assert np.linalg.norm(0.5 * (lm[362] + lm[263]) - kp[1]) < tol
