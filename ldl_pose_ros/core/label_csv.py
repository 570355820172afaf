# Copyright 2026 The ldl_pose_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""The folder + CSV label format shared by ``ldl-pose bag export`` and the training tree.

A ``labels.csv`` has exactly the columns :data:`COLUMNS` (``weight`` optional
when reading): ``file`` relative to the CSV's folder, the face box in pixels,
angles in degrees in the convention of ``ldl_pose_ros.core.geometry`` with an empty
cell for an unknown angle, and the sample's loss weight.  ``training.datasets``
reads it (``read_csv_folder``); the identity of a row is the first folder of
``file``.

Spreadsheets: these files are read back by programs, so they are not escaped as
``core.safe_csv`` escapes the reports (an apostrophe would change the path the
training tree opens).  Every cell but ``file`` is a number, and :func:`label_row`
writes a ``file`` that starts with a formula character (``=``, ``+``, ``-``,
``@``, tab, CR) as ``./file``: the same path and identity for the training tree,
text for a spreadsheet.
"""

from __future__ import annotations

from collections.abc import Iterable

from ldl_pose_ros.core.safe_csv import FORMULA_TRIGGERS

#: Columns of a label file, in order (the last, ``weight``, is optional when reading).
COLUMNS = ("file", "x1", "y1", "x2", "y2", "yaw", "pitch", "roll", "weight")


def file_cell(file: str) -> str:
    """``file`` as a label file writes it: ``./file`` when it starts with a formula character."""
    return "./" + file if file.startswith(FORMULA_TRIGGERS) else file


def label_row(file: str, box: Iterable[float], angles: Iterable[float],
              mask: Iterable[float], weight: float) -> list[str]:
    """One row of :data:`COLUMNS` (masked angles as empty cells); ``box`` is x1, y1, x2, y2.

    A ``file`` that a spreadsheet would read as a formula is written as ``./file``.
    """
    file = file_cell(file)
    ang = [f"{float(a):.4f}" if m > 0 else "" for a, m in zip(angles, mask, strict=True)]
    x1, y1, x2, y2 = (float(v) for v in box)
    return [file, *(f"{v:.2f}" for v in (x1, y1, x2, y2)), *ang, f"{float(weight):.4g}"]
