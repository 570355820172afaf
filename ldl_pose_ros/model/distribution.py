# Copyright 2026 The ldl_pose_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""Bins, Gaussian label distributions and expectation/spread of predictions.

Each angle (yaw, pitch, roll) is discretised into ``cfg.num_bins`` bins of width
``cfg.bin_step`` covering ``[cfg.bin_min, cfg.bin_max]``.  A training label is a
Gaussian over the bin centres, centred on the true angle, renormalised over the
bins that exist (so labels near or beyond the range edges are truncated, not
wrapped).  A prediction is the expectation of the softmax over the bin centres;
its standard deviation is the per-angle uncertainty.

The torch functions are used for training and inference; the numpy versions
(``*_np``) compute the same quantities in float64 and are what the inference
runner uses, so the torch and ONNX backends share one post-processing path.
"""

from __future__ import annotations

import functools

import numpy as np
import torch

from ldl_pose_ros.model.angles import convert_angles
from ldl_pose_ros.model.config import ModelConfig


def bin_centers_np(cfg: ModelConfig) -> np.ndarray:
    """Bin centres in degrees, float64, shape ``(num_bins,)``."""
    return cfg.bin_min + cfg.bin_step * (np.arange(cfg.num_bins, dtype=np.float64) + 0.5)


def bin_centers(cfg: ModelConfig, device: torch.device | str | None = None) -> torch.Tensor:
    """Bin centres in degrees, float32 tensor of shape ``(num_bins,)``."""
    return torch.as_tensor(bin_centers_np(cfg), dtype=torch.float32, device=device)


def bin_index(angles: torch.Tensor, cfg: ModelConfig) -> torch.Tensor:
    """Index of the bin that contains each angle (clamped to the range), int64."""
    idx = torch.floor((angles - cfg.bin_min) / cfg.bin_step).long()
    return idx.clamp_(0, cfg.num_bins - 1)


def gaussian_labels(angles: torch.Tensor, centers: torch.Tensor,
                    sigma: float | torch.Tensor) -> torch.Tensor:
    """Gaussian label distributions over the bins.

    Args:
        angles: ``(B, 3)`` true angles in degrees.
        centers: ``(num_bins,)`` bin centres in degrees.
        sigma: standard deviation of the Gaussian in degrees: one for all, or a
            tensor broadcastable to ``angles`` (e.g. ``(B, 1)``: one per sample).

    Returns:
        ``(B, 3, num_bins)`` float32, each row summing to 1.  The Gaussian is
        evaluated at the bin centres and renormalised over the existing bins
        (computed as a softmax, so angles far outside the range still give a
        valid distribution concentrated on the nearest edge bin).
    """
    a = angles.to(torch.float32).unsqueeze(-1)
    c = centers.to(device=a.device, dtype=torch.float32)
    # a float stays a Python scalar: no tensor (nor host-to-device copy) per call
    s: float | torch.Tensor = float(sigma) if not isinstance(sigma, torch.Tensor) else (
        torch.broadcast_to(sigma.to(a), angles.shape).unsqueeze(-1))
    if not (bool((s > 0).all()) if isinstance(s, torch.Tensor) else s > 0):
        raise ValueError("sigma must be > 0")
    logits = -0.5 * ((c - a) / s) ** 2
    return torch.softmax(logits, dim=-1)


def gaussian_labels_np(angles: np.ndarray, centers: np.ndarray, sigma: float) -> np.ndarray:
    """Numpy (float64) version of :func:`gaussian_labels`, shape ``angles.shape + (nb,)``."""
    if sigma <= 0:
        raise ValueError("sigma must be > 0")
    a = np.asarray(angles, dtype=np.float64)[..., None]
    logits = -0.5 * ((np.asarray(centers, dtype=np.float64) - a) / float(sigma)) ** 2
    logits -= logits.max(axis=-1, keepdims=True)
    p = np.exp(logits)
    return p / p.sum(axis=-1, keepdims=True)


def expectation_and_std(
    probs: torch.Tensor, centers: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """Compute expected angle and standard deviation of distributions over the bins.

    Args:
        probs: ``(..., num_bins)`` non-negative, summing to 1 over the last axis.
        centers: ``(num_bins,)`` bin centres in degrees.

    Returns:
        ``(mean, std)``, each of shape ``probs.shape[:-1]``, degrees.
    """
    c = centers.to(device=probs.device, dtype=probs.dtype)
    mean = (probs * c).sum(dim=-1)
    var = (probs * (c - mean.unsqueeze(-1)) ** 2).sum(dim=-1)
    return mean, torch.sqrt(var.clamp_min(1e-12))


def expectation_and_std_np(probs: np.ndarray, centers: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Numpy (float64) version of :func:`expectation_and_std`."""
    p = np.asarray(probs, dtype=np.float64)
    c = np.asarray(centers, dtype=np.float64)
    mean = (p * c).sum(axis=-1)
    var = (p * (c - mean[..., None]) ** 2).sum(axis=-1)
    return mean, np.sqrt(np.maximum(var, 0.0))


def softmax_np(logits: np.ndarray, axis: int = -1) -> np.ndarray:
    """Numerically stable softmax in float64."""
    x = np.asarray(logits, dtype=np.float64)
    x = x - x.max(axis=axis, keepdims=True)
    e = np.exp(x)
    return e / e.sum(axis=axis, keepdims=True)


