# Copyright 2026 The ldl_pose_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""Torch ``Dataset``: load, (augment,) crop with the shared convention, normalise."""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np
import torch
from torch.utils.data import Dataset

from ldl_pose_ros.core.crop import crop_faces, to_network_input
from ldl_pose_ros.core.imaging import load_image, to_rgb
from ldl_pose_ros.model.angles import convert_angles
from ldl_pose_ros.model.config import ModelConfig
from training.augment import AugmentConfig, augment_geometry, augment_photometric
from training.datasets.base import Sample, loose_box
from training.datasets.cache import decode_image


def load_rgb(image: str | np.ndarray | bytes) -> np.ndarray:
    """An ``(H, W, 3)`` uint8 RGB image from a path (any format), an RGB array or encoded bytes."""
    if isinstance(image, np.ndarray):
        return to_rgb(image, color="rgb", max_megapixels=None)
    if isinstance(image, bytes):
        return cv2.cvtColor(decode_image(image), cv2.COLOR_BGR2RGB)
    return cv2.cvtColor(load_image(image, max_megapixels=None), cv2.COLOR_BGR2RGB)


def model_angles(angles: np.ndarray, mask: np.ndarray, convention: str) -> np.ndarray:
    """Dataset-convention labels in the network's bin convention (``ModelConfig``).

    Fully labelled samples are converted (:mod:`ldl_pose_ros.model.angles`).  A sample
    without a roll label (Pointing'04) gives yaw and pitch as the direction the face
    points in (azimuth and elevation); those are the head convention's yaw and pitch
    whatever the roll, so they are kept as they are.
    """
    if convention == "dataset" or not np.all(np.asarray(mask) > 0):
        return angles
    return convert_angles(np.asarray(angles, np.float64), "dataset", convention)


class PoseDataset(Dataset):
    """Face crops and labels for training or evaluation.

    Each item is ``(x, angles, mask, weight)``: ``x`` the ``(3, S, S)`` float32
    network input (``ldl_pose_ros.core.crop``: ``crop_faces`` with ``cfg.crop_scale``
    and ``cfg.crop_shift_y``, then ``to_network_input`` with ``cfg.mean/std``),
    ``angles`` ``(3,)`` degrees, ``mask`` ``(3,)`` (1 = labelled) and ``weight``
    (scalar).  With ``augment`` set, samples with a ``landmark_box`` and
    ``margin_range`` get a freshly drawn loose margin, then the geometric and
    photometric augmentations of :mod:`training.augment`.

    Randomness is a function of ``(seed, epoch, index)`` (call :meth:`set_epoch`),
    so runs and resumed runs are reproducible with any number of workers.  With
    ``uint8`` the item's ``x`` is the ``(3, S, S)`` uint8 crop instead, for
    :func:`normalise_uint8` on the training device (the same values).
    """

    def __init__(
        self,
        samples: Sequence[Sample],
        cfg: ModelConfig,
        augment: AugmentConfig | None = None,
        seed: int = 0,
        cache_images: bool = False,
        uint8: bool = False,
    ) -> None:
        self.samples = list(samples)
        self.uint8 = uint8
        self.cfg = cfg
        self.augment = augment
        self.seed = int(seed)
        self.epoch = 0
        self.cache_images = cache_images
        self._cache: dict[int, np.ndarray] = {}

    def __len__(self) -> int:
        return len(self.samples)

    def set_epoch(self, epoch: int) -> None:
        """Select the random stream of ``epoch``."""
        self.epoch = int(epoch)

    def _image(self, index: int) -> np.ndarray:
        if self.cache_images and index in self._cache:
            return self._cache[index]
        img = load_rgb(self.samples[index].image)
        if self.cache_images:
            self._cache[index] = img
        return img

    def crop(self, index: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The uint8 RGB crop ``(S, S, 3)``, the (augmented) angles and the mask of a sample."""
        s = self.samples[index]
        image = self._image(index)
        box, angles, mask = s.box.copy(), s.angles.copy(), s.mask.copy()
        rng = None
        if self.augment is not None:
            rng = np.random.default_rng([self.seed, self.epoch, index])
            if s.landmark_box is not None and s.margin_range is not None:
                box = loose_box(s.landmark_box, rng.uniform(*s.margin_range))
            image, box, angles = augment_geometry(image, box, angles, mask, self.augment, rng)
        crop = crop_faces(
            image, box[None], self.cfg.input_size, self.cfg.crop_scale, self.cfg.crop_shift_y
        )[0]
        if self.augment is not None and rng is not None:
            crop = augment_photometric(crop, self.augment, rng)
        return crop, angles, mask

    def __getitem__(
        self, index: int
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        crop, angles, mask = self.crop(index)
        angles = model_angles(angles, mask, self.cfg.angle_convention)
        if self.uint8:
            x = np.ascontiguousarray(crop.transpose(2, 0, 1))
        else:
            x = to_network_input(crop[None], self.cfg.mean, self.cfg.std)[0]
        return (
            torch.from_numpy(x),
            torch.as_tensor(angles, dtype=torch.float32),
            torch.as_tensor(mask, dtype=torch.float32),
            torch.tensor(float(self.samples[index].weight), dtype=torch.float32),
        )


def network_input_lut(cfg: ModelConfig) -> torch.Tensor:
    """``(3, 256)`` float32: the network input ``to_network_input`` gives each uint8 level."""
    ramp = np.repeat(np.arange(256, dtype=np.uint8)[None, None, :, None], 3, axis=3)
    return torch.from_numpy(to_network_input(ramp, cfg.mean, cfg.std)[0, :, 0, :].copy())


def normalise_uint8(x: torch.Tensor, lut: torch.Tensor) -> torch.Tensor:
    """``(N, 3, S, S)`` uint8 crops -> float32 network input, on their device.

    A table lookup with :func:`network_input_lut` (on the same device): bit-identical
    to ``to_network_input`` on the CPU.
    """
    channel = torch.arange(3, device=x.device).view(1, 3, 1, 1)
    return lut[channel, x.long()]
