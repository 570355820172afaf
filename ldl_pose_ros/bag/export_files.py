# Copyright 2026 The ldl_pose_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""The files of ``ldl-pose bag export``: output folder, face images, label and index CSVs.

The output folder follows the rules of every file tool (``core.output_paths``):
checked before anything is read, results written into a temporary folder inside
it and renamed into place when complete, and only files its marker proves an
earlier export wrote are replaced or removed.
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ldl_pose_ros.bag.export_labels import ANGLE_NAMES, Candidate
from ldl_pose_ros.bag.records import FrameRecord
from ldl_pose_ros.bag.time_blocks import GUARD, VAL, choose_val_blocks, guarded_split
from ldl_pose_ros.core.label_csv import COLUMNS, file_cell, label_row
from ldl_pose_ros.core.output_paths import OwnedFolder, check_not_inside
from ldl_pose_ros.core.safe_csv import safe_writer

if TYPE_CHECKING:
    from ldl_pose_ros.bag.export import ExportOptions

INDEX_COLUMNS = (
    "file", "face", "identity", "frame", "stamp_ns", "time_s", "block", "split", "track_id",
    "label_source", "status", "weight", "yaw", "pitch", "roll", "yaw_std", "pitch_std",
    "roll_std", "net_yaw", "net_pitch", "net_roll", "mirror_deg", "jump_deg", "frame_x1",
    "frame_y1", "frame_x2", "frame_y2", "score",
)


#: The files ``bag export`` writes in its output folder (beside the identity's image folder).
OUTPUT_FILES = ("labels.csv", "train.csv", "val.csv", "index.csv", "export.json")


def prepare_output(opts: ExportOptions, identity: str) -> OwnedFolder:
    """Check ``opts.out`` before anything is read or loaded; raises :class:`OutputError`.

    The rules of ``bag evaluate`` (:mod:`ldl_pose_ros.core.output_paths`): the folder
    must not hold the input bag or lie inside it, and each name this export writes
    (:data:`OUTPUT_FILES` and the ``identity`` folder) must be free or proven, by the
    folder's marker, to be an earlier export's; other entries are never touched.
    """
    if Path(opts.bag).exists():
        check_not_inside(opts.out, [Path(opts.bag)], "--out")
    folder = OwnedFolder(opts.out, "ldl-pose bag export", "--out")
    folder.prepare((*OUTPUT_FILES, identity))
    return folder


def save_image(path: Path, image_bgr: np.ndarray, quality: int) -> None:
    """Write a BGR image as JPEG (folders created).

    Raises ``OSError`` with the cause and the file name when it cannot (a full disk).
    """
    import cv2

    ok, buf = cv2.imencode(".jpg", image_bgr, [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:
        raise ValueError(f"cannot encode {path.name} as JPEG")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(buf.tobytes())


def context_crop(bgr: np.ndarray, box: np.ndarray, context: float
                  ) -> tuple[np.ndarray, np.ndarray]:
    """A square region around a box and the box in its coordinates.

    The side is ``context`` x the box's larger side; the region is clipped to the image.
    """
    h, w = bgr.shape[:2]
    cx, cy = (box[0] + box[2]) / 2, (box[1] + box[3]) / 2
    half = context * max(box[2] - box[0], box[3] - box[1]) / 2
    x0, y0 = max(0, int(np.floor(cx - half))), max(0, int(np.floor(cy - half)))
    x1, y1 = min(w, int(np.ceil(cx + half))), min(h, int(np.ceil(cy + half)))
    return bgr[y0:y1, x0:x1].copy(), box - np.array([x0, y0, x0, y0], dtype=np.float64)


def write_outputs(out: Path, opts: ExportOptions, identity: str, frames: list[FrameRecord],
                  cands: list[Candidate], source: str
                  ) -> tuple[dict[str, Path], dict[str, int]]:
    """labels.csv, train/val.csv, index.csv in ``out``; removes unexported faces' images.

    ``index.csv`` is for people and spreadsheets: its cells go through
    ``core.safe_csv`` (no formula cells).  labels/train/val.csv are the training
    format, read back as paths and numbers (``core.label_csv.label_row``: a ``file``
    that starts with a formula character is written ``./file``, never escaped with
    an apostrophe that would break the path).
    """
    stamps = {rec.index: rec.stamp_ns for rec in frames}
    times = np.array([c.time_s for c in cands], dtype=np.float64)
    blocks = np.array([c.block for c in cands], dtype=np.int64)
    kept = np.array([c.label is not None for c in cands], dtype=bool)
    val_blocks = choose_val_blocks(blocks[kept], opts.val_fraction, opts.split_seed)
    split = np.full(len(cands), "", dtype=object)
    if kept.any():
        split[kept] = guarded_split(times[kept], blocks[kept], val_blocks, opts.guard_s)
    mask = [1.0 if a in opts.label_angles else 0.0 for a in ANGLE_NAMES]
    paths = {"labels": out / "labels.csv", "index": out / "index.csv"}
    if val_blocks:
        paths.update({"train": out / "train.csv", "val": out / "val.csv"})
    files = {k: open(p, "w", newline="") for k, p in paths.items()}  # noqa: SIM115
    try:
        writers: dict[str, Any] = {
            k: safe_writer(f) if k == "index" else csv.writer(f) for k, f in files.items()}
        for k, wr in writers.items():
            wr.writerow(INDEX_COLUMNS if k == "index" else COLUMNS)
        for i, c in enumerate(cands):
            row = None
            if c.label is not None:
                row = label_row(c.file, c.box, c.label, mask, c.weight)
                writers["labels"].writerow(row)
                if split[i] in ("train", "val") and val_blocks:
                    writers[split[i]].writerow(row)
            lab = c.label if c.label is not None else [None] * 3
            writers["index"].writerow([
                file_cell(c.file) if c.label is not None else "", c.face, identity, c.frame,
                stamps[c.frame], _num(c.time_s), c.block, split[i], c.track_id,
                source if c.label is not None else "", "exported" if c.label is not None
                else c.status, _num(c.weight), *(_num(v) for v in lab),
                *(_num(v) for v in c.stds), *(_num(v) for v in c.angles), _num(c.mirror_deg),
                _num(c.jump_deg),
                *(_num(v) for v in c.frame_box), _num(c.score)])
    finally:
        for f in files.values():
            f.close()
    keep_files = {c.file for c in cands if c.label is not None}
    for c in cands:
        if c.file not in keep_files:
            (out / c.file).unlink(missing_ok=True)
    for d in sorted({(out / c.file).parent for c in cands}, key=lambda p: len(p.parts),
                    reverse=True):  # image folders left empty go too
        while d != out and d.is_dir() and not any(d.iterdir()):
            d.rmdir()
            d = d.parent
    counts = {"exported": int(kept.sum()), "blocks": len(set(blocks[kept].tolist())),
              "val_blocks": len(val_blocks), "train": int(np.sum(split == "train")),
              "val": int(np.sum(split == VAL)) if val_blocks else 0,
              "guard": int(np.sum(split == GUARD))}
    return paths, counts


def _num(v: Any) -> str:
    if v is None:
        return ""
    f = float(v)
    return "" if not np.isfinite(f) else f"{f:.6g}"
