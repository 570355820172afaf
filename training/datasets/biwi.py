# Copyright 2026 The ldl_pose_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""BIWI Kinect Head Pose reader: ``NN/frame_XXXXX_rgb.png`` + ``frame_XXXXX_pose.txt``.

``pose.txt`` holds a 3x3 rotation matrix ``M`` (3 rows), then the head centre in
mm in the depth camera frame.  Angles use the usual (Hopenet-style) decoding,
with ``R = M^T``::

    yaw   = -atan2(-R[2,0], sqrt(R[2,1]^2 + R[2,2]^2))
    pitch =  atan2(R[2,1], R[2,2])
    roll  = -atan2(R[1,0], R[0,0])

which gives angles in the package's (300W-LP) convention, as assumed by every
model trained on 300W-LP and tested on BIWI.

The face box is either read from an annotation file (``image;x1;y1;x2;y2;...``
lines, e.g. OPAL's ``biwi_ann.txt``, or a CSV with ``file,x1,y1,x2,y2``) or
made by projecting the head centre into the RGB image with ``rgb.cal``
(``p_rgb = R_cal @ t + t_cal``, then the intrinsics ``K``) and drawing a square
of a fixed physical size (``face_size_mm``, converted to pixels at the head's
depth) around it.
"""

from __future__ import annotations

import csv
import math
from pathlib import Path

import numpy as np

from training.datasets.base import Sample, box_from_center

#: Default physical side of the face box (mm) around the projected head centre, and
#: the box centre's vertical offset (fraction of the side, > 0 = down).  Chosen so
#: that the box matches a YuNet detection (side and centre within ~5 %) on the
#: BIWI frame in ``shared/data/convention_checks`` -- one frame, so a rough fit.
FACE_SIZE_MM = 190.0
CENTER_OFFSET_Y = -0.05


def read_pose_txt(path: str | Path) -> tuple[np.ndarray, np.ndarray]:
    """Read a BIWI pose file: ``(M (3, 3), t (3,) mm)``."""
    vals = [float(v) for v in Path(path).read_text().split()]
    if len(vals) < 12:
        raise ValueError(f"{path}: expected 12 numbers (3x3 matrix + translation), got {len(vals)}")
    return np.array(vals[:9], dtype=np.float64).reshape(3, 3), np.array(vals[9:12], np.float64)


def read_calibration(path: str | Path) -> dict[str, np.ndarray]:
    """Read a BIWI ``rgb.cal`` / ``depth.cal``: ``K``, ``dist``, ``R``, ``t``, ``size``."""
    vals = [float(v) for v in Path(path).read_text().split()]
    if len(vals) < 27:
        raise ValueError(f"{path}: expected >= 27 numbers, got {len(vals)}")
    return {
        "K": np.array(vals[0:9]).reshape(3, 3),
        "dist": np.array(vals[9:13]),
        "R": np.array(vals[13:22]).reshape(3, 3),
        "t": np.array(vals[22:25]),
        "size": np.array(vals[25:27]),
    }


def biwi_matrix_to_euler(m: np.ndarray) -> np.ndarray:
    """``(yaw, pitch, roll)`` degrees from a BIWI pose matrix (decoding in the module doc)."""
    r = np.asarray(m, dtype=np.float64).T
    yaw = -math.atan2(-r[2, 0], math.hypot(r[2, 1], r[2, 2]))
    pitch = math.atan2(r[2, 1], r[2, 2])
    roll = -math.atan2(r[1, 0], r[0, 0])
    return np.degrees([yaw, pitch, roll])


def project_head_center(t_mm: np.ndarray, cal: dict[str, np.ndarray]) -> tuple[float, float, float]:
    """Project the head centre (depth-camera mm) into the RGB image: ``(u, v, depth_mm)``."""
    p = cal["R"] @ np.asarray(t_mm, dtype=np.float64) + cal["t"]
    k = cal["K"]
    u = k[0, 0] * p[0] / p[2] + k[0, 2]
    v = k[1, 1] * p[1] / p[2] + k[1, 2]
    return float(u), float(v), float(p[2])


def read_box_file(path: str | Path) -> dict[str, np.ndarray]:
    """Read face boxes keyed by ``<sequence>/<frame file name>``.

    Accepts ``;``-separated lines ``image;x1;y1;x2;y2[;...]`` (``#`` comments and
    headers skipped) or a CSV with a header containing ``file,x1,y1,x2,y2``.
    """
    text = Path(path).read_text().splitlines()
    boxes: dict[str, np.ndarray] = {}
    first = next((ln for ln in text if ln.strip()), "")
    if "," in first and ";" not in first:
        with open(path, newline="") as f:
            for row in csv.DictReader(f):
                boxes[_frame_key(row["file"])] = np.array(
                    [float(row[k]) for k in ("x1", "y1", "x2", "y2")]
                )
        return boxes
    for ln in text:
        ln = ln.strip()
        if not ln or ln.startswith("#"):
            continue
        parts = [p for p in ln.split(";") if p != ""]
        if len(parts) < 5:
            continue
        try:
            boxes[_frame_key(parts[0])] = np.array([float(v) for v in parts[1:5]])
        except ValueError:
            continue
    return boxes


def _frame_key(path: str) -> str:
    p = Path(path.replace("\\", "/"))
    return f"{p.parent.name}/{p.name}"


def read_biwi(
    root: str | Path,
    persons: list[str] | None = None,
    box_file: str | Path | None = None,
    face_size_mm: float = FACE_SIZE_MM,
    center_offset_y: float = CENTER_OFFSET_Y,
    max_abs_deg: float | None = None,
) -> list[Sample]:
    """Read BIWI frames under ``root`` (recursively: any folder with ``*_pose.txt``).

    Args:
        root: e.g. ``.../kinect_head_pose_db/hpdb``.
        persons: keep only these sequence folders (e.g. ``["01", "02"]``); the
            identity of a sample is its folder name.  (BIWI's 24 sequences show 20
            people; sequences of the same person are not merged here.)
        box_file: optional face-box annotation file (see :func:`read_box_file`);
            frames missing from it are skipped.
        face_size_mm, center_offset_y: projected-box geometry when no file is given.
        max_abs_deg: drop frames with any |angle| above this (``None``: keep all).
    """
    root = Path(root)
    boxes = read_box_file(box_file) if box_file else None
    poses = sorted(root.rglob("*_pose.txt"))
    # When none of the local sequence folders is named in the box file (e.g. a
    # single renamed folder), frames are matched by file name alone if unique.
    by_name: dict[str, int] = {}
    if boxes is not None and not ({p.parent.name for p in poses}
                                  & {k.split("/", 1)[0] for k in boxes}):
        for k in boxes:
            name = k.rsplit("/", 1)[-1]
            by_name[name] = by_name.get(name, 0) + 1
    keep = {str(p).zfill(2) for p in persons} if persons else None
    samples: list[Sample] = []
    cal_cache: dict[Path, dict[str, np.ndarray]] = {}
    for pose in poses:
        seq = pose.parent.name
        if keep is not None and seq not in keep:
            continue
        img = pose.with_name(pose.name.replace("_pose.txt", "_rgb.png"))
        if not img.is_file():
            continue
        m, t = read_pose_txt(pose)
        angles = biwi_matrix_to_euler(m)
        if max_abs_deg is not None and np.any(np.abs(angles) > max_abs_deg):
            continue
        if boxes is not None:
            box = boxes.get(f"{seq}/{img.name}")
            if box is None and by_name.get(img.name, 0) == 1:
                box = next(b for k, b in boxes.items() if k.endswith("/" + img.name))
            if box is None:
                continue
        else:
            cal_path = pose.parent / "rgb.cal"
            if not cal_path.is_file():
                raise FileNotFoundError(f"{cal_path} needed to project the head centre")
            if cal_path not in cal_cache:
                cal_cache[cal_path] = read_calibration(cal_path)
            cal = cal_cache[cal_path]
            u, v, z = project_head_center(t, cal)
            side = cal["K"][0, 0] * face_size_mm / z
            box = box_from_center(u, v + center_offset_y * side, side, side)
        samples.append(Sample(str(img), box, angles, identity=seq, source="biwi"))
    return samples
