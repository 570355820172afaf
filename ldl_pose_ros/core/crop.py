# Copyright 2026 The ldl_pose_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""The one face-crop convention shared by training and inference.

Coordinates are continuous pixel coordinates: pixel ``(i, j)`` covers
``[j, j+1) x [i, i+1)``, so a box ``(x1, y1, x2, y2)`` spans ``x2 - x1`` pixels.

Crop box: a square centred on the face-box centre, side ``max(w, h) * scale``,
moved down by ``shift_y * side``.  The square is resampled to ``size x size``
(bilinear; area-averaged when shrinking by more than 2x); pixels outside the
image are replicated from the nearest edge (``cv2.BORDER_REPLICATE``).
Network input: RGB, scaled to [0, 1], ``(x - mean) / std``, NCHW float32.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import TYPE_CHECKING

import cv2
import numpy as np

if TYPE_CHECKING:
    import torch

    from ldl_pose_ros.model.config import ModelConfig

#: Largest side (pixels) of the intermediate crop of a large face; larger crop squares
#: are sampled from an area-shrunk copy of the image part under them (bounded memory).
MAX_INTERMEDIATE = 2048


def _scale_shift(cfg_or_params: ModelConfig | Sequence[float]) -> tuple[float, float]:
    if isinstance(cfg_or_params, Sequence):  # a (scale, shift_y) pair
        scale, shift_y = cfg_or_params
        return float(scale), float(shift_y)
    return float(cfg_or_params.crop_scale), float(cfg_or_params.crop_shift_y)


def crop_boxes(boxes: np.ndarray, cfg_or_params: ModelConfig | Sequence[float]
               ) -> np.ndarray:
    """Square crop boxes for face boxes.

    Args:
        boxes: ``(N, 4)`` (or ``(4,)``) face boxes ``x1, y1, x2, y2`` in pixels.
        cfg_or_params: a ``ModelConfig`` (uses ``crop_scale``, ``crop_shift_y``)
            or a ``(scale, shift_y)`` pair.

    Returns:
        ``(N, 4)`` float64 square boxes (same leading shape as ``boxes``).
    """
    scale, shift_y = _scale_shift(cfg_or_params)
    b = np.asarray(boxes, dtype=np.float64)
    if b.shape[-1] != 4:
        raise ValueError(f"boxes must be (N, 4), got {b.shape}")
    cx = 0.5 * (b[..., 0] + b[..., 2])
    cy = 0.5 * (b[..., 1] + b[..., 3])
    side = np.maximum(b[..., 2] - b[..., 0], b[..., 3] - b[..., 1]) * scale
    cy = cy + shift_y * side
    half = 0.5 * side
    return np.stack([cx - half, cy - half, cx + half, cy + half], axis=-1)


def crop_faces(
    image_rgb: np.ndarray,
    boxes: np.ndarray,
    size: int,
    scale: float = 1.0,
    shift_y: float = 0.0,
) -> np.ndarray:
    """Cut square face crops out of an image.

    Args:
        image_rgb: ``(H, W, 3)`` uint8 image (channel order is kept as given).
        boxes: ``(N, 4)`` face boxes ``x1, y1, x2, y2``; they are squared with
            :func:`crop_boxes` using ``scale`` and ``shift_y``.  Pass
            ``scale=1, shift_y=0`` to crop already-square boxes as they are.
        size: output side in pixels.
        scale: crop side relative to ``max(w, h)`` of the face box.
        shift_y: downward shift of the crop centre, in units of the crop side.

    Returns:
        ``(N, size, size, 3)`` uint8.

    Memory is bounded for any finite box: a crop square wider than
    :data:`MAX_INTERMEDIATE` is sampled from an area-shrunk copy of the image part
    under it.
    """
    img = np.asarray(image_rgb)
    if img.ndim != 3 or img.shape[2] != 3 or img.dtype != np.uint8:
        raise ValueError(f"image must be HxWx3 uint8, got {img.shape} {img.dtype}")
    sq = crop_boxes(np.asarray(boxes, dtype=np.float64).reshape(-1, 4), (scale, shift_y))
    out = np.empty((len(sq), size, size, 3), np.uint8)
    for i, (x1, y1, x2, _y2) in enumerate(sq):
        side = x2 - x1
        if not np.isfinite(side) or side <= 0 or not np.isfinite(x1 + y1):
            raise ValueError(f"degenerate face box {boxes[i]}")
        if side > MAX_INTERMEDIATE:  # a huge crop: area-shrink the image part under it first
            img_i, (x1, y1), side = _shrunk_region(img, x1, y1, side)
        else:
            img_i = img
        # Shrinking by more than 2x: warp to an integer side near the box size
        # first, then area-average down (avoids aliasing of large faces).
        inter = int(round(side)) if side > 2 * size else size
        s = inter / side
        m = np.array([[s, 0.0, s * (0.5 - x1) - 0.5], [0.0, s, s * (0.5 - y1) - 0.5]], np.float64)
        if inter == size:  # written straight into the batch (no intermediate copy)
            cv2.warpAffine(img_i, m, (size, size), dst=out[i], flags=cv2.INTER_LINEAR,
                           borderMode=cv2.BORDER_REPLICATE)
        else:
            crop = cv2.warpAffine(
                img_i, m, (inter, inter), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE
            )
            cv2.resize(crop, (size, size), dst=out[i], interpolation=cv2.INTER_AREA)
    return out


