# Copyright 2026 The ldl_pose_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""The training loss.

The package's LDL multi-loss already takes per-angle label masks (Pointing'04 has no
roll) and per-sample weights (pseudo-label confidence); this name is kept for configs
and scripts that import it from here.
"""

from __future__ import annotations

from ldl_pose_ros.model.losses import LDLMultiLoss

#: The package's loss already takes per-angle masks and per-sample weights.
MaskedLDLLoss = LDLMultiLoss

__all__ = ["MaskedLDLLoss"]