#: Largest |sum - 1| of a predicted distribution that is accepted (float32 softmax).
NORMALISATION_TOLERANCE = 1e-3


def valid_distributions_np(probs: np.ndarray, tol: float = NORMALISATION_TOLERANCE
                           ) -> np.ndarray:
    """``(N,)`` bool: every distribution of face ``n`` in ``probs`` ``(N, A, bins)`` is valid.

    Valid: finite, non-negative (to ``tol``) and summing to 1 within ``tol``.  An
    output that is not (NaN or inf from overflowing weights, a foreign model) has no
    meaningful expectation and must not be reported as an angle.
    """
    p = np.asarray(probs, dtype=np.float64)
    if p.ndim != 3:
        raise ValueError(f"probabilities must be (N, angles, bins), got {p.shape}")
    with np.errstate(invalid="ignore"):
        finite = np.isfinite(p).all(axis=(1, 2))
        nonneg = (np.where(np.isfinite(p), p, 0.0) >= -tol).all(axis=(1, 2))
        sums = np.abs(np.where(np.isfinite(p), p, 0.0).sum(axis=-1) - 1.0) <= tol
    return np.asarray(finite & nonneg & sums.all(axis=1))


#: Angles (indices into yaw, pitch, roll) that a horizontal mirror negates.
MIRROR_NEGATED = (0, 2)


def bins_are_symmetric(cfg: ModelConfig) -> bool:
    """Whether the bin centres are symmetric about 0 (reversing them negates the angle)."""
    return abs(cfg.bin_min + cfg.bin_max) < 1e-9


def average_with_mirror_np(probs: np.ndarray, mirrored: np.ndarray) -> np.ndarray:
    """Average per-bin distributions of crops and of the same crops mirrored.

    A horizontal mirror negates yaw and roll (in both Euler conventions) and keeps
    pitch, so on symmetric bins the mirrored crops' yaw and roll distributions are
    read backwards before the mean.  Both inputs are ``(N, 3, bins)``.
    """
    back = mirrored.copy()
    for i in MIRROR_NEGATED:
        back[:, i] = mirrored[:, i, ::-1]
    return 0.5 * (probs + back)


#: Bins per angle, the most probable ones, over which :func:`converted_median_np`
#: converts the joint distribution (10**3 points per face).
CONVERSION_BINS = 10


def converted_median_np(probs: np.ndarray, centers: np.ndarray, src: str, dst: str,
                        bins: int = CONVERSION_BINS) -> np.ndarray:
    """Per-angle medians ``(N, 3)`` in convention ``dst`` of distributions learnt in ``src``.

    The three per-angle distributions ``(N, 3, num_bins)`` are taken as independent;
    the ``bins`` most probable bins of each span a grid of rotations that is converted
    to ``dst`` (:func:`ldl_pose_ros.model.angles.convert_angles`) and weighted by the
    product of their probabilities, and each angle's weighted median is read off,
    interpolated between grid points.  The median is the estimate with the least
    expected absolute error per angle; unlike the converted expectation it does not
    jump where ``dst`` is ill-conditioned (pitch and roll of a profile face in the
    dataset convention).  Mirror-symmetric: mirrored distributions give negated yaw
    and roll.
    """
    n, _, nb = probs.shape
    k = min(bins, nb)
    top = np.argsort(-probs, axis=-1, kind="stable")[:, :, :k]  # (N, 3, k)
    w = np.take_along_axis(probs, top, axis=-1).astype(np.float64)
    weight = (w[:, 0, :, None, None] * w[:, 1, None, :, None]
              * w[:, 2, None, None, :]).reshape(n, -1)
    table = _conversion_table(tuple(float(c) for c in centers), src, dst)
    conv = table[top[:, 0, :, None, None], top[:, 1, None, :, None],
                 top[:, 2, None, None, :]].reshape(n, -1, 3)
    out = np.empty((n, 3))
    for i in range(n):
        for a in range(3):
            out[i, a] = _weighted_median(np.round(conv[i, :, a], 9), weight[i])
    return out


@functools.lru_cache(maxsize=4)
def _conversion_table(centers: tuple[float, ...], src: str, dst: str) -> np.ndarray:
    """Every (yaw, pitch, roll) bin-centre triple converted once: ``(nb, nb, nb, 3)``.

    Built at the first call for a bin layout (66 bins: 287,496 rotations, 6.9 MB, about
    0.3 s here; the node's warm-up call builds it); afterwards a face's grid is an index
    into it instead of a conversion.
    """
    c = np.asarray(centers)
    grid = np.stack(np.meshgrid(c, c, c, indexing="ij"), -1).reshape(-1, 3)
    table = convert_angles(grid, src, dst).reshape(len(c), len(c), len(c), 3)
    table.setflags(write=False)
    return table


def _weighted_median(x: np.ndarray, w: np.ndarray) -> float:
    """Median of values ``x`` with weights ``w``, interpolated between distinct values.

    Equal values are merged first, so the result does not depend on their order (and
    the median of ``-x`` is exactly minus the median of ``x``).
    """
    xs, inv = np.unique(x, return_inverse=True)
    ws = np.bincount(inv.ravel(), weights=w, minlength=len(xs))
    c = np.cumsum(ws)
    mid = (c - 0.5 * ws) / c[-1]  # cumulative weight at the middle of each value's share
    return float(np.interp(0.5, mid, xs))
