# Copyright 2026 The ldl_pose_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""The LDL head-pose network: backbone + one linear head per angle."""

from __future__ import annotations

from typing import cast

import torch
from torch import nn

from ldl_pose_ros.model.backbones import build_backbone
from ldl_pose_ros.model.config import ModelConfig
from ldl_pose_ros.model.distribution import bin_centers, expectation_and_std


class LDLHeadPoseNet(nn.Module):
    """Backbone + 3 linear heads producing per-angle bin logits.

    ``forward(x)`` returns logits of shape ``(B, 3, num_bins)`` in the order
    (yaw, pitch, roll); ``x`` is ``(B, 3, S, S)`` preprocessed as in ``cfg``.
    """

    centers: torch.Tensor  # bin centres (a buffer, follows the module's device)

    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.backbone = build_backbone(cfg.backbone, cfg.width_mult)
        feat = cast(int, self.backbone.out_features)  # set by every backbone
        heads = [nn.Linear(feat, cfg.num_bins) for _ in range(3)]
        for head in heads:
            nn.init.normal_(head.weight, 0.0, 0.01)
            nn.init.zeros_(head.bias)
        self.heads = nn.ModuleList(heads)
        self.register_buffer("centers", bin_centers(cfg), persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Return bin logits ``(B, 3, num_bins)`` (yaw, pitch, roll)."""
        f = self.backbone(x)
        return torch.stack([head(f) for head in self.heads], dim=1)

    def probabilities(self, x: torch.Tensor) -> torch.Tensor:
        """Softmax over the bins, ``(B, 3, num_bins)``, computed in float32."""
        return torch.softmax(self.forward(x).float(), dim=-1)

    @torch.no_grad()
    def predict(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Return expected angles and their standard deviations, each ``(B, 3)`` degrees."""
        probs = self.probabilities(x)
        return expectation_and_std(probs, self.centers.float())
