# Copyright 2026 The ldl_pose_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""The folder + CSV label format shared by ``ldl-pose bag export`` and the training tree.

A ``labels.csv`` has exactly the columns :data:`COLUMNS` (``weight`` optional
when reading): ``file`` relative to the CSV's folder, the face box in pixels,
angles in degrees in the convention of ``ldl_pose_ros.core.geometry`` with an empty
cell for an unknown angle, and the sample's loss weight.  ``training.datasets``
reads it (``read_csv_folder``); the identity of a row is the first folder of
``file``.
"""

from __future__ import annotations

from collections.abc import Iterable

#: Columns of a label file, in order (the last, ``weight``, is optional when reading).
COLUMNS = ("file", "x1", "y1", "x2", "y2", "yaw", "pitch", "roll", "weight")


def label_row(file: str, box: Iterable[float], angles: Iterable[float],
              mask: Iterable[float], weight: float) -> list[str]:
    """One row of :data:`COLUMNS` (masked angles as empty cells); ``box`` is x1, y1, x2, y2."""
    ang = [f"{float(a):.4f}" if m > 0 else "" for a, m in zip(angles, mask, strict=True)]
    x1, y1, x2, y2 = (float(v) for v in box)
    return [file, *(f"{v:.2f}" for v in (x1, y1, x2, y2)), *ang, f"{float(weight):.4g}"]
