# Copyright 2026 The ldl_pose_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""``ldl-pose predict``: head poses of the faces in image files, into a CSV."""

from __future__ import annotations

import argparse
import csv
import math
import os
import sys
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from ldl_pose_ros.cli.common import (
    EXIT_NOTHING_PROCESSED,
    EXIT_OK,
    allow_legacy_weights,
    error,
    number_in,
    warn,
)
from ldl_pose_ros.core.output_paths import (
    OutputError,
    OwnedFolder,
    atomic_text,
    check_distinct,
    check_file_target,
    describe_os_error,
    same_file,
)
from ldl_pose_ros.core.safe_csv import SafeWriter, safe_writer
from ldl_pose_ros.resources import DEFAULT_MIRROR_AVERAGE

if TYPE_CHECKING:
    from ldl_pose_ros.core.estimator import HeadPoseEstimator
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
  folder), else by its base name when that is unique in the CSV.  A bad row (not
  finite, x2 <= x1 or y2 <= y1, outside the image, sides over 4x the image) skips
  its image with a warning; the run goes on.

outputs (checked before the model is loaded; problems exit with status 2):
  OUT.csv    must not be one of the inputs; an existing file is replaced only if
             it is a poses CSV (its first line is the header above); written under
             a temporary name and renamed when complete.
  --annotate DIR  must not be the folder of an input image; DIR keeps a marker
             (.ldl-pose-output.json) of the images written there, and only those are
             replaced or removed by a later run; any other file of the same name is
             left alone and the run is refused.
  Cells that a spreadsheet would run as a formula (starting with = + - @) are
  written with a leading apostrophe; numbers stay numbers.

exit status:
  0  at least one image was processed (unreadable images are skipped with a
     warning on stderr)
  1  no image could be processed
  2  bad arguments, weights, detector, boxes file or output path (incl. a failed
     write: the previous output is kept)
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
        "--mirror-average",
        action=argparse.BooleanOptionalAction,
        default=DEFAULT_MIRROR_AVERAGE,
        help="average each face with its mirror image: mirror-consistent angles, two network "
        "passes per face (default: on)",
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
        "--detector-max-side", type=number_in(64, 8192, integer=True),
        default=det.DEFAULT_DETECTOR_MAX_SIDE,
        help="yunet: downscale images for detection so their longer side is at most this "
        "(%(default)s px)",
    )
    p.add_argument("--score-threshold", type=number_in(0.0, 1.0),
                   default=det.DEFAULT_SCORE_THRESHOLD, help="minimum detector score (%(default)s)")
    p.add_argument("--max-faces", type=number_in(1, 10_000, integer=True),
                   default=det.DEFAULT_MAX_FACES, help="most faces per image (%(default)s)")
    p.add_argument("--min-face-size", type=number_in(0.0, 1e5),
                   default=det.DEFAULT_MIN_FACE_SIZE,
                   help="smallest face box side in pixels (%(default)s)")
    p.add_argument("--allow-legacy-weights", action="store_true",
                   help="load a checkpoint that has no content digest (written by an older "
                   "version; damage to it cannot be detected)")
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
            try:
                found = list_images(path)
            except OSError as exc:  # unreadable folder: the other inputs still run
                warn(f"{raw}: cannot list the folder ({exc.strerror or exc}); skipped")
                missing += 1
                continue
            if not found:
                warn(f"{raw}: folder contains no images")
            files.extend(found)
        elif path.exists():
            files.append(path)
        else:
            warn(f"{raw}: no such file or folder; skipped")
            missing += 1
    return files, missing


#: Largest --boxes file read (about two million rows).
MAX_BOXES_BYTES = 64 << 20
#: Largest |coordinate| accepted in --boxes (pixels).
MAX_BOX_COORD = 1e7


