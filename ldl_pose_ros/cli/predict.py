# Copyright 2026 The ldl_pose_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""``ldl-pose predict``: head poses of the faces in image files, into a CSV."""

from __future__ import annotations

import argparse
import csv
import os
import sys
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from ldl_pose_ros.cli.common import EXIT_NOTHING_PROCESSED, EXIT_OK, error, warn

if TYPE_CHECKING:
    import _csv

    from ldl_pose_ros.core.faces import FacePrediction

OUTPUT_COLUMNS = (
    "file",
    "face",
    "x1",
    "y1",
    "x2",
    "y2",
    "score",
    "yaw",
    "pitch",
    "roll",
    "yaw_std",
    "pitch_std",
    "roll_std",
)
BOXES_COLUMNS = ("file", "x1", "y1", "x2", "y2")

_PREDICT_EPILOG = """\
angles (degrees), in the 300W-LP / AFLW2000 convention:
  yaw   > 0  the nose points towards the image left (subject turns to their right)
  pitch > 0  the face turns up
  roll  > 0  the face is rotated clockwise in the image
  *_std      standard deviation of the predicted label distribution (uncertainty)
  A horizontal flip of the image negates yaw and roll.

output: one CSV row per face with the columns
  file,face,x1,y1,x2,y2,score,yaw,pitch,roll,yaw_std,pitch_std,roll_std
  (box in pixels; face = index within the image, best detector score first;
  score = 1 for --boxes input). Images without faces give no rows.

--boxes CSV: columns file,x1,y1,x2,y2 (pixels, header required); one row per face.
  A row matches an image by the path as given on the command line (or found in a
  folder), else by its base name when that is unique in the CSV.

exit status:
  0  at least one image was processed (unreadable images are skipped with a
     warning on stderr)
  1  no image could be processed
  2  bad arguments, weights, detector or boxes file
"""


# --------------------------------------------------------------------------- predict