def _shrunk_region(img: np.ndarray, x1: float, y1: float, side: float
                   ) -> tuple[np.ndarray, tuple[float, float], float]:
    """The image under a crop square wider than :data:`MAX_INTERMEDIATE`, area-shrunk.

    Shrunk by the integer factor ``k`` that brings the square under
    :data:`MAX_INTERMEDIATE` pixels, so the intermediate crop stays small however
    large the box is; returns the shrunk part and the square in its coordinates.
    """
    h, w = img.shape[:2]
    k = int(np.ceil(side / MAX_INTERMEDIATE))
    xa = int(np.clip(np.floor(x1) - k, 0, w - 1))
    ya = int(np.clip(np.floor(y1) - k, 0, h - 1))
    xb = int(np.clip(np.ceil(x1 + side) + k, xa + 1, w))
    yb = int(np.clip(np.ceil(y1 + side) + k, ya + 1, h))
    part = img[ya:yb, xa:xb]
    small = cv2.resize(part, (max(1, round((xb - xa) / k)), max(1, round((yb - ya) / k))),
                       interpolation=cv2.INTER_AREA)
    # Coordinates scale by exactly 1/k (the part's rounding moves them by < 1 shrunk pixel).
    return small, ((x1 - xa) / k, (y1 - ya) / k), side / k


@functools.lru_cache(maxsize=16)
def _normalise_lut(mean: tuple[float, ...], std: tuple[float, ...]) -> np.ndarray:
    """``(3, 256)`` float32 table: ``lut[c, v] = (v - 255 * mean[c]) / (255 * std[c])``.

    Computed with the same float32 operations as the direct formula, so a table
    lookup gives bit-identical results.
    """
    m = np.asarray(mean, np.float32) * np.float32(255.0)
    inv = np.float32(1.0) / (np.asarray(std, np.float32) * np.float32(255.0))
    values = np.arange(256, dtype=np.float32)
    lut = (values[None, :] - m[:, None]) * inv[:, None]
    lut.flags.writeable = False
    return lut


def to_network_input(
    crops: np.ndarray,
    mean: tuple[float, float, float] | np.ndarray,
    std: tuple[float, float, float] | np.ndarray,
) -> np.ndarray:
    """``(N, S, S, 3)`` uint8 RGB crops -> ``(N, 3, S, S)`` float32 normalised input.

    ``(x / 255 - mean) / std`` per channel, evaluated as one 256-entry table lookup
    per channel for the whole batch (uint8 input; other dtypes use the formula).
    """
    c = np.asarray(crops)
    if c.ndim == 3:
        c = c[None]
    if c.ndim != 4 or c.shape[-1] != 3:
        raise ValueError(f"crops must be (N, S, S, 3), got {c.shape}")
    if c.dtype == np.uint8:
        lut = _normalise_lut(
            tuple(float(v) for v in np.asarray(mean, np.float64).reshape(3)),
            tuple(float(v) for v in np.asarray(std, np.float64).reshape(3)),
        )
        out = np.empty((c.shape[0], 3, c.shape[1], c.shape[2]), np.float32)
        for ch in range(3):  # one gather per channel for all faces (no per-face loop)
            np.take(lut[ch], c[..., ch], out=out[:, ch])
        return out
    m = np.asarray(mean, np.float32).reshape(1, 3, 1, 1) * 255.0
    inv = 1.0 / (np.asarray(std, np.float32).reshape(1, 3, 1, 1) * 255.0)
    x = c.transpose(0, 3, 1, 2).astype(np.float32)
    x -= m
    x *= inv
    return np.ascontiguousarray(x)