class BoxTable:
    """Face boxes from a ``file,x1,y1,x2,y2`` CSV, looked up by image path.

    ``bad`` maps a file name to the first problem of its rows: its image is skipped.
    """

    def __init__(self, rows: dict[str, list[tuple[float, ...]]],
                 bad: dict[str, str] | None = None) -> None:
        self.rows = rows
        self.bad = dict(bad or {})
        self.used: set[str] = set()
        names = set(rows) | set(self.bad)
        self._by_norm = {os.path.normpath(k): k for k in names}
        self._by_abs = {os.path.abspath(k): k for k in names}
        by_base: dict[str, set[str]] = defaultdict(set)
        for k in names:
            by_base[os.path.basename(k)].add(k)
        self._by_base = by_base

    @classmethod
    def read(cls, path: str) -> BoxTable:
        """Parse the CSV; ``ValueError`` for a missing header, bad rows go to ``bad``."""
        p = Path(path)
        if not p.is_file():
            why = "not a regular file" if p.exists() else "no such file"
            raise ValueError(f"cannot read --boxes file {path}: {why}")
        if p.stat().st_size > MAX_BOXES_BYTES:
            raise ValueError(f"cannot read --boxes file {path}: larger than "
                             f"{MAX_BOXES_BYTES >> 20} MiB")
        rows: dict[str, list[tuple[float, ...]]] = defaultdict(list)
        bad: dict[str, str] = {}
        with open(p, newline="", encoding="utf-8-sig", errors="replace") as f:
            reader = csv.DictReader(f)
            try:
                header = [c.strip() for c in (reader.fieldnames or [])]
            except csv.Error as exc:
                raise ValueError(f"{path}: not a CSV file ({exc})") from None
            missing = [c for c in BOXES_COLUMNS if c not in header]
            if missing:
                raise ValueError(
                    f"{path}: missing column(s) {', '.join(missing)} "
                    f"(need a header with {','.join(BOXES_COLUMNS)})"
                )
            reader.fieldnames = header
            try:
                for row in reader:
                    name = (row.get("file") or "").strip()
                    problem = _row_problem(row)
                    if not name:
                        warn(f"{path}:{reader.line_num}: empty file name; row ignored")
                    elif problem is not None:
                        bad.setdefault(name, f"{path}:{reader.line_num}: {problem}")
                    else:
                        rows[name].append(tuple(float(row[c]) for c in BOXES_COLUMNS[1:]))
            except csv.Error as exc:
                raise ValueError(f"{path}:{reader.line_num}: {exc}") from None
        return cls(dict(rows), bad)

    def lookup(self, image: Path) -> tuple[list[tuple[float, ...]] | None, str | None]:
        """``(boxes, problem)`` for ``image``: boxes, or why the image has none usable."""
        s = str(image)
        names = set(self.rows) | set(self.bad)
        key = (
            s
            if s in names
            else self._by_norm.get(os.path.normpath(s)) or self._by_abs.get(os.path.abspath(s))
        )
        if key is None:
            cands = self._by_base.get(image.name, set())
            if len(cands) > 1:
                return None, f"base name matches several --boxes entries ({sorted(cands)})"
            key = next(iter(cands), None)
        if key is None:
            return None, None
        self.used.add(key)
        if key in self.bad:
            return None, self.bad[key]
        return self.rows[key], None


def _row_problem(row: dict[str, str | None]) -> str | None:
    """Why a ``--boxes`` row is unusable, or None."""
    try:
        x1, y1, x2, y2 = (float(row[c] or "") for c in BOXES_COLUMNS[1:])
    except (TypeError, ValueError):
        return "bad box coordinates (need four numbers)"
    if not all(math.isfinite(v) for v in (x1, y1, x2, y2)):
        return "box coordinates must be finite"
    if max(abs(x1), abs(y1), abs(x2), abs(y2)) > MAX_BOX_COORD:
        return f"box coordinates beyond {MAX_BOX_COORD:g} pixels"
    if x2 <= x1 or y2 <= y1:
        return "box needs x2 > x1 and y2 > y1"
    return None


def _annotated_names(files: list[Path]) -> list[str]:
    """The annotated file name of each image (``name_<k>.ext`` when names repeat)."""
    taken: set[str] = set()
    names = []
    for image in files:
        name, k = image.name, 1
        while name in taken:
            name = f"{image.stem}_{k}{image.suffix}"
            k += 1
        taken.add(name)
        names.append(name)
    return names


def _write_rows(writer: SafeWriter, file: str, poses: Sequence[FacePrediction]) -> None:
    for i, p in enumerate(poses):
        x1, y1, x2, y2 = (float(v) for v in p.box)
        writer.writerow(
            [file, i, f"{x1:.1f}", f"{y1:.1f}", f"{x2:.1f}", f"{y2:.1f}", f"{p.score:.4f}"]
            + [f"{v:.3f}" for v in (*p.angles, *p.stds)]
        )


@dataclass
class _Outputs:
    """Where this run writes: the CSV and the annotation folder (checked)."""

    csv: Path
    annotate: OwnedFolder | None = None
    names: list[str] = field(default_factory=list)


def _check_poses_csv(path: Path) -> None:
    """An existing ``--out`` file is replaced only if it is a poses CSV (or empty)."""
    if not path.is_file() or path.stat().st_size == 0:
        return
    with open(path, "rb") as f:
        first = f.readline(4096).decode("utf-8-sig", errors="replace").strip()
    if first != ",".join(OUTPUT_COLUMNS):
        raise OutputError(f"--out {path} exists and is not a poses CSV of ldl-pose predict "
                          "(its first line differs): it is left alone; remove it or choose "
                          "another name")


