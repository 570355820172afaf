# Copyright 2026 The ldl_pose_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""Model configuration: everything needed to rebuild and preprocess a model.

A ``ModelConfig`` is stored inside every checkpoint, so a checkpoint alone is
enough to rebuild the network, its bins and its input preprocessing.  It is
frozen and checked once, when it is made: every ``ModelConfig`` that exists is
valid (derive a changed one with ``dataclasses.replace``, which checks again).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field, fields
from typing import Any

from ldl_pose_ros.model.angles import ANGLE_CONVENTIONS

ANGLE_NAMES = ("yaw", "pitch", "roll")
BACKBONES = ("resnet18", "resnet50", "mobilenetv3_small", "facemesh")
REG_LOSSES = ("smooth_l1", "l1", "mse")
#: Inclusive bounds of every numeric field (others: finite, within +-1e6).
BOUNDS: dict[str, tuple[float, float]] = {
    "input_size": (32, 512),
    "bin_min": (-180.0, 180.0),
    "bin_max": (-180.0, 180.0),
    "bin_step": (0.05, 90.0),
    "sigma": (0.0, 90.0),
    "kl_weight": (0.0, 1e3),
    "reg_weight": (0.0, 1e3),
    "ce_weight": (0.0, 1e3),
    "mean": (-10.0, 10.0),
    "std": (1e-3, 10.0),
    "crop_scale": (0.5, 4.0),
    "crop_shift_y": (-1.0, 1.0),
    "width_mult": (0.1, 4.0),
}
#: Bins per angle allowed.
MIN_BINS, MAX_BINS = 2, 1024


@dataclass(frozen=True)
class ModelConfig:
    """Architecture, bin layout, loss weights and preprocessing of a model.

    Angles are in degrees; outputs are in the dataset convention of
    ``ldl_pose_ros.core.geometry`` (300W-LP ``Pose_Para``: yaw > 0 nose towards
    image-left, pitch > 0 face up, roll > 0 clockwise in the image), whatever the
    convention of the bins (``angle_convention``).  Output order is always (yaw,
    pitch, roll).
    Raises ``ValueError`` when made with inconsistent values (see ``__post_init__``).
    """

    backbone: str = "mobilenetv3_small"
    input_size: int = 112
    # Bins: edges from bin_min to bin_max in steps of bin_step; predictions are
    # expectations over the bin centres.
    bin_min: float = -99.0
    bin_max: float = 99.0
    bin_step: float = 3.0
    # Gaussian label distribution width (degrees).
    sigma: float = 3.0
    # Loss weights: KL(label || prediction), regression on the expectation,
    # hard-bin cross-entropy (Hopenet-style baseline when kl=0, ce>0).
    kl_weight: float = 1.0
    reg_weight: float = 0.1
    ce_weight: float = 0.0
    # Regression loss on the expected angle (degrees): "smooth_l1" (Huber with
    # beta = 1 degree), "l1" or "mse".
    reg_loss: str = "smooth_l1"
    # Preprocessing: RGB crops, scaled to [0, 1], then (x - mean) / std.
    mean: tuple[float, float, float] = (0.485, 0.456, 0.406)
    std: tuple[float, float, float] = (0.229, 0.224, 0.225)
    # Crop convention (see ldl_pose_ros.core.crop): square box around the face box
    # centre whose side is max(w, h) * crop_scale, shifted down by
    # crop_shift_y * side; pixels outside the image are replicated from the edge.
    crop_scale: float = 1.4
    crop_shift_y: float = 0.0
    width_mult: float = 1.0
    # Euler convention of the bins: "dataset" (Rx(-pitch) Ry(yaw) Rz(roll), the labels'
    # own) or "head" (Ry(yaw) Rx(-pitch) Rz(roll): well-conditioned for profile faces);
    # see ldl_pose_ros.model.angles.  Predictions are converted to the dataset convention.
    angle_convention: str = "dataset"
    # Free-form provenance: training data, config, commit, metrics.
    meta: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for key in ("mean", "std"):  # lists from JSON/YAML become tuples of floats
            value = tuple(float(v) for v in getattr(self, key))
            if len(value) != 3:
                raise ValueError(f"{key} needs 3 values (R, G, B), got {len(value)}")
            object.__setattr__(self, key, value)
        problem = self._problem()
        if problem is not None:
            raise ValueError(problem)

    def to_dict(self) -> dict[str, Any]:
        """Plain-JSON form of the configuration."""
        d = asdict(self)
        d["mean"] = list(self.mean)
        d["std"] = list(self.std)
        return d

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ModelConfig:
        """Rebuild from :meth:`to_dict` output; unknown keys raise ``ValueError``."""
        known = {f.name for f in fields(cls)}
        unknown = set(data) - known
        if unknown:
            raise ValueError(f"unknown model config keys: {sorted(unknown)}")
        return cls(**data)

    @property
    def num_bins(self) -> int:
        """Number of bins per angle."""
        return int(round((self.bin_max - self.bin_min) / self.bin_step))

    def _problem(self) -> str | None:
        """What is inconsistent or out of bounds in this configuration, or None.

        Every field is bounded (:data:`BOUNDS`), so that a checkpoint's config
        cannot ask for absurd allocations (input size, bins, width) or produce
        NaN (a zero ``std``, a NaN ``mean``).
        """
        if not isinstance(self.backbone, str) or self.backbone not in BACKBONES:
            return f"backbone must be one of {BACKBONES}, got {self.backbone!r}"
        if not isinstance(self.reg_loss, str) or self.reg_loss not in REG_LOSSES:
            return f"reg_loss must be one of {REG_LOSSES}, got {self.reg_loss!r}"
        if (not isinstance(self.angle_convention, str)
                or self.angle_convention not in ANGLE_CONVENTIONS):
            return (f"angle_convention must be one of {ANGLE_CONVENTIONS}, "
                    f"got {self.angle_convention!r}")
        meta: Any = self.meta  # from JSON: may be anything
        if not isinstance(meta, dict):
            return f"meta must be a mapping, got {type(meta).__name__}"
        if isinstance(self.input_size, bool) or not isinstance(self.input_size, int):
            return f"input_size must be an integer, got {self.input_size!r}"
        for f in fields(self):
            value = getattr(self, f.name)
            values = value if f.name in ("mean", "std") else (value,)
            if f.name in ("backbone", "reg_loss", "angle_convention", "meta"):
                continue
            for v in values:
                if isinstance(v, bool) or not isinstance(v, int | float) or not math.isfinite(v):
                    return f"{f.name} must be finite numbers, got {value!r}"
                lo, hi = BOUNDS.get(f.name, (-1e6, 1e6))
                if not lo <= v <= hi:
                    return f"{f.name} must be in [{lo:g}, {hi:g}], got {value!r}"
        if self.bin_step <= 0 or self.bin_max <= self.bin_min:
            return "bins need bin_step > 0 and bin_max > bin_min"
        span = (self.bin_max - self.bin_min) / self.bin_step
        if abs(span - round(span)) > 1e-6:
            return "(bin_max - bin_min) must be a multiple of bin_step"
        if not MIN_BINS <= round(span) <= MAX_BINS:
            return f"the bins give {round(span)} bins per angle; must be {MIN_BINS}..{MAX_BINS}"
        if self.sigma <= 0:
            return "sigma must be > 0"
        if self.width_mult <= 0:
            return "width_mult must be > 0"
        if min(self.std) <= 0:
            return f"std must be > 0 (it divides the input), got {list(self.std)}"
        return None
