# Copyright 2026 The ldl_pose_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""Pointing'04 reader: pan/tilt labels, face boxes given as centre x, centre y, width, height.

yaw = pan and pitch = tilt (same signs as the package convention); roll is not
labelled, so its mask entry is 0.  The labels are nominal (the subjects looked at
markers), so errors of several degrees are label noise.

Two layouts are read: the ``labels.csv`` of the prepared folder (columns
``file, person, series, tilt_deg, pan_deg, box_cx, box_cy, box_w, box_h``), or
the original database (``PersonNN/personNNSIITP.jpg`` with a ``.txt`` next to
each image: name, blank line, ``Face``, then ``cx cy w h``).
"""

from __future__ import annotations

import csv
import re
from pathlib import Path

import numpy as np

from training.datasets.base import Sample, box_from_center

_NAME = re.compile(r"person(\d{2})(\d)(\d{2})([+-]\d+)([+-]\d+)$", re.IGNORECASE)


def parse_pointing04_name(name: str) -> dict[str, int]:
    """Parse ``personPPSIITP`` (extension optional): person, series, index, tilt, pan."""
    m = _NAME.match(Path(name).stem)
    if not m:
        raise ValueError(f"not a Pointing'04 file name: {name!r}")
    person, series, index, tilt, pan = m.groups()
    return {
        "person": int(person),
        "series": int(series),
        "image_index": int(index),
        "tilt": int(tilt),
        "pan": int(pan),
    }


def read_box_txt(path: str | Path) -> np.ndarray:
    """Read a Pointing'04 ``.txt``: the last 4 integers are ``cx cy w h``; returns x1y1x2y2."""
    nums = re.findall(r"[-+]?\d+(?:\.\d+)?", Path(path).read_text().split("Face", 1)[-1])
    if len(nums) < 4:
        raise ValueError(f"{path}: no face box found")
    cx, cy, w, h = (float(v) for v in nums[-4:])
    return box_from_center(cx, cy, w, h)


def _keep(person: int, persons: list[int] | None) -> bool:
    return persons is None or person in persons


#: The annotated boxes are tight: their longer side is about 0.70 of a YuNet
#: detection's on the same faces (median over 72 near-frontal images of persons
#: 01/05/10, centres within 5 % of the side), so they are scaled by this factor by
#: default to make training crops match what the detector gives at inference.
BOX_SCALE = 1.4


def read_pointing04(
    root: str | Path,
    persons: list[int] | None = None,
    box_scale: float = BOX_SCALE,
) -> list[Sample]:
    """Read Pointing'04 samples (identity = ``"PNN"``, roll masked).

    Args:
        root: folder with ``labels.csv``, or the original ``PersonNN/`` folders
            with per-image ``.txt`` box files.
        persons: keep only these person numbers (e.g. ``[1, 2, ..., 9]``).
        box_scale: scale the given box about its centre (1.0 = as annotated; the
            default matches YuNet-like detector boxes, see :data:`BOX_SCALE`).
    """
    root = Path(root)
    persons = [int(p) for p in persons] if persons is not None else None
    samples: list[Sample] = []
    mask = np.array([1, 1, 0], dtype=np.float32)
    labels = root / "labels.csv"
    if labels.is_file():
        with open(labels, newline="") as f:
            for row in csv.DictReader(f):
                person = int(row["person"])
                if not _keep(person, persons):
                    continue
                box = box_from_center(
                    float(row["box_cx"]), float(row["box_cy"]),
                    float(row["box_w"]) * box_scale, float(row["box_h"]) * box_scale,
                )
                angles = [float(row["pan_deg"]), float(row["tilt_deg"]), 0.0]
                samples.append(
                    Sample(str(root / row["file"]), box, angles, mask.copy(),
                           identity=f"P{person:02d}", source="pointing04")
                )
        return samples
    for img in sorted(root.rglob("*.jpg")):
        try:
            info = parse_pointing04_name(img.name)
        except ValueError:
            continue
        if not _keep(info["person"], persons):
            continue
        txt = img.with_suffix(".txt")
        if not txt.is_file():
            continue
        box = read_box_txt(txt)
        if box_scale != 1.0:
            c = (box[:2] + box[2:]) / 2
            half = (box[2:] - box[:2]) / 2 * box_scale
            box = np.concatenate([c - half, c + half])
        angles = [float(info["pan"]), float(info["tilt"]), 0.0]
        samples.append(
            Sample(str(img), box, angles, mask.copy(), identity=f"P{info['person']:02d}",
                   source="pointing04")
        )
    return samples
