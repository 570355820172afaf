# Copyright 2026 The ldl_pose_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""The sample record shared by every reader, face-box helpers, identity splits, source mixing.

Angles are degrees in the 300W-LP ``Pose_Para`` convention used throughout the
package (``ldl_pose_ros.core.geometry``): yaw > 0 nose towards image-left, pitch > 0
face up, roll > 0 clockwise in the image.  Order is always (yaw, pitch, roll).
"""

from __future__ import annotations

import random
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace

import numpy as np

ANGLES = ("yaw", "pitch", "roll")


@dataclass
class Sample:
    """One labelled face.

    Attributes:
        image: image path, an ``(H, W, 3)`` uint8 RGB array, or the bytes of an
            encoded image (JPEG, PNG, ...: a packed training cache).
        box: ``(4,)`` float face box ``x1, y1, x2, y2`` in pixels (detector-like
            box; the crop convention of ``ldl_pose_ros.core.crop`` is applied to it).
        angles: ``(3,)`` yaw, pitch, roll in degrees.
        mask: ``(3,)`` 1 where the angle is labelled, 0 where unknown (e.g. the
            roll of Pointing'04); masked angles get no loss and no metric.
        weight: per-sample loss weight (e.g. pseudo-label confidence).
        identity: person identifier used for identity-disjoint splits.
        source: dataset name.
        landmark_box: optional tight landmark box ``(4,)``; when set with
            ``margin_range`` the training dataset redraws the loose margin around
            it at every access (random margin for training, fixed for testing).
        margin_range: ``(k_min, k_max)`` of the random loose margin (see
            :func:`loose_box`).
    """

    image: str | np.ndarray | bytes
    box: np.ndarray
    angles: np.ndarray
    mask: np.ndarray = field(default_factory=lambda: np.ones(3, np.float32))
    weight: float = 1.0
    identity: str = ""
    source: str = ""
    landmark_box: np.ndarray | None = None
    margin_range: tuple[float, float] | None = None

    def __post_init__(self) -> None:
        self.box = np.asarray(self.box, dtype=np.float64).reshape(4)
        self.angles = np.asarray(self.angles, dtype=np.float64).reshape(3)
        self.mask = np.asarray(self.mask, dtype=np.float32).reshape(3)
        if self.landmark_box is not None:
            self.landmark_box = np.asarray(self.landmark_box, dtype=np.float64).reshape(4)

    @property
    def name(self) -> str:
        """A printable name (the path, ``<array>`` or ``<encoded image>``)."""
        if isinstance(self.image, bytes):
            return "<encoded image>"
        return self.image if isinstance(self.image, str) else "<array>"


def landmark_box(points: np.ndarray) -> np.ndarray | None:
    """Tight box ``x1, y1, x2, y2`` of landmarks ``(2, K)`` or ``(3, K)`` (rows x, y[, z]).

    Landmarks with a negative x or y (missing / not annotated) are ignored.
    Returns ``None`` when fewer than 2 valid landmarks remain.
    """
    pts = np.asarray(points, dtype=np.float64)
    if pts.ndim != 2 or pts.shape[0] not in (2, 3):
        if pts.ndim == 2 and pts.shape[1] in (2, 3):
            pts = pts.T
        else:
            raise ValueError(f"landmarks must be (2|3, K), got {pts.shape}")
    x, y = pts[0], pts[1]
    ok = (x >= 0) & (y >= 0) & np.isfinite(x) & np.isfinite(y)
    if ok.sum() < 2:
        return None
    return np.array([x[ok].min(), y[ok].min(), x[ok].max(), y[ok].max()], dtype=np.float64)


def loose_box(tight: np.ndarray, k: float) -> np.ndarray:
    """The usual loose face box around a tight landmark box.

    The 68-point box stops at the eyebrows, so the margin is larger at the top
    (forehead): left/right/bottom grow by ``0.6 * k`` of the box size and the
    top by ``2 * k``.  Testing uses a fixed ``k``; training draws ``k``
    uniformly from a range (the defaults are in ``training.datasets.lp300w``).
    """
    x1, y1, x2, y2 = (float(v) for v in tight)
    w, h = x2 - x1, y2 - y1
    return np.array(
        [x1 - 0.6 * k * w, y1 - 2.0 * k * h, x2 + 0.6 * k * w, y2 + 0.6 * k * h], dtype=np.float64
    )


def box_from_center(cx: float, cy: float, w: float, h: float) -> np.ndarray:
    """``x1, y1, x2, y2`` from a centre and a size."""
    return np.array([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], dtype=np.float64)


def filter_max_angle(samples: Iterable[Sample], max_abs_deg: float = 99.0) -> list[Sample]:
    """Drop samples with any *labelled* angle whose magnitude exceeds ``max_abs_deg``."""
    out = []
    for s in samples:
        if np.all(np.abs(s.angles[s.mask > 0]) <= max_abs_deg):
            out.append(s)
    return out


def identities(samples: Iterable[Sample]) -> list[str]:
    """Sorted distinct identities."""
    return sorted({s.identity for s in samples})


def select_identities(samples: Iterable[Sample], keep: Iterable[str]) -> list[Sample]:
    """Samples whose identity is in ``keep``."""
    keep_set = {str(k) for k in keep}
    return [s for s in samples if s.identity in keep_set]


def split_by_identity(
    samples: Sequence[Sample],
    test_fraction: float = 0.2,
    seed: int = 0,
    test_identities: Iterable[str] | None = None,
) -> tuple[list[Sample], list[Sample]]:
    """Split into (train, test) so that no identity is in both.

    With ``test_identities`` those persons form the test set; otherwise a seeded
    random ``test_fraction`` of the identities (at least one, and at least one
    left for training when there are two or more) is held out.  Samples without
    an identity (``""``) are each treated as their own identity, keyed by name.
    """
    def key(s: Sample, i: int) -> str:
        return s.identity if s.identity else f"__anon_{i}_{s.name}"

    keys = [key(s, i) for i, s in enumerate(samples)]
    if test_identities is not None:
        test_ids = {str(t) for t in test_identities}
    else:
        ids = sorted(set(keys))
        rng = random.Random(seed)
        rng.shuffle(ids)
        n_test = int(round(test_fraction * len(ids)))
        n_test = max(1, n_test) if ids else 0
        if len(ids) >= 2:
            n_test = min(n_test, len(ids) - 1)
        test_ids = set(ids[:n_test])
    train = [s for s, k in zip(samples, keys, strict=True) if k not in test_ids]
    test = [s for s, k in zip(samples, keys, strict=True) if k in test_ids]
    return train, test


def mix_sources(
    sources: Sequence[tuple[Sequence[Sample], float]],
) -> tuple[list[Sample], np.ndarray]:
    """Concatenate sources and give each sample a sampling probability.

    Each source ``(samples, weight)`` receives a share of the draws proportional
    to ``weight`` whatever its size (samples inside a source are equally likely),
    e.g. ``[(pseudo, 0.6), (pointing, 0.4)]`` draws 40 % Pointing'04 samples.
    Returns ``(samples, probabilities)`` with probabilities summing to 1, ready
    for ``torch.utils.data.WeightedRandomSampler``.  Empty sources are skipped.
    """
    out: list[Sample] = []
    probs: list[np.ndarray] = []
    live = [(list(s), float(w)) for s, w in sources if len(s) > 0 and w > 0]
    if not live:
        return [], np.zeros(0)
    total_w = sum(w for _, w in live)
    for samples, w in live:
        out.extend(samples)
        probs.append(np.full(len(samples), w / total_w / len(samples)))
    p = np.concatenate(probs)
    return out, p / p.sum()


def with_source(samples: Iterable[Sample], source: str) -> list[Sample]:
    """Copies of ``samples`` with ``source`` set."""
    return [replace(s, source=source) for s in samples]
