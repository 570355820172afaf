# Copyright 2026 The ldl_pose_ros Authors
# SPDX-License-Identifier: Apache-2.0
r"""Pseudo-label a folder of faces with several head-pose teachers.

Pipeline: detect faces (``ldl_pose_ros.core.detection``), run each teacher
(:mod:`training.teachers`) on each face, fuse the teachers' angles robustly, keep
their disagreement as a per-sample confidence and drop faces where they disagree
too much.  The output is the folder+CSV training format::

    file,x1,y1,x2,y2,yaw,pitch,roll,weight

``file`` relative to the image folder, box in pixels, angles in degrees in the
package convention (300W-LP ``Pose_Para``: yaw > 0 nose towards image-left,
pitch > 0 face up, roll > 0 clockwise); an empty angle means "unknown" (masked).

Fusion (:func:`fuse_angles`): per angle, the median over the teachers that gave
an output (with two teachers, their mean); or ``agreement``: a weighted mean with
weights ``exp(-d^2 / 2 sigma^2)``, ``d`` = a teacher's largest distance from the
median.  ``spread`` = max over the angles of (max - min) over the teachers, the
same definition as ``teacher_labels.csv``.  A face is kept when
``spread <= max_spread + spread_per_deg * |yaw|`` (teachers disagree more at large
yaw, where every teacher's error grows), and weighted ``exp(-spread / tau)``.

Modes::

    # label a folder (users' own recordings)
    python -m training.pseudo_label --images DIR --out labels.csv \
        --teachers fsanet,mediapipe --fsanet-dir D --mediapipe-task F
    # convert the shared teacher_labels.csv of the face pool
    python -m training.pseudo_label --convert-teacher-labels teacher_labels.csv --out pool.csv
    # measure the fused labels against Pointing'04 (yaw = pan, pitch = tilt)
    python -m training.pseudo_label --validate-pointing04 shared/data/pointing04 \
        --fsanet-dir D --mediapipe-task F --report runs/p04_validation.json

Labels made with teachers trained on 300W-LP inherit its research-only terms.
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import os
import sys
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from ldl_pose_ros.core.imaging import IMAGE_EXTENSIONS, load_image

CSV_COLUMNS = ("file", "x1", "y1", "x2", "y2", "yaw", "pitch", "roll", "weight")
FUSION_METHODS = ("median", "mean", "agreement")
# Two UTKFace crops in the shared pool that are not faces (shared/data/README.md, section 5).
NON_FACES = (
    "utkface/1_1_4_20170109194502921.jpg",
    "utkface/37_0_1_20170117134417970.jpg",
)
POOL_TEACHERS = ("fsanet", "tddfa", "lwhpe", "mediapipe", "openvino")


# --------------------------------------------------------------------------- fusion


def angle_spread(preds: np.ndarray) -> float:
    """Max over the angles of (max - min) over teachers; NaN with fewer than 2 outputs.

    ``preds`` is ``(T, 3)`` with NaN rows for teachers without an output.
    """
    p = np.asarray(preds, np.float64).reshape(-1, 3)
    p = p[np.all(np.isfinite(p), axis=1)]
    if len(p) < 2:
        return float("nan")
    return float(np.max(p.max(axis=0) - p.min(axis=0)))


def fuse_angles(
    preds: np.ndarray, method: str = "median", sigma: float = 5.0
) -> tuple[np.ndarray, float, int]:
    """Fuse teacher angles ``(T, 3)`` (NaN rows = no output).

    Returns ``(angles (3,), spread, n_teachers)``; angles are NaN when no teacher
    gave an output.  ``median``: per-angle median (the mean for two teachers);
    ``mean``: per-angle mean; ``agreement``: mean weighted by
    ``exp(-d^2 / (2 sigma^2))`` with ``d`` each teacher's largest absolute
    difference from the per-angle median.
    """
    if method not in FUSION_METHODS:
        raise ValueError(f"unknown fusion method {method!r}; choose from {FUSION_METHODS}")
    p = np.asarray(preds, np.float64).reshape(-1, 3)
    p = p[np.all(np.isfinite(p), axis=1)]
    n = len(p)
    if n == 0:
        return np.full(3, np.nan), float("nan"), 0
    spread = angle_spread(p)
    if method == "mean" or n <= 2:
        return p.mean(axis=0), spread, n
    med = np.median(p, axis=0)
    if method == "median":
        return med, spread, n
    d = np.max(np.abs(p - med), axis=1)
    w = np.exp(-0.5 * (d / float(sigma)) ** 2)
    if w.sum() < 1e-12:
        return med, spread, n
    return (w[:, None] * p).sum(axis=0) / w.sum(), spread, n


def fuse_weighted(
    preds: dict[str, np.ndarray], weights: dict[str, float], outlier_deg: float = 15.0
) -> tuple[np.ndarray, float, int]:
    """Quality-weighted per-angle mean of named teachers' ``(3,)`` angles.

    Teachers without an output (NaN) are skipped; per angle, a teacher more than
    ``outlier_deg`` from the median of the others' values is left out.  Returns
    ``(angles, spread, n_teachers)`` with the spread of :func:`angle_spread` over
    the weighted teachers.
    """
    names = [t for t in weights if t in preds and np.all(np.isfinite(preds[t]))]
    if not names:
        return np.full(3, np.nan), float("nan"), 0
    p = np.array([preds[t] for t in names], np.float64)
    w = np.array([float(weights[t]) for t in names], np.float64)
    med = np.median(p, axis=0)
    keep = np.abs(p - med) <= float(outlier_deg)
    wk = w[:, None] * keep
    out = np.where(wk.sum(0) > 0, (wk * p).sum(0) / np.maximum(wk.sum(0), 1e-12), med)
    return out, angle_spread(p), len(names)


def confidence_weight(
    spread: float | np.ndarray, tau: float = 15.0, single: float = 0.5
) -> np.ndarray:
    """Per-sample weight ``exp(-spread / tau)``; ``single`` where the spread is NaN (1 teacher)."""
    s = np.asarray(spread, np.float64)
    w = np.exp(-np.clip(s, 0.0, None) / float(tau))
    return np.where(np.isfinite(s), w, float(single))


def keep_by_spread(
    spread: float | np.ndarray,
    yaw: float | np.ndarray,
    max_spread: float = 10.0,
    spread_per_deg: float = 0.0,
) -> np.ndarray:
    """Return True where ``spread <= max_spread + spread_per_deg * |yaw|`` (NaN passes)."""
    s = np.asarray(spread, np.float64)
    limit = float(max_spread) + float(spread_per_deg) * np.abs(np.asarray(yaw, np.float64))
    return ~(s > limit)


# --------------------------------------------------------------------------- CSV format


@dataclass
class LabelRow:
    """One row of the folder+CSV format (angles NaN = unknown, written empty)."""

    file: str
    box: np.ndarray
    angles: np.ndarray
    weight: float = 1.0

    def cells(self) -> list[str]:
        """Return the CSV cells in :data:`CSV_COLUMNS` order."""

        def num(v: float, nd: int) -> str:
            return "" if not math.isfinite(float(v)) else f"{float(v):.{nd}f}"

        b = np.asarray(self.box, np.float64).reshape(4)
        a = np.asarray(self.angles, np.float64).reshape(3)
        return [self.file, *(num(v, 2) for v in b), *(num(v, 2) for v in a), num(self.weight, 4)]


def write_labels_csv(rows: Iterable[LabelRow], path: str | os.PathLike[str]) -> int:
    """Write rows in the folder+CSV format; returns the number of rows."""
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    n = 0
    with out.open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(CSV_COLUMNS)
        for r in rows:
            w.writerow(r.cells())
            n += 1
    return n


def read_labels_csv(path: str | os.PathLike[str]) -> list[LabelRow]:
    """Read the folder+CSV format (``weight`` optional, default 1; empty angle = NaN)."""

    def f(v: str | None) -> float:
        return float(v) if v not in (None, "") else float("nan")

    rows = []
    with Path(path).open(newline="") as fh:
        for d in csv.DictReader(fh):
            rows.append(
                LabelRow(
                    file=d["file"],
                    box=np.array([f(d[k]) for k in ("x1", "y1", "x2", "y2")]),
                    angles=np.array([f(d[k]) for k in ("yaw", "pitch", "roll")]),
                    weight=f(d.get("weight")) if d.get("weight") not in (None, "") else 1.0,
                )
            )
    return rows


# --------------------------------------------------------------------------- detection


def detect_faces(
    detector: object,
    image_bgr: np.ndarray,
    min_side: int = 320,
    border: float = 0.25,
    all_faces: bool = False,
) -> list[tuple[np.ndarray, float]]:
    """Face boxes ``(box, score)`` in pixels of ``image_bgr``.

    Small images are upscaled so their short side is at least ``min_side`` (tight
    face crops are otherwise missed); if nothing is found the search is repeated
    once with a black border of ``border`` x the longer side.  Without
    ``all_faces`` only the largest face (the best-scored among faces of similar
    size) is returned.
    """
    h, w = image_bgr.shape[:2]
    for pad_frac in (0.0, border):
        pad = int(round(pad_frac * max(h, w)))
        img = image_bgr
        if pad:
            img = cv2.copyMakeBorder(img, pad, pad, pad, pad, cv2.BORDER_CONSTANT, value=0)
        scale = max(1.0, min_side / min(img.shape[:2]))
        if scale > 1.0:
            img = cv2.resize(img, None, fx=scale, fy=scale, interpolation=cv2.INTER_CUBIC)
        dets = detector.detect(cv2.cvtColor(img, cv2.COLOR_BGR2RGB))  # type: ignore[attr-defined]
        if dets:
            out = [(np.asarray(d.box, np.float64) / scale - pad, float(d.score)) for d in dets]
            if all_faces:
                return out
            areas = np.array([(b[2] - b[0]) * (b[3] - b[1]) for b, _ in out])
            keys = np.sqrt(areas) * np.array([s for _, s in out])
            return [out[int(np.argmax(keys))]]
        if pad_frac == border or border <= 0:
            break
    return []


def list_image_files(folder: str | os.PathLike[str], recursive: bool = True) -> list[Path]:
    """Image files under ``folder`` (by extension), sorted."""
    root = Path(folder)
    it = root.rglob("*") if recursive else root.iterdir()
    return sorted(p for p in it if p.is_file() and p.suffix.lower() in IMAGE_EXTENSIONS)


# --------------------------------------------------------------------------- labelling


@dataclass
class FaceLabel:
    """A labelled face with the per-teacher outputs."""

    box: np.ndarray
    score: float
    angles: np.ndarray
    spread: float
    n_teachers: int
    teacher_angles: dict[str, np.ndarray] = field(default_factory=dict)


class PseudoLabeler:
    """Detector + teachers + fusion for one image at a time."""

    def __init__(
        self,
        teachers: Sequence[object],
        detector: object | None = None,
        fusion: str = "median",
        sigma: float = 5.0,
        all_faces: bool = False,
    ) -> None:
        if not teachers:
            raise ValueError("at least one teacher is needed")
        if fusion not in FUSION_METHODS:
            raise ValueError(f"unknown fusion method {fusion!r}")
        self.teachers = list(teachers)
        self.detector = detector
        self.fusion = fusion
        self.sigma = float(sigma)
        self.all_faces = bool(all_faces)

    def label_box(self, image_bgr: np.ndarray, box: np.ndarray, score: float = 1.0) -> FaceLabel:
        """Run every teacher on one face box and fuse."""
        outs: dict[str, np.ndarray] = {}
        for t in self.teachers:
            o = t.predict(image_bgr, box)  # type: ignore[attr-defined]
            outs[t.name] = np.full(3, np.nan) if o is None else np.asarray(o, np.float64)  # type: ignore[attr-defined]
        fused, spread, n = fuse_angles(np.stack(list(outs.values())), self.fusion, self.sigma)
        return FaceLabel(np.asarray(box, np.float64), score, fused, spread, n, outs)

    def label_image(self, image_bgr: np.ndarray) -> list[FaceLabel]:
        """Detect the face(s) in an image and label them."""
        if self.detector is None:
            raise RuntimeError("no detector given")
        faces = detect_faces(self.detector, image_bgr, all_faces=self.all_faces)
        return [self.label_box(image_bgr, b, s) for b, s in faces]


@dataclass
class LabelStats:
    """Counts of a labelling run."""

    images: int = 0
    unreadable: int = 0
    no_face: int = 0
    faces: int = 0
    no_teacher: int = 0
    dropped_spread: int = 0
    kept: int = 0
    seconds: float = 0.0


def label_folder(
    images_dir: str | os.PathLike[str],
    labeler: PseudoLabeler,
    max_spread: float = 10.0,
    spread_per_deg: float = 0.0,
    tau: float = 15.0,
    limit: int | None = None,
    raw_rows: list[dict] | None = None,
    progress: bool = True,
) -> tuple[list[LabelRow], LabelStats]:
    """Label every image under ``images_dir``; returns the kept rows and counts.

    ``raw_rows``, when given, receives one dict per face with every teacher's
    angles, the fused angles, the spread and whether the face was kept.
    """
    root = Path(images_dir)
    files = list_image_files(root)[: limit if limit else None]
    stats = LabelStats(images=len(files))
    rows: list[LabelRow] = []
    t0 = time.perf_counter()
    for i, path in enumerate(files):
        rel = path.relative_to(root).as_posix()
        try:
            img = load_image(path)
        except (ValueError, OSError):
            stats.unreadable += 1
            continue
        faces = labeler.label_image(img)
        if not faces:
            stats.no_face += 1
        for f in faces:
            stats.faces += 1
            keep = f.n_teachers > 0 and bool(
                keep_by_spread(f.spread, f.angles[0], max_spread, spread_per_deg)
            )
            if f.n_teachers == 0:
                stats.no_teacher += 1
            elif not keep:
                stats.dropped_spread += 1
            else:
                stats.kept += 1
                w = float(confidence_weight(f.spread, tau))
                rows.append(LabelRow(rel, f.box, f.angles, w))
            if raw_rows is not None:
                d = {"file": rel, "x1": f.box[0], "y1": f.box[1], "x2": f.box[2], "y2": f.box[3]}
                d["score"] = f.score
                for name, a in f.teacher_angles.items():
                    d.update(
                        {f"{name}_{k}": v for k, v in zip(("yaw", "pitch", "roll"), a, strict=True)}
                    )
                d.update(dict(zip(("yaw", "pitch", "roll"), f.angles, strict=True)))
                d.update(spread=f.spread, n_teachers=f.n_teachers, kept=int(keep))
                raw_rows.append(d)
        if progress and (i + 1) % 200 == 0:
            rate = (i + 1) / (time.perf_counter() - t0)
            print(
                f"  {i + 1}/{len(files)} images, {rate:.1f}/s, kept {stats.kept}", file=sys.stderr
            )
    stats.seconds = time.perf_counter() - t0
    return rows, stats


def write_dict_csv(rows: list[dict], path: str | os.PathLike[str]) -> None:
    """Write a list of dicts (union of keys, first-seen order) as CSV."""
    keys: list[str] = []
    for r in rows:
        keys += [k for k in r if k not in keys]
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    with Path(path).open("w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=keys)
        w.writeheader()
        for r in rows:
            w.writerow({k: (f"{v:.4f}" if isinstance(v, float) else v) for k, v in r.items()})


# --------------------------------------------------------------------------- teacher_labels.csv


@dataclass
class ConvertStats:
    """Counts of :func:`convert_teacher_labels`."""

    rows: int = 0
    non_faces: int = 0
    too_few_teachers: int = 0
    dropped_spread: int = 0
    kept: int = 0
    by_source: dict[str, int] = field(default_factory=dict)


def _f(v: str | None) -> float:
    return float(v) if v not in (None, "") else float("nan")


def convert_teacher_labels(
    src_csv: str | os.PathLike[str],
    max_spread: float = 10.0,
    spread_per_deg: float = 0.0,
    tau: float = 15.0,
    min_teachers: int = 2,
    drop_files: Sequence[str] = NON_FACES,
    teacher_weights: dict[str, float] | None = None,
) -> tuple[list[LabelRow], ConvertStats]:
    """Turn the shared pool's ``teacher_labels.csv`` into folder+CSV rows.

    Uses its fused ``yaw, pitch, roll`` and ``box_x1..box_y2``; drops the listed
    non-faces, rows with fewer than ``min_teachers`` fused teachers and rows whose
    ``spread`` exceeds the (yaw-dependent) limit of :func:`keep_by_spread`; the
    weight is ``exp(-spread / tau)``.  ``file`` stays relative to ``data/faces/``.
    With ``teacher_weights`` (teacher name -> weight) the angles and the spread are
    recomputed from the per-teacher columns with :func:`fuse_weighted` instead.
    """
    stats = ConvertStats()
    rows: list[LabelRow] = []
    drop = set(drop_files)
    with Path(src_csv).open(newline="") as fh:
        for d in csv.DictReader(fh):
            stats.rows += 1
            if d["file"] in drop:
                stats.non_faces += 1
                continue
            n = int(_f(d.get("n_teachers")) if d.get("n_teachers") else 0)
            angles = np.array([_f(d[k]) for k in ("yaw", "pitch", "roll")])
            spread = _f(d.get("spread"))
            if teacher_weights:
                preds = {t: np.array([_f(d.get(f"{t}_{k}")) for k in ("yaw", "pitch", "roll")])
                         for t in teacher_weights}
                angles, spread, n = fuse_weighted(preds, teacher_weights)
            if n < min_teachers or not np.all(np.isfinite(angles)) or not math.isfinite(spread):
                stats.too_few_teachers += 1
                continue
            if not keep_by_spread(spread, angles[0], max_spread, spread_per_deg):
                stats.dropped_spread += 1
                continue
            box = np.array([_f(d[k]) for k in ("box_x1", "box_y1", "box_x2", "box_y2")])
            rows.append(LabelRow(d["file"], box, angles, float(confidence_weight(spread, tau))))
            src = d["file"].split("/", 1)[0]
            stats.by_source[src] = stats.by_source.get(src, 0) + 1
            stats.kept += 1
    return rows, stats


def teacher_labels_matrix(src_csv: str | os.PathLike[str]) -> dict[str, np.ndarray]:
    """Per-teacher ``(N, 3)`` angle arrays of ``teacher_labels.csv`` (NaN = no output)."""
    out: dict[str, list] = {t: [] for t in POOL_TEACHERS}
    with Path(src_csv).open(newline="") as fh:
        for d in csv.DictReader(fh):
            for t in POOL_TEACHERS:
                out[t].append([_f(d.get(f"{t}_{k}")) for k in ("yaw", "pitch", "roll")])
    return {t: np.asarray(v, np.float64) for t, v in out.items()}


# --------------------------------------------------------------------------- Pointing'04


def read_pointing04(
    p04_dir: str | os.PathLike[str], persons: Iterable[int] | None = None
) -> list[dict]:
    """Rows of Pointing'04 ``labels.csv`` (optionally only ``persons``) with parsed numbers."""
    keep = None if persons is None else {int(p) for p in persons}
    out = []
    with (Path(p04_dir) / "labels.csv").open(newline="") as fh:
        for d in csv.DictReader(fh):
            if keep is not None and int(d["person"]) not in keep:
                continue
            x0, y0, w, h = (float(d[k]) for k in ("box_x0", "box_y0", "box_w", "box_h"))
            out.append(
                {
                    "file": d["file"],
                    "person": int(d["person"]),
                    "pan": float(d["pan_deg"]),
                    "tilt": float(d["tilt_deg"]),
                    "box": np.array([x0, y0, x0 + w, y0 + h]),
                }
            )
    return out


