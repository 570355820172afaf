# Copyright 2026 The ldl_pose_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""The training loss.

The package's LDL multi-loss already takes per-angle label masks (Pointing'04 has no
roll) and per-sample weights (pseudo-label confidence); this name is kept for configs
and scripts that import it from here.  :func:`mirror_consistency` is the extra term of
mirror-paired training (``train.mirror_pairs``).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from ldl_pose_ros.model.distribution import expectation_and_std
from ldl_pose_ros.model.losses import LDLMultiLoss

#: The package's loss already takes per-angle masks and per-sample weights.
MaskedLDLLoss = LDLMultiLoss

#: A horizontal flip negates yaw and roll and keeps pitch.
MIRROR_SIGNS = (-1.0, 1.0, -1.0)


def mirror_consistency(logits: torch.Tensor, logits_mirror: torch.Tensor,
                       centers: torch.Tensor) -> torch.Tensor:
    """Disagreement between the predictions for images and for their mirror images.

    ``logits`` and ``logits_mirror`` are ``(B, 3, nb)`` for a batch and its
    horizontally flipped copy.  The expected angles must satisfy
    ``yaw' = -yaw, pitch' = pitch, roll' = -roll``; the loss is the smooth-L1
    (beta 1 degree) of the violation, averaged over faces and angles.
    """
    signs = torch.tensor(MIRROR_SIGNS, device=logits.device, dtype=torch.float32)
    c = centers.float()
    a, _ = expectation_and_std(torch.softmax(logits.float(), -1), c)
    b, _ = expectation_and_std(torch.softmax(logits_mirror.float(), -1), c)
    return F.smooth_l1_loss(a, b * signs, beta=1.0)


__all__ = ["MIRROR_SIGNS", "MaskedLDLLoss", "mirror_consistency"]
