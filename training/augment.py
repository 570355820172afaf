# Copyright 2026 The ldl_pose_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""Training augmentation with correct label handling.

Geometric steps act on the full image, the face box and the labels *before*
the crop (so the shared crop convention of ``ldl_pose_ros.core.crop`` is applied to
the augmented box); photometric steps act on the ``S x S`` uint8 crop.

* horizontal flip: image mirrored, box mirrored (``x1' = W - x2``), yaw and roll
  negated (``ldl_pose_ros.core.geometry.flip_euler``);
* in-plane rotation (optional): the image turns by ``theta`` clockwise about the
  box centre, the rotation is composed into the label (``Rz(theta) @ R``); only
  applied to samples with all three angles labelled;
* scale/shift jitter of the box (the crop then sees a looser/tighter, shifted face);
* colour jitter (brightness, contrast, saturation, hue), Gaussian blur,
  grayscale, random erasing (occlusion) with noise or a flat colour.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import cv2
import numpy as np

from ldl_pose_ros.core.crop import flip_boxes
from ldl_pose_ros.core.geometry import euler_to_matrix, flip_euler, matrix_to_euler
from training.schema import ConfigError, from_mapping


@dataclass(frozen=True)
class AugmentConfig:
    """Probabilities and strengths of every augmentation (all off = identity)."""

    flip: float = 0.5
    scale_jitter: float = 0.1  # box size x U(1 - a, 1 + a)
    shift_jitter: float = 0.05  # box centre += U(-b, b) * box size, in x and y
    rotate_deg: float = 0.0  # in-plane rotation U(-r, r), only fully labelled samples
    rotate_p: float = 0.0
    color_p: float = 0.8
    brightness: float = 0.3
    contrast: float = 0.3
    saturation: float = 0.3
    hue: float = 0.03  # fraction of the hue circle
    blur_p: float = 0.1
    blur_sigma: float = 1.5  # max Gaussian sigma, in crop pixels
    grayscale_p: float = 0.1
    erase_p: float = 0.25
    erase_area: tuple[float, float] = (0.02, 0.2)  # fraction of the crop area
    erase_aspect: tuple[float, float] = (0.3, 3.3)

    def __post_init__(self) -> None:
        for name in ("flip", "rotate_p", "color_p", "blur_p", "grayscale_p", "erase_p"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ConfigError(f"augment.{name} is a probability, got {getattr(self, name)}")
        for name in ("scale_jitter", "shift_jitter", "rotate_deg", "brightness", "contrast",
                     "saturation", "hue", "blur_sigma"):
            if getattr(self, name) < 0:
                raise ConfigError(f"augment.{name} must be >= 0")

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None) -> AugmentConfig:
        """Build from a (YAML) dict; unknown keys and wrong types raise ``ConfigError``."""
        return from_mapping(cls, data, "augment")

    @classmethod
    def off(cls) -> AugmentConfig:
        """Every augmentation disabled."""
        return cls(flip=0.0, scale_jitter=0.0, shift_jitter=0.0, rotate_p=0.0, color_p=0.0,
                   blur_p=0.0, grayscale_p=0.0, erase_p=0.0)

    def to_dict(self) -> dict[str, Any]:
        """Plain dict (for checkpoint metadata)."""
        d = asdict(self)
        d["erase_area"] = list(self.erase_area)
        d["erase_aspect"] = list(self.erase_aspect)
        return d


# ---------------------------------------------------------------- geometric (full image)


def hflip(
    image: np.ndarray, box: np.ndarray, angles: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Mirror the image horizontally; mirror the box and negate yaw and roll."""
    w = image.shape[1]
    flipped = np.ascontiguousarray(image[:, ::-1])
    yaw, pitch, roll = flip_euler(angles[0], angles[1], angles[2])
    return flipped, flip_boxes(box, w), np.array([yaw, pitch, roll], dtype=np.float64)


def jitter_box(
    box: np.ndarray, rng: np.random.Generator, scale: float, shift: float
) -> np.ndarray:
    """Random scale (``x U(1-scale, 1+scale)``) and shift (``U(-shift, shift)`` x size) of a box."""
    x1, y1, x2, y2 = (float(v) for v in box)
    w, h = x2 - x1, y2 - y1
    cx, cy = (x1 + x2) / 2, (y1 + y2) / 2
    s = rng.uniform(1 - scale, 1 + scale) if scale > 0 else 1.0
    if shift > 0:
        cx += rng.uniform(-shift, shift) * w
        cy += rng.uniform(-shift, shift) * h
    w, h = w * s, h * s
    return np.array([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], dtype=np.float64)


def rotate_inplane(
    image: np.ndarray, box: np.ndarray, angles: np.ndarray, theta_deg: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Rotate the image by ``theta_deg`` *clockwise* (as displayed) about the box centre.

    The label becomes ``matrix_to_euler(Rz(theta) @ R)``: for a frontal face the
    roll grows by ``theta``.  The box keeps its centre and size.
    """
    cx, cy = (box[0] + box[2]) / 2, (box[1] + box[3]) / 2
    # cv2 angles are counter-clockwise as displayed (y down).
    m = cv2.getRotationMatrix2D((float(cx), float(cy)), -float(theta_deg), 1.0)
    out = cv2.warpAffine(image, m, (image.shape[1], image.shape[0]), flags=cv2.INTER_LINEAR,
                         borderMode=cv2.BORDER_REPLICATE)
    r = euler_to_matrix(angles[0], angles[1], angles[2])
    rz = euler_to_matrix(0.0, 0.0, theta_deg)
    return out, np.asarray(box, np.float64).copy(), matrix_to_euler(rz @ r)


# ---------------------------------------------------------------- photometric (crop)


def color_jitter(
    crop: np.ndarray, rng: np.random.Generator, brightness: float, contrast: float,
    saturation: float, hue: float,
) -> np.ndarray:
    """Random brightness/contrast/saturation factors and hue shift on an RGB uint8 crop."""
    x = crop.astype(np.float32)
    if brightness > 0:
        x *= rng.uniform(1 - brightness, 1 + brightness)
    if contrast > 0:
        mean = x.mean()
        x = (x - mean) * rng.uniform(1 - contrast, 1 + contrast) + mean
    if saturation > 0:
        gray = x @ np.array([0.299, 0.587, 0.114], np.float32)
        x = (x - gray[..., None]) * rng.uniform(1 - saturation, 1 + saturation) + gray[..., None]
    x = np.clip(x, 0, 255).astype(np.uint8)
    if hue > 0:
        hsv = cv2.cvtColor(x, cv2.COLOR_RGB2HSV)
        shift = int(round(rng.uniform(-hue, hue) * 180))
        hsv[..., 0] = ((hsv[..., 0].astype(np.int32) + shift) % 180).astype(np.uint8)
        x = cv2.cvtColor(hsv, cv2.COLOR_HSV2RGB)
    return x


def gaussian_blur(crop: np.ndarray, sigma: float) -> np.ndarray:
    """Gaussian blur with standard deviation ``sigma`` pixels."""
    if sigma <= 0:
        return crop
    return cv2.GaussianBlur(crop, (0, 0), sigmaX=float(sigma), borderType=cv2.BORDER_REPLICATE)


def grayscale(crop: np.ndarray) -> np.ndarray:
    """Grey image replicated on 3 channels."""
    g = cv2.cvtColor(crop, cv2.COLOR_RGB2GRAY)
    return cv2.cvtColor(g, cv2.COLOR_GRAY2RGB)


def random_erase(
    crop: np.ndarray, rng: np.random.Generator, area: tuple[float, float],
    aspect: tuple[float, float],
) -> np.ndarray:
    """Fill a random rectangle (``area`` fraction, ``aspect`` h/w) with noise or a flat colour."""
    h, w = crop.shape[:2]
    out = crop.copy()
    for _ in range(10):
        a = rng.uniform(*area) * h * w
        r = np.exp(rng.uniform(np.log(aspect[0]), np.log(aspect[1])))
        eh, ew = int(round(np.sqrt(a * r))), int(round(np.sqrt(a / r)))
        if 0 < eh < h and 0 < ew < w:
            y, x = rng.integers(0, h - eh + 1), rng.integers(0, w - ew + 1)
            if rng.random() < 0.5:
                out[y:y + eh, x:x + ew] = rng.integers(0, 256, (eh, ew, 3), dtype=np.uint8)
            else:
                out[y:y + eh, x:x + ew] = rng.integers(0, 256, 3, dtype=np.uint8)
            return out
    return out


def augment_geometry(
    image: np.ndarray, box: np.ndarray, angles: np.ndarray, mask: np.ndarray,
    cfg: AugmentConfig, rng: np.random.Generator,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Random flip, in-plane rotation and box jitter: ``(image, box, angles)``."""
    angles = np.asarray(angles, np.float64)
    if cfg.flip > 0 and rng.random() < cfg.flip:
        image, box, angles = hflip(image, box, angles)
    if cfg.rotate_p > 0 and cfg.rotate_deg > 0 and np.all(mask > 0) and rng.random() < cfg.rotate_p:
        image, box, angles = rotate_inplane(
            image, box, angles, rng.uniform(-cfg.rotate_deg, cfg.rotate_deg)
        )
    if cfg.scale_jitter > 0 or cfg.shift_jitter > 0:
        box = jitter_box(box, rng, cfg.scale_jitter, cfg.shift_jitter)
    return image, box, angles


def augment_photometric(
    crop: np.ndarray, cfg: AugmentConfig, rng: np.random.Generator
) -> np.ndarray:
    """Colour jitter, blur, grayscale and erasing on a uint8 RGB crop."""
    if cfg.color_p > 0 and rng.random() < cfg.color_p:
        crop = color_jitter(crop, rng, cfg.brightness, cfg.contrast, cfg.saturation, cfg.hue)
    if cfg.blur_p > 0 and rng.random() < cfg.blur_p:
        crop = gaussian_blur(crop, rng.uniform(0.3, cfg.blur_sigma))
    if cfg.grayscale_p > 0 and rng.random() < cfg.grayscale_p:
        crop = grayscale(crop)
    if cfg.erase_p > 0 and rng.random() < cfg.erase_p:
        crop = random_erase(crop, rng, cfg.erase_area, cfg.erase_aspect)
    return crop