def register(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Add the ``predict`` subcommand."""
    from ldl_pose_ros.core import detection as det  # light: constants and the interface

    p = subparsers.add_parser(
        "predict",
        help="estimate head poses in images and write a CSV",
        description="Detect every face in the images (or use given boxes) and estimate "
        "yaw, pitch and roll with their uncertainties.",
        epilog=_PREDICT_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument(
        "paths",
        nargs="+",
        metavar="PATH",
        help="image file or folder of images (non-recursive, sorted by name; "
        "jpg, jpeg, png, bmp, tif, tiff, webp, ppm, pgm)",
    )
    p.add_argument("--out", required=True, metavar="OUT.csv", help="output CSV file")
    p.add_argument(
        "--boxes", metavar="CSV", help="face boxes to use instead of the detector (see below)"
    )
    p.add_argument(
        "--weights", metavar="FILE", help="model checkpoint (default: the shipped model)"
    )
    p.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto")
    p.add_argument(
        "--backend",
        choices=("auto", "torch", "onnx"),
        default="auto",
        help="network backend (default auto: ONNX Runtime on CPU, torch fp16 on CUDA)",
    )
    p.add_argument(
        "--detector",
        choices=det.BACKENDS,
        default=det.DEFAULT_DETECTOR,
        help="face detector (default: %(default)s, the shipped YuNet)",
    )
    p.add_argument(
        "--detector-model",
        metavar="PATH",
        help="detector model file: another YuNet ONNX file, or a cascade XML for haar",
    )
    p.add_argument(
        "--detector-max-side", type=int, default=det.DEFAULT_DETECTOR_MAX_SIDE,
        help="yunet: downscale images for detection so their longer side is at most this "
        "(%(default)s px)",
    )
    p.add_argument("--score-threshold", type=float, default=det.DEFAULT_SCORE_THRESHOLD,
                   help="minimum detector score (%(default)s)")
    p.add_argument("--max-faces", type=int, default=det.DEFAULT_MAX_FACES,
                   help="most faces per image (%(default)s)")
    p.add_argument("--min-face-size", type=float, default=det.DEFAULT_MIN_FACE_SIZE,
                   help="smallest face box side in pixels (%(default)s)")
    p.add_argument(
        "--annotate", metavar="DIR", help="also write annotated copies of the images to DIR"
    )
    p.set_defaults(func=run_predict)
    return p


def _collect_images(paths: list[str]) -> tuple[list[Path], int]:
    """Image files named by ``paths`` (folders expanded) and the number of missing paths."""
    from ldl_pose_ros.core.imaging import list_images

    files: list[Path] = []
    missing = 0
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            found = list_images(path)
            if not found:
                warn(f"{raw}: folder contains no images")
            files.extend(found)
        elif path.exists():
            files.append(path)
        else:
            warn(f"{raw}: no such file or folder; skipped")
            missing += 1
    return files, missing


class BoxTable:
    """Face boxes from a ``file,x1,y1,x2,y2`` CSV, looked up by image path."""

    def __init__(self, rows: dict[str, list[list[float]]]) -> None:
        self.rows = rows
        self.used: set[str] = set()
        self._by_norm = {os.path.normpath(k): k for k in rows}
        self._by_abs = {os.path.abspath(k): k for k in rows}
        by_base: dict[str, set[str]] = defaultdict(set)
        for k in rows:
            by_base[os.path.basename(k)].add(k)
        self._by_base = by_base

    @classmethod
    def read(cls, path: str) -> BoxTable:
        """Parse the CSV; raises ``ValueError`` with the line number on bad content."""
        rows: dict[str, list[list[float]]] = defaultdict(list)
        with open(path, newline="", encoding="utf-8-sig") as f:
            reader = csv.DictReader(f)
            header = [c.strip() for c in (reader.fieldnames or [])]
            missing = [c for c in BOXES_COLUMNS if c not in header]
            if missing:
                raise ValueError(
                    f"{path}: missing column(s) {', '.join(missing)} "
                    f"(need a header with {','.join(BOXES_COLUMNS)})"
                )
            reader.fieldnames = header
            for row in reader:
                line = reader.line_num
                name = (row.get("file") or "").strip()
                if not name:
                    raise ValueError(f"{path}:{line}: empty file name")
                try:
                    box = [float(row[c]) for c in BOXES_COLUMNS[1:]]
                except (TypeError, ValueError) as exc:
                    raise ValueError(f"{path}:{line}: bad box coordinates") from exc
                if not all(map(_finite, box)) or box[2] <= box[0] or box[3] <= box[1]:
                    raise ValueError(f"{path}:{line}: box needs finite x2 > x1 and y2 > y1")
                rows[name].append(box)
        return cls(dict(rows))

    def lookup(self, image: Path) -> list[list[float]] | None:
        """Boxes for ``image``, or ``None`` when the CSV has no (unique) entry for it."""
        s = str(image)
        key = (
            s
            if s in self.rows
            else self._by_norm.get(os.path.normpath(s)) or self._by_abs.get(os.path.abspath(s))
        )
        if key is None:
            cands = self._by_base.get(image.name, set())
            if len(cands) > 1:
                warn(f"{s}: base name matches several --boxes entries ({sorted(cands)}); skipped")
                return None
            key = next(iter(cands), None)
        if key is None:
            return None
        self.used.add(key)
        return self.rows[key]


def _finite(v: float) -> bool:
    return v == v and v not in (float("inf"), float("-inf"))


def _annotated_path(folder: Path, image: Path, taken: set[str]) -> Path:
    name = image.name
    k = 1
    while name in taken:
        name = f"{image.stem}_{k}{image.suffix}"
        k += 1
    taken.add(name)
    return folder / name


def _write_rows(writer: _csv.Writer, file: str, poses: Sequence[FacePrediction]) -> None:
    for i, p in enumerate(poses):
        x1, y1, x2, y2 = (float(v) for v in p.box)
        writer.writerow(
            [file, i, f"{x1:.1f}", f"{y1:.1f}", f"{x2:.1f}", f"{y2:.1f}", f"{p.score:.4f}"]
            + [f"{v:.3f}" for v in (*p.angles, *p.stds)]
        )


def run_predict(args: argparse.Namespace) -> int:
    """Run ``ldl-pose predict``; returns the exit status."""
    if not 64 <= args.detector_max_side <= 8192:
        return error(f"--detector-max-side must be in 64..8192, got {args.detector_max_side}")
    files, missing = _collect_images(args.paths)
    if not files:
        print("ldl-pose: error: no images to process", file=sys.stderr)
        return EXIT_NOTHING_PROCESSED

    table = None
    if args.boxes:
        try:
            table = BoxTable.read(args.boxes)
        except OSError as exc:
            return error(f"cannot read --boxes file {args.boxes}: {exc.strerror or exc}")
        except ValueError as exc:
            return error(str(exc))

    import cv2

    from ldl_pose_ros.core.annotate import draw_poses
    from ldl_pose_ros.core.estimator import HeadPoseEstimator
    from ldl_pose_ros.core.imaging import ImageError, load_image

    try:
        estimator = HeadPoseEstimator(
            weights=args.weights,
            device=args.device,
            backend=args.backend,
            detector=None if table is not None else args.detector,
            detector_model=None if table is not None else args.detector_model,
            detector_options=None if table is not None or args.detector != "yunet"
            else {"max_side": args.detector_max_side},
            score_threshold=args.score_threshold,
            max_faces=args.max_faces,
            min_face_size=args.min_face_size,
        )
    except (ValueError, OSError, ImportError, RuntimeError) as exc:
        return error(str(exc))

    annotate_dir = Path(args.annotate) if args.annotate else None
    if annotate_dir is not None:
        annotate_dir.mkdir(parents=True, exist_ok=True)
    out_path = Path(args.out)
    if out_path.parent != Path(""):
        out_path.parent.mkdir(parents=True, exist_ok=True)

    processed = faces = 0
    taken: set[str] = set()
    with estimator, open(out_path, "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(OUTPUT_COLUMNS)
        for path in files:
            boxes = None
            if table is not None:
                boxes = table.lookup(path)
                if boxes is None:
                    warn(f"{path}: no boxes in {args.boxes}; no faces written")
                    boxes = []
            try:
                image = load_image(path)
                poses = estimator.estimate(image, "bgr", boxes=boxes)
            except ImageError as exc:
                warn(f"{exc}; skipped")
                continue
            _write_rows(writer, str(path), poses)
            processed += 1
            faces += len(poses)
            if annotate_dir is not None:
                target = _annotated_path(annotate_dir, path, taken)
                if not cv2.imwrite(str(target), draw_poses(image, poses)):
                    warn(f"cannot write annotated image {target}")
    _summary(sys.stderr, processed, len(files) + missing, faces, out_path)
    if table is not None:
        unused = sorted(set(table.rows) - table.used)
        if unused:
            warn(f"{len(unused)} file(s) in {args.boxes} matched no image, e.g. {unused[0]}")
    return EXIT_OK if processed else EXIT_NOTHING_PROCESSED


def _summary(stream: TextIO, processed: int, total: int, faces: int, out: Path) -> None:
    skipped = total - processed
    extra = f", {skipped} skipped" if skipped else ""
    print(f"ldl-pose: {processed} image(s), {faces} face(s) -> {out}{extra}", file=stream)
