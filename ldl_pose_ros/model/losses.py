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

    ``forward(logits (B,3,nb), angles (B,3) deg, mask (B,3) | None, weight (B,) | None,
    sigma (B,) | None)`` returns ``(total, parts)`` where ``parts`` holds detached
    ``kl``, ``reg``, ``ce`` and ``mae`` tensors.  A term is
    ``sum(weight_i * mask_ij * term_ij) / sum(mask_ij)``:
    per-sample weights scale a sample's contribution and masked (unlabelled) angles
    contribute nothing; without mask and weight it is the plain mean.  ``sigma`` gives
    each sample its own label width (degrees) instead of ``cfg.sigma``.  Terms with
    zero weight are still reported but not back-propagated.
    """

    centers: torch.Tensor  # bin centres (a buffer, follows the module's device)

    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.register_buffer("centers", bin_centers(cfg), persistent=False)

    def forward(
        self,
        logits: torch.Tensor,
        angles: torch.Tensor,
        mask: torch.Tensor | None = None,
        weight: torch.Tensor | None = None,
        sigma: torch.Tensor | None = None,
    ) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """Return ``(total, parts)`` (see the class docstring)."""
        cfg = self.cfg
        if logits.ndim != 3 or logits.shape[1:] != (3, cfg.num_bins):
            raise ValueError(f"logits must be (B, 3, {cfg.num_bins}), got {tuple(logits.shape)}")
        logits = logits.float()
        angles = angles.to(device=logits.device, dtype=torch.float32)
        if angles.shape != logits.shape[:2]:
            raise ValueError(f"angles must be (B, 3), got {tuple(angles.shape)}")
        m = torch.ones_like(angles) if mask is None else mask.to(angles).reshape(angles.shape)
        w = torch.ones(angles.shape[0], device=angles.device) if weight is None else (
            weight.to(angles).reshape(-1))
        wm = m * w[:, None]
        denom = m.sum().clamp_min(1.0)
        # Masked angles may hold any placeholder value: clamp them to a bin centre
        # so that no NaN/inf can leak from them.
        safe = torch.where(m > 0, angles, torch.zeros_like(angles))
        log_p = F.log_softmax(logits, dim=-1)
        width = cfg.sigma if sigma is None else sigma.to(angles).reshape(-1, 1)
        labels = gaussian_labels(safe, self.centers, width)
        kl_e = (torch.xlogy(labels, labels) - labels * log_p).sum(-1)
        mean, _ = expectation_and_std(log_p.exp(), self.centers)
        if cfg.reg_loss == "mse":
            reg_e = F.mse_loss(mean, safe, reduction="none")
        elif cfg.reg_loss == "l1":
            reg_e = F.l1_loss(mean, safe, reduction="none")
        else:
            reg_e = F.smooth_l1_loss(mean, safe, beta=1.0, reduction="none")
        ce_e = -log_p.gather(-1, bin_index(safe, cfg).unsqueeze(-1)).squeeze(-1)
        kl = (wm * kl_e).sum() / denom
        reg = (wm * reg_e).sum() / denom
        ce = (wm * ce_e).sum() / denom
        total = logits.new_zeros(())
        for wt, term in ((cfg.kl_weight, kl), (cfg.reg_weight, reg), (cfg.ce_weight, ce)):
            if wt:
                total = total + wt * term
        parts = {
            "kl": kl.detach(),
            "reg": reg.detach(),
            "ce": ce.detach(),
            "mae": ((mean - safe).abs() * m).sum().detach() / denom,
        }
        return total, parts
