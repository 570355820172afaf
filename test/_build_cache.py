# Copyright 2026 The ldl_pose_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""Build a test fixture once per content of its inputs, in a cache folder.

For fixtures that take a minute to build and do not change between runs (the ROS
stand-in of the distribution-route test, the test-only hri_msgs package): the folder
is named after a hash of the input files, built in place under a lock (venvs and
CMake installs are not relocatable) and marked complete at the end.  Builds of other
inputs (another checkout may be using them) are removed after 14 days unused.
Root: ``$LDL_POSE_TEST_CACHE`` or ``~/.cache/ldl_pose_ros/test``.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import shutil
import time
from collections.abc import Callable, Iterable
from pathlib import Path

COMPLETE = ".complete"


def cache_root() -> Path:
    """Where cached fixtures live."""
    default = Path.home() / ".cache" / "ldl_pose_ros" / "test"
    return Path(os.environ.get("LDL_POSE_TEST_CACHE", default))


def content_hash(inputs: Iterable[Path | str], extra: str = "") -> str:
    """SHA-256 over the files (folders: every file below, sorted) and ``extra``."""
    h = hashlib.sha256(extra.encode())
    for item in inputs:
        path = Path(item)
        files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
        for f in files:
            h.update(str(f).encode() + b"\0" + f.read_bytes() + b"\0")
    return h.hexdigest()


def cached_build(name: str, inputs: Iterable[Path | str], build: Callable[[Path], None],
                 extra: str = "") -> Path:
    """The folder ``build(folder)`` filled for these inputs; built now if not cached."""
    root = cache_root()
    root.mkdir(parents=True, exist_ok=True)
    target = root / f"{name}-{content_hash(inputs, extra)[:16]}"
    with open(root / f"{name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if (target / COMPLETE).is_file():
            os.utime(target / COMPLETE)  # last use, for pruning
            return target
        shutil.rmtree(target, ignore_errors=True)  # an interrupted build
        _prune(root, name)
        target.mkdir(parents=True)
        build(target)
        (target / COMPLETE).write_text("")
    return target


def _prune(root: Path, name: str, max_age_s: float = 14 * 86400) -> None:
    now = time.time()
    for old in root.glob(f"{name}-*"):
        marker = old / COMPLETE
        if marker.is_file() and now - marker.stat().st_mtime > max_age_s:
            shutil.rmtree(old, ignore_errors=True)
