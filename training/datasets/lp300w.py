# Copyright 2026 The ldl_pose_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""300W-LP and AFLW2000(-3D) readers: image + ``.mat`` with ``Pose_Para`` and landmarks.

``Pose_Para`` is ``[pitch, yaw, roll, tx, ty, tz, s]`` with the angles in radians
(the package's convention, so only a reorder to (yaw, pitch, roll) and a
conversion to degrees are needed).  The face box comes from the landmarks:
``pt2d`` (2 x K, negative entries = missing, ignored) or, for AFLW2000-3D,
optionally ``pt3d_68``.

300W-LP caveat: ``pt2d`` in a 300W-LP ``.mat`` is the *unrotated* view's
landmark set, identical in every synthesised view of a face.  When the dataset's
``landmarks/`` folder is present (``landmarks/<subset>/<name>_pts.mat`` with
``pts_2d``), the per-view landmarks are used instead; otherwise the ``pt2d`` box
is only a rough face location for rotated views (the face stays roughly in
place in the profiled views, so it is still usable).
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import scipy.io as sio

from training.datasets.base import Sample, filter_max_angle, landmark_box, loose_box

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png")
#: Fixed loose margin for testing and the random range for training (see ``loose_box``).
#: With k = 0.15 the box matches a YuNet detection on the unrotated 300W-LP views
#: (side ratio ~1.0, centre within ~4 % of the side; k = 0.2, Hopenet's test
#: margin, is ~10 % larger), so a model sees at test time the crops a detector gives.
TEST_MARGIN = 0.15
TRAIN_MARGIN = (0.1, 0.25)


def read_pose_mat(path: str | Path) -> dict[str, np.ndarray]:
    """Read a 300W-LP / AFLW2000 ``.mat``: ``angles`` (yaw, pitch, roll deg) and landmarks.

    Returns a dict with ``angles`` ``(3,)`` and, when present, ``pt2d`` ``(2, K)``,
    ``pt3d_68`` ``(3, 68)``.
    """
    m = sio.loadmat(str(path))
    if "Pose_Para" not in m:
        raise ValueError(f"{path}: no Pose_Para")
    p = np.asarray(m["Pose_Para"], dtype=np.float64).reshape(-1)
    if p.size < 3:
        raise ValueError(f"{path}: Pose_Para has {p.size} values, expected >= 3")
    pitch, yaw, roll = np.degrees(p[:3])
    out: dict[str, np.ndarray] = {"angles": np.array([yaw, pitch, roll], dtype=np.float64)}
    for key in ("pt2d", "pt3d_68"):
        if key in m:
            out[key] = np.asarray(m[key], dtype=np.float64)
    return out


def _find_image(mat: Path) -> Path | None:
    for suf in IMAGE_SUFFIXES:
        cand = mat.with_suffix(suf)
        if cand.is_file():
            return cand
    return None


def _view_landmarks(root: Path, mat: Path) -> np.ndarray | None:
    """Per-view landmarks from 300W-LP's ``landmarks/`` folder, when available."""
    lm_root = root / "landmarks"
    if not lm_root.is_dir():
        return None
    rel = mat.relative_to(root)
    cands = [lm_root / rel.parent / f"{mat.stem}_pts.mat", lm_root / f"{mat.stem}_pts.mat"]
    for c in cands:
        if c.is_file():
            m = sio.loadmat(str(c))
            if "pts_2d" in m:
                return np.asarray(m["pts_2d"], dtype=np.float64)
    return None


def face_identity_300wlp(stem: str) -> str:
    """Identity of a 300W-LP view: the name without its view index (and ``_Flip``).

    ``AFW_134212_1_7`` -> ``AFW_134212_1``.  Different photos of the same person
    (possible in HELEN/LFPW) cannot be detected from the names.
    """
    base = re.sub(r"_\d+$", "", stem)
    return base.replace("_Flip", "")


