# Copyright 2026 The ldl_pose_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""Training loss: KL to Gaussian label distributions + regression (+ hard-bin CE)."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ldl_pose_ros.model.config import ModelConfig
from ldl_pose_ros.model.distribution import (
    bin_centers,
    bin_index,
    expectation_and_std,
    gaussian_labels,
)


class LDLMultiLoss(nn.Module):
    """``kl_weight * KL(label || pred) + reg_weight * reg + ce_weight * CE``.

    * ``kl``: KL divergence from the Gaussian label distribution (``cfg.sigma``)
      to the predicted softmax, summed over bins, averaged over batch and angles.
    * ``reg``: ``cfg.reg_loss`` between the expected angle and the true angle (degrees),
      averaged over batch and angles.
    * ``ce``: cross-entropy with the hard bin containing the true angle
      (Hopenet-style baseline; off with the default ``ce_weight = 0``).

    ``forward(logits (B,3,nb), angles (B,3) deg)`` returns ``(total, parts)``
    where ``parts`` holds detached ``kl``, ``reg``, ``ce`` and ``mae`` tensors.
    Terms with zero weight are still reported but not back-propagated.
    """

    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        cfg.validate()
        self.cfg = cfg
        self.register_buffer("centers", bin_centers(cfg), persistent=False)

    def forward(
        self, logits: torch.Tensor, angles: torch.Tensor
    ) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """Return ``(total, parts)`` for logits ``(B, 3, nb)`` and angles ``(B, 3)`` deg."""
        cfg = self.cfg
        if logits.ndim != 3 or logits.shape[1:] != (3, cfg.num_bins):
            raise ValueError(f"logits must be (B, 3, {cfg.num_bins}), got {tuple(logits.shape)}")
        if angles.shape != logits.shape[:2]:
            raise ValueError(f"angles must be (B, 3), got {tuple(angles.shape)}")
        logits = logits.float()
        angles = angles.to(device=logits.device, dtype=torch.float32)
        log_p = F.log_softmax(logits, dim=-1)
        labels = gaussian_labels(angles, self.centers, cfg.sigma)
        # KL(q || p) = sum q (log q - log p); xlogy gives 0 for q == 0.
        kl = (torch.xlogy(labels, labels) - labels * log_p).sum(-1).mean()
        mean, _ = expectation_and_std(log_p.exp(), self.centers)
        if cfg.reg_loss == "mse":
            reg = F.mse_loss(mean, angles)
        elif cfg.reg_loss == "l1":
            reg = F.l1_loss(mean, angles)
        else:
            reg = F.smooth_l1_loss(mean, angles, beta=1.0)
        ce = F.nll_loss(log_p.reshape(-1, cfg.num_bins), bin_index(angles, cfg).reshape(-1))
        total = logits.new_zeros(())
        for weight, term in ((cfg.kl_weight, kl), (cfg.reg_weight, reg), (cfg.ce_weight, ce)):
            if weight:
                total = total + weight * term
        parts = {
            "kl": kl.detach(),
            "reg": reg.detach(),
            "ce": ce.detach(),
            "mae": (mean - angles).abs().mean().detach(),
        }
        return total, parts