def pose_agreement(pred_yaw_pitch: np.ndarray, pan: np.ndarray, tilt: np.ndarray) -> dict:
    """MAE and Pearson r of predicted yaw/pitch against Pointing'04 pan/tilt.

    Reported for all images and for the core set |pan| <= 60, |tilt| <= 30
    (nominal labels; see the shared data README).  NaN predictions are skipped.
    """
    p = np.asarray(pred_yaw_pitch, np.float64).reshape(-1, 2)
    gt = np.stack([np.asarray(pan, np.float64), np.asarray(tilt, np.float64)], 1)
    ok = np.all(np.isfinite(p), axis=1)
    core = (np.abs(gt[:, 0]) <= 60) & (np.abs(gt[:, 1]) <= 30)
    res = {}
    for name, m in (("all", ok), ("core", ok & core)):
        if m.sum() < 3:
            res[name] = {"n": int(m.sum())}
            continue
        err = np.abs(p[m] - gt[m])
        res[name] = {
            "n": int(m.sum()),
            "mae_yaw": round(float(err[:, 0].mean()), 3),
            "mae_pitch": round(float(err[:, 1].mean()), 3),
            "r_yaw": round(float(np.corrcoef(p[m, 0], gt[m, 0])[0, 1]), 4),
            "r_pitch": round(float(np.corrcoef(p[m, 1], gt[m, 1])[0, 1]), 4),
        }
    res["missing"] = int((~ok).sum())
    return res


