# Copyright 2026 The ldl_pose_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""The configured data sources of a run: reading, the identity check, provenance."""

from __future__ import annotations

import subprocess
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from training.config import SourceConfig
from training.datasets.base import Sample
from training.datasets.registry import load_source

REPO_ROOT = Path(__file__).resolve().parents[1]
SourceData = tuple[SourceConfig, list[Sample]]


def load_sources(sources: Sequence[SourceConfig], train: bool) -> list[SourceData]:
    """Read every source: ``[(source, samples), ...]``."""
    return [(s, load_source(s.to_spec(), train=train)) for s in sources]


def check_identity_overlap(train: Sequence[SourceData], val: Sequence[SourceData]) -> list[str]:
    """Identities present in both a training and a validation source of the same type."""
    overlap = set()
    for ts, tsamples in train:
        tids = {s.identity for s in tsamples}
        for vs, vsamples in val:
            if ts.type == vs.type:
                overlap |= tids & {s.identity for s in vsamples}
    return sorted(overlap)


def source_summary(src: SourceConfig, samples: Sequence[Sample], weight: float | None = None,
                   role: str = "train") -> dict[str, Any]:
    """Provenance of one data source for ``cfg.meta`` (``weight``: the share used)."""
    ids = sorted({s.identity for s in samples})
    spec = src.to_spec()
    return {
        "type": src.type,
        "root": src.root,
        "weight": src.weight if weight is None else weight,
        "role": role,
        "n_samples": len(samples),
        "n_identities": len(ids),
        "identities": ids if len(ids) <= 50 else ids[:50] + ["..."],
        "options": {k: v for k, v in spec.items() if k not in ("type", "root", "weight")},
    }


def git_commit() -> str:
    """``<sha>[-dirty]`` of the checkout, or ``unknown``."""
    try:
        sha = subprocess.run(["git", "rev-parse", "HEAD"], cwd=REPO_ROOT, capture_output=True,
                             text=True, timeout=10)
        if sha.returncode != 0:
            return "unknown"
        dirty = subprocess.run(["git", "status", "--porcelain"], cwd=REPO_ROOT,
                               capture_output=True, text=True, timeout=10)
        return sha.stdout.strip() + ("-dirty" if dirty.stdout.strip() else "")
    except (OSError, subprocess.SubprocessError):
        return "unknown"
