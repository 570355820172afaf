# Copyright 2026 The ldl_pose_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""A face-landmark backbone with the layout of MediaPipe's FaceMesh network.

The layout (stem convolution, residual depthwise-separable blocks with PReLU,
max-pool shortcuts with zero channel padding, a 1404-value landmark layer) is
that of the ``face_landmark.tflite`` model in the ``mediapipe`` wheel, so its
weights can initialise this module (``training/facemesh_init.py`` converts
them).  The network was trained by Google on a large set of faces to regress 468
3D landmarks; see the "MediaPipe Face Mesh" model card (Apache-2.0).

Padding follows TensorFlow's ``SAME`` rule (extra pixel at the bottom/right),
computed from the input size, so converted weights give the original outputs.
The original input is 192 pixels; any size works: a last feature map smaller
than the landmark layer's 3x3 kernel (inputs under 129 pixels) is zero-padded
at the bottom/right, as ``SAME`` padding would.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

NUM_LANDMARK_VALUES = 468 * 3


def _same_pad(x: torch.Tensor, kernel: int, stride: int) -> torch.Tensor:
    """Zero-pad ``x`` (NCHW) as TensorFlow's ``SAME`` padding does."""
    pads = []
    for n in (int(x.shape[-1]), int(x.shape[-2])):
        out = -(-n // stride)
        total = max((out - 1) * stride + kernel - n, 0)
        pads += [total // 2, total - total // 2]
    if not any(pads):
        return x
    return F.pad(x, pads)


class _PReLU(nn.PReLU):
    """``nn.PReLU`` that exports to ONNX as ``max(x, 0) + a * min(x, 0)``.

    The same function and parameters; only the exported graph differs: ONNX Runtime's
    CPU ``PRelu`` kernel made this network twice as slow as the equivalent
    Clip/Mul/Add graph (5.5 against 2.6 ms for a batch of 2 at 1 thread, identical
    outputs).  Torch runs its own kernel.
    """

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not torch.onnx.is_in_onnx_export():
            return super().forward(x)
        a = self.weight.reshape(1, -1, *([1] * (x.ndim - 2)))
        return torch.clamp(x, min=0.0) + a * torch.clamp(x, max=0.0)


class _Block(nn.Module):
    """Depthwise 3x3 + pointwise 1x1, residual add, PReLU.

    With ``stride=2`` the shortcut is a 2x2 max-pool; when the block widens the
    channels the shortcut is zero-padded in the channel dimension.
    """

    def __init__(self, cin: int, cout: int, stride: int = 1) -> None:
        super().__init__()
        self.stride = stride
        self.extra = cout - cin
        self.dw = nn.Conv2d(cin, cin, 3, stride, 0, groups=cin)
        self.pw = nn.Conv2d(cin, cout, 1)
        self.act = _PReLU(cout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.pw(self.dw(_same_pad(x, 3, self.stride)))
        s = F.max_pool2d(x, 2, 2, ceil_mode=True) if self.stride == 2 else x
        if self.extra:
            s = F.pad(s, (0, 0, 0, 0, 0, self.extra))
        return self.act(y + s)


# (in, out, stride) of the trunk blocks, after the 16-channel stem.
_TRUNK = (
    (16, 16, 1), (16, 16, 1), (16, 32, 2), (32, 32, 1), (32, 32, 1),
    (32, 64, 2), (64, 64, 1), (64, 64, 1), (64, 128, 2), (128, 128, 1),
    (128, 128, 1), (128, 128, 2), (128, 128, 1), (128, 128, 1),
)


class FaceMeshNet(nn.Module):
    """FaceMesh-layout feature extractor.

    ``forward`` maps ``(B, 3, S, S)`` images to ``(B, out_features)``: the 1404
    landmark values (scaled by ``1 / S``) passed through a learned
    ``Linear + PReLU`` embedding.  :meth:`landmarks` gives the raw landmark
    layer (pixels of the input for converted weights).
    """

    def __init__(self, embed: int = 256) -> None:
        super().__init__()
        self.stem = nn.Conv2d(3, 16, 3, 2, 0)
        self.stem_act = _PReLU(16)
        self.trunk = nn.Sequential(*[_Block(*spec) for spec in _TRUNK])
        self.branch = nn.Sequential(_Block(128, 128, 2), _Block(128, 128), _Block(128, 128))
        self.reduce = nn.Conv2d(128, 32, 1)
        self.reduce_act = _PReLU(32)
        self.tail = _Block(32, 32)
        self.landmark = nn.Conv2d(32, NUM_LANDMARK_VALUES, 3, 3)
        proj = nn.Linear(NUM_LANDMARK_VALUES, embed)
        nn.init.normal_(proj.weight, 0.0, 0.02)
        nn.init.zeros_(proj.bias)
        self.embed = nn.Sequential(proj, _PReLU(embed))
        self.out_features = embed

    def landmarks(self, x: torch.Tensor) -> torch.Tensor:
        """The landmark layer's ``(B, 1404)`` output."""
        x = self.stem_act(self.stem(_same_pad(x, 3, 2)))
        x = self.branch(self.trunk(x))
        x = self.tail(self.reduce_act(self.reduce(x)))
        if x.shape[-1] < 3 or x.shape[-2] < 3:
            # inputs under 129 px end on a 2x2 map: pad it like SAME to the 3x3 kernel
            x = F.pad(x, (0, max(3 - x.shape[-1], 0), 0, max(3 - x.shape[-2], 0)))
        x = self.landmark(x)
        if x.shape[-1] != 1 or x.shape[-2] != 1:
            x = F.adaptive_avg_pool2d(x, 1)
        return torch.flatten(x, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Map ``(B, 3, S, S)`` images to ``(B, out_features)`` features."""
        return self.embed(self.landmarks(x) / float(x.shape[-1]))