def validate_pointing04(
    p04_dir: str | os.PathLike[str],
    labeler: PseudoLabeler,
    persons: Iterable[int] | None = None,
    limit: int | None = None,
    max_spread: float = 10.0,
    spread_per_deg: float = 0.0,
) -> dict:
    """Label Pointing'04 with ``labeler`` and measure the fused labels against pan/tilt.

    The detector box is used when the labeler has a detector and finds a face,
    otherwise the ``labels.csv`` box.  Reports the fused label and each teacher
    (all faces), and the fused label on the faces the spread filter keeps.
    """
    rows = read_pointing04(p04_dir, persons)[: limit if limit else None]
    fused, kept, teach = [], [], {t.name: [] for t in labeler.teachers}  # type: ignore[attr-defined]
    det_boxes = 0
    t0 = time.perf_counter()
    for d in rows:
        img = load_image(Path(p04_dir) / d["file"])
        box = d["box"]
        if labeler.detector is not None:
            faces = detect_faces(labeler.detector, img)
            if faces:
                box, det_boxes = faces[0][0], det_boxes + 1
        f = labeler.label_box(img, box)
        fused.append(f.angles[:2])
        kept.append(
            f.n_teachers > 0
            and bool(keep_by_spread(f.spread, f.angles[0], max_spread, spread_per_deg))
        )
        for name, a in f.teacher_angles.items():
            teach[name].append(a[:2])
    pan = np.array([d["pan"] for d in rows])
    tilt = np.array([d["tilt"] for d in rows])
    fused_a = np.asarray(fused)
    kept_a = np.asarray(kept, bool)
    report = {
        "images": len(rows),
        "detector_boxes": det_boxes,
        "fusion": labeler.fusion,
        "teachers": [t.name for t in labeler.teachers],  # type: ignore[attr-defined]
        "fused": pose_agreement(fused_a, pan, tilt),
        "fused_kept_by_spread": pose_agreement(fused_a[kept_a], pan[kept_a], tilt[kept_a]),
        "kept_fraction": round(float(kept_a.mean()), 4) if len(kept_a) else 0.0,
        "per_teacher": {k: pose_agreement(np.asarray(v), pan, tilt) for k, v in teach.items()},
        "seconds": round(time.perf_counter() - t0, 1),
    }
    return report