def crop_faces_torch(
    image: torch.Tensor,
    boxes: np.ndarray,
    size: int,
    scale: float,
    shift_y: float,
    mean: tuple[float, float, float] | np.ndarray,
    std: tuple[float, float, float] | np.ndarray,
) -> torch.Tensor:
    """Crops and network input made with torch on the image's device (e.g. the GPU).

    The same crop boxes and sampling positions as :func:`crop_faces` followed by
    :func:`to_network_input`, computed for all faces at once with ``grid_sample``
    (bilinear, border replicated); faces larger than twice ``size`` are sampled at
    ``k * size`` and average-pooled by ``k`` (``k = round(side / size)``, at most
    ``MAX_INTERMEDIATE // size``), the counterpart of the area averaging.  Results
    match the OpenCV path to about one grey level (no intermediate uint8 rounding);
    used for inference only.

    Args:
        image: ``(H, W, 3)`` uint8 RGB ``torch.Tensor`` on any device.
        boxes: ``(N, 4)`` face boxes in pixels.
        size, scale, shift_y: as :func:`crop_faces`.
        mean, std: normalisation, as :func:`to_network_input`.

    Returns:
        ``(N, 3, size, size)`` float32 tensor on ``image.device``.
    """
    import torch
    import torch.nn.functional as F

    if image.ndim != 3 or image.shape[2] != 3 or image.dtype != torch.uint8:
        raise ValueError(f"image must be an HxWx3 uint8 tensor, got {tuple(image.shape)}")
    sq = crop_boxes(np.asarray(boxes, dtype=np.float64).reshape(-1, 4), (scale, shift_y))
    side = sq[:, 2] - sq[:, 0]
    if not np.all(np.isfinite(side) & (side > 0)):
        raise ValueError("degenerate face box")
    dev = image.device
    n = len(sq)
    h, w = int(image.shape[0]), int(image.shape[1])
    out = torch.empty((n, 3, size, size), dtype=torch.float32, device=dev)
    if n == 0:
        return out
    img = image.permute(2, 0, 1).unsqueeze(0).float()  # (1, 3, H, W)
    factor = np.where(side > 2 * size, np.maximum(np.round(side / size), 2), 1).astype(int)
    factor = np.minimum(factor, max(1, MAX_INTERMEDIATE // size))  # bounded sampling grid
    for k in np.unique(factor):  # one grid_sample per pooling factor, not per face
        idx = np.flatnonzero(factor == k)
        g = int(k) * size
        frac = (torch.arange(g, device=dev, dtype=torch.float32) + 0.5) / g
        box = torch.as_tensor(sq[idx], dtype=torch.float32, device=dev)
        sides = (box[:, 2] - box[:, 0])[:, None]
        xs = (box[:, 0:1] + frac[None] * sides) * (2.0 / w) - 1.0  # (n_k, g) normalised
        ys = (box[:, 1:2] + frac[None] * sides) * (2.0 / h) - 1.0
        grid = torch.stack(
            (xs[:, None, :].expand(-1, g, -1), ys[:, :, None].expand(-1, -1, g)), dim=-1
        )
        sampled = F.grid_sample(
            img.expand(len(idx), -1, -1, -1), grid, mode="bilinear",
            padding_mode="border", align_corners=False,
        )
        if k > 1:
            sampled = F.avg_pool2d(sampled, int(k))
        out[torch.as_tensor(idx, device=dev)] = sampled
    m = torch.as_tensor(np.asarray(mean, np.float32) * 255.0, device=dev).view(1, 3, 1, 1)
    inv = torch.as_tensor(1.0 / (np.asarray(std, np.float32) * 255.0), device=dev)
    return out.sub_(m).mul_(inv.view(1, 3, 1, 1))


def prepare_batch(image_rgb: np.ndarray, boxes: np.ndarray, cfg: ModelConfig) -> np.ndarray:
    """Crop and normalise faces for a model: ``(N, 3, S, S)`` float32 network input.

    Uses ``cfg.input_size``, ``cfg.crop_scale``, ``cfg.crop_shift_y``, ``cfg.mean``
    and ``cfg.std`` (a ``ModelConfig``), so training and inference match.
    """
    crops = crop_faces(image_rgb, boxes, cfg.input_size, cfg.crop_scale, cfg.crop_shift_y)
    return to_network_input(crops, cfg.mean, cfg.std)


def flip_boxes(boxes: np.ndarray, image_width: int | float) -> np.ndarray:
    """Boxes of the horizontally flipped image: ``x1' = W - x2``, ``x2' = W - x1``."""
    b = np.array(boxes, dtype=np.float64, copy=True)
    x1 = b[..., 0].copy()
    b[..., 0] = image_width - b[..., 2]
    b[..., 2] = image_width - x1
    return b


def flip_points(points: np.ndarray, image_width: int | float) -> np.ndarray:
    """``(..., 2)`` points of the horizontally flipped image: ``x' = W - x``."""
    p = np.array(points, dtype=np.float64, copy=True)
    p[..., 0] = image_width - p[..., 0]
    return p