def _box_sample(
    img: Path,
    angles: np.ndarray,
    pts: np.ndarray | None,
    identity: str,
    source: str,
    train: bool,
    margin: float,
    margin_range: tuple[float, float],
) -> Sample | None:
    if pts is None:
        return None
    tight = landmark_box(pts)
    if tight is None or tight[2] - tight[0] < 2 or tight[3] - tight[1] < 2:
        return None
    return Sample(
        image=str(img),
        box=loose_box(tight, margin),
        angles=angles,
        identity=identity,
        source=source,
        landmark_box=tight,
        margin_range=tuple(margin_range) if train else None,
    )


def read_300wlp(
    root: str | Path,
    train: bool = True,
    margin: float = TEST_MARGIN,
    margin_range: tuple[float, float] = TRAIN_MARGIN,
    max_abs_deg: float | None = None,
    include_flipped: bool = True,
) -> list[Sample]:
    """Read 300W-LP (any sub-folder layout; the ``landmarks/`` folder is skipped).

    Args:
        root: dataset folder (``AFW/``, ``HELEN/``, ... or a flat folder of pairs).
        train: when true, samples carry ``margin_range`` so that the training
            dataset redraws the loose margin; otherwise the box uses ``margin``.
        margin: fixed loose margin ``k`` of :func:`~training.datasets.base.loose_box`.
        margin_range: random margin range for training.
        max_abs_deg: drop samples with any |angle| above this (``None``: keep all).
        include_flipped: keep the ``*_Flip`` folders of the full dataset.
    """
    root = Path(root)
    samples: list[Sample] = []
    for mat in sorted(root.rglob("*.mat")):
        rel = mat.relative_to(root)
        if rel.parts and rel.parts[0] == "landmarks":
            continue
        if not include_flipped and any("_Flip" in part for part in rel.parts):
            continue
        img = _find_image(mat)
        if img is None:
            continue
        data = read_pose_mat(mat)
        pts = _view_landmarks(root, mat)
        if pts is None:
            pts = data.get("pt2d")
        s = _box_sample(
            img, data["angles"], pts, face_identity_300wlp(mat.stem), "300wlp", train, margin,
            margin_range,
        )
        if s is not None:
            samples.append(s)
    if max_abs_deg is not None:
        samples = filter_max_angle(samples, max_abs_deg)
    return samples


def read_aflw2000(
    root: str | Path,
    filter_large: bool = True,
    max_abs_deg: float = 99.0,
    landmarks: str = "pt2d",
    train: bool = False,
    margin: float = TEST_MARGIN,
    margin_range: tuple[float, float] = TRAIN_MARGIN,
) -> list[Sample]:
    """Read AFLW2000-3D (``imageNNNNN.jpg`` + ``.mat``).

    Args:
        root: folder holding the image/.mat pairs (searched recursively).
        filter_large: the standard protocol: drop samples with any |angle| >
            ``max_abs_deg`` (99 degrees), which leaves 1969 of 2000 images.
        landmarks: ``"pt2d"`` (the 2D annotation; negative = missing, ignored)
            or ``"pt3d_68"`` (the fitted 68 points, x/y rows).
        train, margin, margin_range: as in :func:`read_300wlp`.
    """
    if landmarks not in ("pt2d", "pt3d_68"):
        raise ValueError("landmarks must be 'pt2d' or 'pt3d_68'")
    root = Path(root)
    samples: list[Sample] = []
    for mat in sorted(root.rglob("*.mat")):
        img = _find_image(mat)
        if img is None:
            continue
        data = read_pose_mat(mat)
        pts = data.get(landmarks)
        if pts is None:
            pts = data.get("pt2d") if landmarks != "pt2d" else data.get("pt3d_68")
        if pts is not None and pts.shape[0] == 3:
            pts = pts[:2]
        s = _box_sample(
            img, data["angles"], pts, mat.stem, "aflw2000", train, margin, margin_range
        )
        if s is not None:
            samples.append(s)
    if filter_large:
        samples = filter_max_angle(samples, max_abs_deg)
    return samples