def _plan_outputs(args: argparse.Namespace, files: list[Path]) -> _Outputs:
    """Check every output path against the inputs and the file system (model not loaded).

    Raises :class:`OutputError`.
    """
    inputs = [*files, *(Path(p) for p in (args.boxes, args.weights, args.detector_model)
                        if p and Path(p).exists())]
    out = check_file_target(args.out, "--out")
    check_distinct(out, inputs, "--out")
    _check_poses_csv(out)
    plan = _Outputs(out)
    if args.annotate:
        folder = Path(args.annotate)
        for f in files:
            if folder.exists() and same_file(folder, f.parent if str(f.parent) else "."):
                raise OutputError(f"--annotate {folder} is the folder of the input {f}: the "
                                  "annotated copies would replace the images; choose another "
                                  "folder")
        plan.names = _annotated_names(files)
        check_distinct(out, [folder / n for n in plan.names if (folder / n).exists()],
                       "--out")
        if any(same_file(out, folder / n) for n in plan.names):
            raise OutputError(f"--out {out} is also an annotated image of --annotate")
        owned = OwnedFolder(folder, "ldl-pose predict --annotate", "--annotate")
        owned.prepare(plan.names)
        plan.annotate = owned
    return plan


def run_predict(args: argparse.Namespace) -> int:
    """Run ``ldl-pose predict``; returns the exit status."""
    allow_legacy_weights(args.allow_legacy_weights)
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
    try:
        plan = _plan_outputs(args, files)
    except OutputError as exc:
        return error(str(exc))
    except OSError as exc:
        return error(f"output: {describe_os_error(exc)}")

    from ldl_pose_ros.core.estimator import HeadPoseEstimator  # noqa: F811 - at run time

    try:
        estimator = HeadPoseEstimator(
            weights=args.weights,
            device=args.device,
            backend=args.backend,
            mirror_average=args.mirror_average,
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
    try:
        with estimator:
            counts = _predict_all(args, files, table, plan, estimator)
    except OutputError as exc:
        return error(str(exc))
    except OSError as exc:  # a full disk, a quota, a folder made read-only meanwhile
        where = exc.filename or plan.csv
        return error(f"cannot write {where}: {describe_os_error(exc)}; the previous "
                     f"{plan.csv.name} (if any) is unchanged")
    processed, faces, refused = counts
    _summary(sys.stderr, processed, len(files) + missing, faces, plan.csv)
    if refused:
        warn(f"{refused} face(s) left out: the network's output was not a finite, "
             "normalised distribution (damaged or unsuitable model?)")
    if table is not None:
        unused = sorted((set(table.rows) | set(table.bad)) - table.used)
        if unused:
            warn(f"{len(unused)} file(s) in {args.boxes} matched no image, e.g. {unused[0]}")
    return EXIT_OK if processed else EXIT_NOTHING_PROCESSED


def _predict_all(args: argparse.Namespace, files: list[Path], table: BoxTable | None,
                 plan: _Outputs, estimator: HeadPoseEstimator) -> tuple[int, int, int]:
    """Every image into the CSV (and the annotation folder); returns the counts."""
    import cv2

    from ldl_pose_ros.core.annotate import draw_poses
    from ldl_pose_ros.core.imaging import ImageError, load_image

    processed = faces = refused = 0
    plan.csv.parent.mkdir(parents=True, exist_ok=True)
    with atomic_text(plan.csv) as f:
        writer = safe_writer(f)
        writer.writerow(OUTPUT_COLUMNS)
        for k, path in enumerate(files):
            boxes = None
            if table is not None:
                boxes, problem = table.lookup(path)
                if problem is not None:
                    warn(f"{path}: --boxes {problem}; image skipped")
                    continue
                if boxes is None:
                    warn(f"{path}: no boxes in {args.boxes}; no faces written")
                    boxes = []
            try:
                image = load_image(path)
                poses, timing = estimator.estimate_timed(image, "bgr", boxes=boxes)
            except ImageError as exc:
                warn(f"{exc}; skipped")
                continue
            except ValueError as exc:  # boxes that do not fit this image
                warn(f"{path}: --boxes {exc}; image skipped")
                continue
            if timing.refused:
                refused += timing.refused
                warn(f"{path}: {timing.refused} face(s) left out: the network's output was "
                     "not a finite, normalised distribution")
            _write_rows(writer, str(path), poses)
            processed += 1
            faces += len(poses)
            if plan.annotate is not None:
                try:
                    ok, buf = cv2.imencode(path.suffix or ".png", draw_poses(image, poses))
                except cv2.error:
                    ok = False
                if not ok:
                    warn(f"cannot encode the annotated copy of {path}")
                    continue
                tmp = plan.annotate.temp_path(plan.names[k])
                try:
                    tmp.write_bytes(buf.tobytes())
                except OSError:
                    plan.annotate.discard(tmp)
                    raise
                plan.annotate.commit(tmp, plan.names[k])
    if plan.annotate is not None:
        plan.annotate.remove_stale()
    return processed, faces, refused


def _summary(stream: TextIO, processed: int, total: int, faces: int, out: Path) -> None:
    skipped = total - processed
    extra = f", {skipped} skipped" if skipped else ""
    print(f"ldl-pose: {processed} image(s), {faces} face(s) -> {out}{extra}", file=stream)
