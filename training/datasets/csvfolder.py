# Copyright 2026 The ldl_pose_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""Folder + CSV format for pseudo-labelled or custom data.

``labels.csv`` (any name) with exactly the columns
``file,x1,y1,x2,y2,yaw,pitch,roll[,weight]``: ``file`` relative to the CSV's
folder (or to ``image_root``), the face box in pixels, angles in degrees in the
package convention.  An empty angle cell means "unknown" (masked out of the
loss and the metrics); ``weight`` (default 1) scales the sample's loss.  The
identity of a sample is the first folder of ``file`` when it has one (e.g. one
folder per person or recording), else the file name.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable
from pathlib import Path

import numpy as np

from ldl_pose_ros.core.label_csv import COLUMNS, label_row
from training.datasets.base import Sample

REQUIRED = COLUMNS[:-1]
OPTIONAL = COLUMNS[-1:]


def _identity(file: str) -> str:
    parts = Path(file.replace("\\", "/")).parts
    return parts[0] if len(parts) > 1 else Path(file).stem


def read_csv_folder(
    csv_path: str | Path,
    image_root: str | Path | None = None,
    min_weight: float = 0.0,
) -> list[Sample]:
    """Read a folder + CSV dataset.

    Args:
        csv_path: the CSV file.
        image_root: folder the ``file`` column is relative to (default: the CSV's folder).
        min_weight: drop rows whose weight is below this.

    Raises:
        ValueError: missing/unknown columns or a malformed row (with its line number).
    """
    csv_path = Path(csv_path)
    root = Path(image_root) if image_root is not None else csv_path.parent
    samples: list[Sample] = []
    with open(csv_path, newline="") as f:
        reader = csv.DictReader(f)
        cols = [c.strip() for c in (reader.fieldnames or [])]
        if tuple(cols[: len(REQUIRED)]) != REQUIRED or any(
            c not in OPTIONAL for c in cols[len(REQUIRED):]
        ):
            raise ValueError(
                f"{csv_path}: columns must be {','.join(REQUIRED)}[,weight], got {','.join(cols)}"
            )
        for line, row in enumerate(reader, start=2):
            row = {k.strip(): (v or "").strip() for k, v in row.items() if k is not None}
            try:
                box = [float(row[k]) for k in ("x1", "y1", "x2", "y2")]
                angles, mask = [], []
                for k in ("yaw", "pitch", "roll"):
                    if row[k] == "":
                        angles.append(0.0)
                        mask.append(0.0)
                    else:
                        angles.append(float(row[k]))
                        mask.append(1.0)
                weight = float(row["weight"]) if row.get("weight", "") != "" else 1.0
            except (KeyError, ValueError) as exc:
                raise ValueError(f"{csv_path}:{line}: malformed row ({exc})") from exc
            if not (box[2] > box[0] and box[3] > box[1]):
                raise ValueError(f"{csv_path}:{line}: empty box {box}")
            if not np.all(np.isfinite(angles)) or weight < 0:
                raise ValueError(f"{csv_path}:{line}: non-finite angle or negative weight")
            if weight < min_weight:
                continue
            samples.append(
                Sample(str(root / row["file"]), box, angles, mask, weight,
                       identity=_identity(row["file"]), source=csv_path.stem)
            )
    return samples


def write_csv_folder(
    csv_path: str | Path, samples: Iterable[Sample], image_root: str | Path | None = None
) -> Path:
    """Write samples (with image paths) in the folder + CSV format.

    Paths are written relative to ``image_root`` (default: the CSV's folder) when
    possible; masked angles are written as empty cells.
    """
    csv_path = Path(csv_path)
    root = Path(image_root) if image_root is not None else csv_path.parent
    csv_path.parent.mkdir(parents=True, exist_ok=True)
    with open(csv_path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(COLUMNS)
        for s in samples:
            if not isinstance(s.image, str):
                raise ValueError("write_csv_folder needs samples with image paths")
            p = Path(s.image)
            try:
                rel = p.resolve().relative_to(root.resolve()).as_posix()
            except ValueError:
                rel = str(p)
            w.writerow(label_row(rel, s.box, s.angles, s.mask, s.weight))
    return csv_path