# --------------------------------------------------------------------------- CLI


def _parse_persons(text: str | None) -> list[int] | None:
    if not text:
        return None
    out: list[int] = []
    for part in text.split(","):
        if "-" in part:
            a, b = part.split("-")
            out += list(range(int(a), int(b) + 1))
        else:
            out.append(int(part))
    return out


def build_labeler(args: argparse.Namespace) -> PseudoLabeler:
    """Teachers and detector from the command-line arguments."""
    from training.teachers import create_teacher

    names = [n.strip() for n in args.teachers.split(",") if n.strip()]
    teachers = []
    for n in names:
        try:
            teachers.append(
                create_teacher(
                    n,
                    fsanet_dir=args.fsanet_dir,
                    mediapipe_task=args.mediapipe_task,
                    openvino_xml=args.openvino_xml,
                )
            )
        except ImportError as exc:
            print(f"skipping teacher {n}: {exc}", file=sys.stderr)
    detector = None
    if args.detector != "none":
        from ldl_pose_ros.core.detection import create_detector

        detector = create_detector(
            args.detector, model_path=args.detector_model, score_threshold=0.5
        )
    return PseudoLabeler(
        teachers, detector, fusion=args.fusion, sigma=args.sigma, all_faces=args.all_faces
    )


def main(argv: Sequence[str] | None = None) -> int:
    """Command-line entry point."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    mode = ap.add_mutually_exclusive_group(required=True)
    mode.add_argument("--images", help="folder of face images (searched recursively)")
    mode.add_argument(
        "--convert-teacher-labels", metavar="CSV", help="shared pool teacher_labels.csv"
    )
    mode.add_argument(
        "--validate-pointing04", metavar="DIR", help="Pointing'04 folder with labels.csv"
    )
    ap.add_argument("--out", help="output CSV (file,x1,y1,x2,y2,yaw,pitch,roll,weight)")
    ap.add_argument("--raw-out", help="optional CSV with every teacher's angles per face")
    ap.add_argument(
        "--teachers", default="fsanet,mediapipe", help="comma-separated: fsanet,mediapipe,openvino"
    )
    ap.add_argument("--fsanet-dir", help="folder holding fsanet-*.onnx")
    ap.add_argument("--mediapipe-task", help="face_landmarker.task file")
    ap.add_argument("--openvino-xml", help="head-pose-estimation-adas-0001.xml (needs openvino)")
    ap.add_argument(
        "--detector", default="mediapipe", choices=("mediapipe", "yunet", "haar", "none")
    )
    ap.add_argument("--detector-model", help="detector model file (YuNet ONNX)")
    ap.add_argument(
        "--all-faces", action="store_true", help="label every face, not just the largest"
    )
    ap.add_argument("--fusion", default="median", choices=FUSION_METHODS)
    ap.add_argument("--sigma", type=float, default=5.0, help="agreement fusion width (deg)")
    ap.add_argument(
        "--max-spread", type=float, default=10.0, help="drop faces above this spread (deg)"
    )
    ap.add_argument(
        "--spread-per-deg", type=float, default=0.0, help="extra allowed spread per deg |yaw|"
    )
    ap.add_argument("--tau", type=float, default=15.0, help="weight = exp(-spread / tau)")
    ap.add_argument("--limit", type=int, help="only the first N images")
    ap.add_argument("--persons", help="Pointing'04 persons, e.g. 1-12 or 10,11,12")
    ap.add_argument("--report", help="write the Pointing'04 report JSON here")
    args = ap.parse_args(argv)

    if args.convert_teacher_labels:
        if not args.out:
            ap.error("--out is required")
        rows, st = convert_teacher_labels(
            args.convert_teacher_labels, args.max_spread, args.spread_per_deg, args.tau
        )
        write_labels_csv(rows, args.out)
        print(json.dumps(st.__dict__, indent=1))
        return 0
    labeler = build_labeler(args)
    if args.validate_pointing04:
        rep = validate_pointing04(
            args.validate_pointing04,
            labeler,
            _parse_persons(args.persons),
            args.limit,
            args.max_spread,
            args.spread_per_deg,
        )
        text = json.dumps(rep, indent=1)
        print(text)
        if args.report:
            Path(args.report).parent.mkdir(parents=True, exist_ok=True)
            Path(args.report).write_text(text + "\n")
        return 0
    if not args.out:
        ap.error("--out is required")
    raw: list[dict] | None = [] if args.raw_out else None
    rows, st = label_folder(
        args.images, labeler, args.max_spread, args.spread_per_deg, args.tau, args.limit, raw
    )
    write_labels_csv(rows, args.out)
    if raw is not None and args.raw_out:
        write_dict_csv(raw, args.raw_out)
    print(json.dumps(st.__dict__, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
