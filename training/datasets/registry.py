# Copyright 2026 The ldl_pose_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""Build a list of samples from a data-source spec (as written in the training YAML).

A spec is a dict::

    {type: pointing04, root: ../shared/data/pointing04, persons: [1, 2, 3],
     weight: 1.0, limit: null, <reader options...>}

``type`` is one of :data:`DATASET_TYPES`; ``root`` (``${VARS}`` and ``~``
expanded) is the dataset folder, or for ``csv`` the CSV file (or a folder
holding ``labels.csv``), or for ``cache`` a folder made by ``training.pack_cache``
(option ``source``: one packed source by name).  ``persons`` / ``identities`` keep only those
identities; ``exclude_identities`` drops some;
``split: {fraction: 0.05, seed: 0, part: train|test}`` keeps one side of a
seeded identity-disjoint split (``split_by_identity``; use the same
fraction/seed with ``part: train`` for training and ``part: test`` for
validation); ``limit`` keeps the first N samples (smoke tests).  ``weight`` is
the source's sampling share and is read by the caller (see ``mix_sources``);
any other key goes to the reader.
"""

from __future__ import annotations

import os
import typing
from collections.abc import Callable
from pathlib import Path
from typing import Any

from training.datasets.base import Sample, split_by_identity
from training.datasets.biwi import read_biwi
from training.datasets.cache import read_cache
from training.datasets.csvfolder import read_csv_folder
from training.datasets.lp300w import read_300wlp, read_aflw2000
from training.datasets.pointing04 import read_pointing04

DATASET_TYPES = ("300wlp", "aflw2000", "biwi", "pointing04", "csv", "cache")
_COMMON = {"type", "root", "persons", "identities", "exclude_identities", "limit", "weight", "name",
           "split"}
_READERS: dict[str, Callable[..., list[Sample]]] = {
    "300wlp": read_300wlp, "aflw2000": read_aflw2000, "biwi": read_biwi,
    "pointing04": read_pointing04, "csv": read_csv_folder, "cache": read_cache}
_SET_BY_LOADER = {"root", "csv_path", "train", "persons", "return"}


def reader_options(stype: str) -> dict[str, Any]:
    """The reader options a source of type ``stype`` accepts, with their type hints."""
    hints = typing.get_type_hints(_READERS[stype])
    return {k: v for k, v in hints.items() if k not in _SET_BY_LOADER}


def expand_path(path: str | os.PathLike[str]) -> Path:
    """Expand ``${VARS}`` and ``~`` in a path."""
    return Path(os.path.expanduser(os.path.expandvars(str(path))))


def _identity_keys(stype: str, persons: list[Any]) -> set[str]:
    keys = set()
    for p in persons:
        if stype == "pointing04":
            keys.add(f"P{int(p):02d}")
        elif stype == "biwi":
            keys.add(str(p).zfill(2))
        else:
            keys.add(str(p))
    return keys


def load_source(spec: dict[str, Any], train: bool = True) -> list[Sample]:
    """Read the samples described by ``spec`` (see the module docstring)."""
    spec = dict(spec)
    stype = str(spec.get("type", "")).lower()
    if stype not in DATASET_TYPES:
        raise ValueError(f"data source type must be one of {DATASET_TYPES}, got {stype!r}")
    if "root" not in spec:
        raise ValueError(f"data source {stype}: 'root' is required")
    root = expand_path(spec["root"])
    opts = {k: v for k, v in spec.items() if k not in _COMMON}
    persons = spec.get("persons")
    if stype == "300wlp":
        samples = read_300wlp(root, train=train, **opts)
    elif stype == "aflw2000":
        samples = read_aflw2000(root, train=train, **opts)
    elif stype == "biwi":
        samples = read_biwi(root, persons=[str(p) for p in persons] if persons else None, **opts)
    elif stype == "pointing04":
        samples = read_pointing04(root, persons=[int(p) for p in persons] if persons else None,
                                  **opts)
    elif stype == "cache":
        samples = read_cache(root, **opts)
    else:
        csv_path = root / "labels.csv" if root.is_dir() else root
        if "image_root" in opts:
            opts["image_root"] = expand_path(opts["image_root"])
        samples = read_csv_folder(csv_path, **opts)
    if persons and stype not in ("biwi", "pointing04"):
        keep = _identity_keys(stype, persons)
        samples = [s for s in samples if s.identity in keep]
    if spec.get("identities"):
        keep = _identity_keys(stype, spec["identities"])
        samples = [s for s in samples if s.identity in keep]
    if spec.get("exclude_identities"):
        drop = _identity_keys(stype, spec["exclude_identities"])
        samples = [s for s in samples if s.identity not in drop]
    if spec.get("split"):
        sp = dict(spec["split"])
        part = sp.get("part", "train")
        if part not in ("train", "test"):
            raise ValueError("split.part must be 'train' or 'test'")
        tr, te = split_by_identity(samples, float(sp.get("fraction", 0.05)),
                                   int(sp.get("seed", 0)))
        samples = tr if part == "train" else te
    if spec.get("limit"):
        samples = samples[: int(spec["limit"])]
    if not samples:
        raise ValueError(f"data source {stype} at {root}: no samples found")
    return samples
