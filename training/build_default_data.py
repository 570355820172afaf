# Copyright 2026 The ldl_pose_ros Authors
# SPDX-License-Identifier: Apache-2.0
r"""Build the default model's training data in one command.

Writes, under ``--out`` (default ``runs/data``, git-ignored):

- ``pool.csv``: the face pool's fused teacher labels (``shared/data/faces/
  teacher_labels.csv``), spread-filtered and weighted (:mod:`training.pseudo_label`);
  files relative to ``shared/data/faces``.
- ``synth/``: large-pose images synthesised from near-frontal pool faces
  (:mod:`training.synthesize`), ``synth/labels.csv`` relative to ``synth/``.
- ``pointing04_train.csv``: Pointing'04 persons 01-09 (yaw = pan, pitch = tilt,
  roll empty = unknown), files relative to ``shared/data/pointing04``.  Persons
  10-12 are left for evaluation.
- ``manifest.json``: sources, counts, filters, seeds, timings, the FSA-Net check
  of the synthetic labels and the licence terms.

Every CSV is in the folder+CSV format ``file,x1,y1,x2,y2,yaw,pitch,roll,weight``
(``training.datasets.csvfolder``); the manifest gives each one's image root.

Usage::

    python -m training.build_default_data --shared ../shared --out runs/data \
        --synth-count 12000 --seed 0

The data are for research use only (see ``manifest.json`` ``licence``); never
commit them.
"""

from __future__ import annotations

import argparse
import json
import platform
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from training.pseudo_label import (
    NON_FACES,
    POOL_TEACHERS,
    LabelRow,
    convert_teacher_labels,
    detect_faces,
    read_pointing04,
    write_labels_csv,
)

REPO_ROOT = Path(__file__).resolve().parents[1]
TRAIN_PERSONS = tuple(range(1, 10))
EVAL_PERSONS = (10, 11, 12)
#: Pointing'04's annotated boxes are tighter than a detector's (about 0.7 of
#: YuNet's side); used only when YuNet finds no face.
P04_BOX_SCALE = 1.4

LICENCE = {
    "summary": "research use only; do not redistribute the images; weights trained on them "
    "inherit these terms",
    "faces_pool": "LFW (research, no explicit licence), UTKFace (non-commercial research), "
    "web7876 / CUHK facial points (research), MTFL-AFLW (research; AFLW under a "
    "non-commercial research agreement)",
    "teacher_labels": "made with teachers trained on 300W-LP (research use): FSA-Net (MIT), "
    "3DDFA_V2 (MIT), Lightweight-HPE (MIT); 300W-LP terms apply to the labels",
    "synthetic": "derived from the faces pool (same terms); geometry from MediaPipe "
    "FaceMesh and its canonical mesh (Apache-2.0)",
    "pointing04": "Pointing'04 (INRIA, any purpose with citation): Gourier, Hall, Crowley, "
    "Estimating Face Orientation from Robust Detection of Salient Facial Features, "
    "ICPR Workshop on Visual Observation of Deictic Gestures, 2004",
}


def _hist(yaws: np.ndarray) -> dict[str, int]:
    edges = [-90, -75, -60, -45, -30, -15, 0, 15, 30, 45, 60, 75, 90.001]
    h, _ = np.histogram(np.clip(yaws, -90, 90), edges)
    keys = [f"[{edges[i]:.0f},{edges[i + 1]:.0f})" for i in range(len(h))]
    keys[-1] = "[75,90]"
    return dict(zip(keys, (int(v) for v in h), strict=True))


def _git_commit() -> str:
    try:
        out = subprocess.run(
            ["git", "-C", str(REPO_ROOT), "rev-parse", "HEAD"],
            capture_output=True,
            text=True,
            check=False,
        )
        return out.stdout.strip()
    except OSError:
        return ""


def build_pool(shared: Path, out: Path, args: argparse.Namespace) -> dict:
    """Step (a): spread-filtered, weighted pool labels."""
    src = shared / "data" / "faces" / "teacher_labels.csv"
    weights = parse_teacher_weights(args.teacher_weights)
    rows, st = convert_teacher_labels(
        src, args.max_spread, args.spread_per_deg, args.tau, min_teachers=2,
        teacher_weights=weights,
    )
    write_labels_csv(rows, out / "pool.csv")
    lm_rows = []
    if args.landmarks:
        lms = np.load(args.landmarks)
        lm_box = {str(f): b for f, b in zip(lms["files"], lms["boxes"], strict=True)
                  if np.all(np.isfinite(b))}
        lm_rows = [LabelRow(r.file, lm_box[r.file], r.angles, r.weight)
                   for r in rows if r.file in lm_box]
        write_labels_csv(lm_rows, out / "pool_lmbox.csv")
    yaws = np.array([r.angles[0] for r in rows])
    return {
        "csv": "pool.csv",
        "images": str(shared / "data" / "faces"),
        "images_in_shared": "data/faces",
        "from": "data/faces/teacher_labels.csv, "
        + ("per-angle weighted mean of the teacher columns "
           f"{weights} (outliers > 15 deg from the median left out)" if weights else
           "fused median of FSA-Net, 3DDFA_V2, Lightweight-HPE"),
        "landmark_boxes": {"csv": "pool_lmbox.csv", "rows": len(lm_rows),
                           "from": str(args.landmarks)} if args.landmarks else None,
        "filters": {
            "dropped_non_faces": list(NON_FACES),
            "min_teachers": 2,
            "max_spread_deg": args.max_spread,
            "spread_per_deg_abs_yaw": args.spread_per_deg,
            "rule": "keep spread <= max_spread + spread_per_deg * |yaw|",
        },
        "weight": f"exp(-spread / {args.tau})",
        "counts": st.__dict__,
        "weight_mean": round(float(np.mean([r.weight for r in rows])), 4),
        "yaw_histogram": _hist(yaws),
    }


def build_synth(shared: Path, out: Path, args: argparse.Namespace) -> dict:
    """Step (b): large-pose synthesis from near-frontal pool faces."""
    from training.pseudo_label import read_labels_csv
    from training.synthesize import (
        DEFAULT_YAW_BUCKETS,
        contact_sheet,
        read_pool,
        synthesize_dataset,
        verify_with_teacher,
    )

    pool = read_pool(out / "pool.csv")
    landmarks = None
    if args.landmarks:
        lms = np.load(args.landmarks)
        landmarks = dict(zip((str(f) for f in lms["files"]), lms["landmarks"], strict=True))
    detector = None
    yunet = shared / "models" / "detectors" / "yunet_2023mar.onnx"
    if yunet.is_file():
        from ldl_pose_ros.core.detection import create_detector

        detector = create_detector("yunet", model_path=yunet)
    mesh = shared / "models" / "face_mesh" / "canonical_face_model_landmark_order.obj"
    plan = {
        "max_src_yaw": 35.0,
        "max_src_pitch": 20.0,
        "min_weight": args.synth_min_weight,
        "max_delta_yaw": 75.0,
        "min_delta_yaw": 10.0,
        "max_pitch_delta": 20.0,
        "max_pitch": 40.0,
        "max_uses": args.synth_max_uses,
    }
    st = synthesize_dataset(
        pool,
        shared / "data" / "faces",
        out / "synth",
        args.synth_count,
        mesh,
        seed=args.seed,
        weight=args.synth_weight,
        detector=detector,
        landmarks=landmarks,
        **plan,
    )
    info: dict = {
        "csv": "synth/labels.csv",
        "images": str(out / "synth"),
        "meta": "synth/meta.csv",
        "method": "MediaPipe FaceMesh 468 landmarks + canonical mesh topology, head band to "
        "an ellipsoidal-head silhouette, rigid rotation about the head centre, orthographic "
        "projection, back-face culling, painter's algorithm; label = R_delta @ R_orig",
        "plan": plan,
        "seed": args.seed,
        "weight": f"{args.synth_weight} x source weight",
        "box": "YuNet re-detection (IoU >= 0.3 with the geometric box), else geometric"
        if detector is not None
        else "geometric",
        "counts": st.__dict__,
        "ms_per_image": round(1e3 * st.seconds / max(st.written, 1), 2),
    }
    info["target_yaw_buckets"] = [list(b) for b in DEFAULT_YAW_BUCKETS]
    labels = read_labels_csv(out / "synth" / "labels.csv")
    info["yaw_histogram"] = _hist(np.array([r.angles[0] for r in labels]))
    fs_dir = shared / "models" / "teachers"
    if args.verify and list(fs_dir.glob("fsanet-*.onnx")):
        from training.teachers import FSANetTeacher

        info["fsanet_check"] = verify_with_teacher(
            out / "synth", FSANetTeacher.from_dir(fs_dir), args.verify, args.seed
        )
    if args.contact_sheet:
        contact_sheet(out / "synth", args.contact_sheet, seed=args.seed)
        info["contact_sheet"] = str(args.contact_sheet)
    return info


def build_pointing04(shared: Path, out: Path, args: argparse.Namespace) -> dict:
    """Step (c): Pointing'04 persons 01-09 with YuNet boxes; roll unknown."""
    from ldl_pose_ros.core.imaging import load_image

    p04 = shared / "data" / "pointing04"
    rows_in = read_pointing04(p04, TRAIN_PERSONS)
    detector = None
    yunet = shared / "models" / "detectors" / "yunet_2023mar.onnx"
    if yunet.is_file():
        from ldl_pose_ros.core.detection import create_detector

        detector = create_detector("yunet", model_path=yunet)
    rows: list[LabelRow] = []
    annotated: list[LabelRow] = []
    n_det = n_excl = 0
    for d in rows_in:
        if abs(d["tilt"]) > args.p04_max_tilt:
            n_excl += 1
            continue
        box = d["box"]
        annotated.append(LabelRow(d["file"], box, np.array([d["pan"], d["tilt"], np.nan]), 1.0))
        c, half = 0.5 * (box[:2] + box[2:]), 0.5 * (box[2:] - box[:2]) * P04_BOX_SCALE
        box = np.concatenate([c - half, c + half])
        if detector is not None:
            faces = detect_faces(detector, load_image(p04 / d["file"]))
            if faces:
                box, n_det = faces[0][0], n_det + 1
        rows.append(LabelRow(d["file"], box, np.array([d["pan"], d["tilt"], np.nan]), 1.0))
    write_labels_csv(rows, out / "pointing04_train.csv")
    # The annotated boxes are tight face boxes, close to a landmark box.
    write_labels_csv(annotated, out / "pointing04_annotated_train.csv")
    return {
        "csv": "pointing04_train.csv",
        "images": str(p04),
        "images_in_shared": "data/pointing04",
        "persons": list(TRAIN_PERSONS),
        "held_out_persons_for_evaluation": list(EVAL_PERSONS),
        "labels": "yaw = pan, pitch = tilt (nominal), roll empty = unknown (mask it)",
        "filters": {"max_abs_tilt": args.p04_max_tilt},
        "box": f"YuNet detection (largest face); else the annotated box x {P04_BOX_SCALE}; "
        "pointing04_annotated_train.csv: the same images with the annotated (tight) boxes",
        "counts": {
            "rows": len(rows_in),
            "excluded_tilt": n_excl,
            "kept": len(rows),
            "detector_boxes": n_det,
        },
        "weight": 1.0,
        "yaw_histogram": _hist(np.array([r.angles[0] for r in rows])),
    }


def parse_teacher_weights(text: str) -> dict[str, float] | None:
    """``'tddfa=0.35,lwhpe=0.25'`` -> ``{'tddfa': 0.35, 'lwhpe': 0.25}`` (empty -> None)."""
    if not text.strip():
        return None
    out = {}
    for part in text.split(","):
        name, _, value = part.partition("=")
        if name.strip() not in POOL_TEACHERS or not value:
            raise ValueError(f"bad teacher weight {part!r} (teachers: {POOL_TEACHERS})")
        out[name.strip()] = float(value)
    return out


def main(argv: Sequence[str] | None = None) -> int:
    """Command-line entry point."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--shared", default=str(REPO_ROOT.parent / "shared"), help="shared/ folder")
    ap.add_argument("--out", default=str(REPO_ROOT / "runs" / "data"))
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--max-spread", type=float, default=10.0)
    ap.add_argument("--spread-per-deg", type=float, default=0.1)
    ap.add_argument("--tau", type=float, default=15.0)
    ap.add_argument("--synth-count", type=int, default=12000)
    ap.add_argument("--synth-weight", type=float, default=0.7)
    ap.add_argument(
        "--synth-min-weight",
        type=float,
        default=0.67,
        help="minimum source weight (0.67 = spread <= 6 deg)",
    )
    ap.add_argument("--synth-max-uses", type=int, default=1,
                    help="how many synthetic images one pool face may give")
    ap.add_argument("--teacher-weights", default="",
                    help="weighted fusion of the teacher columns, e.g. "
                    "'tddfa=0.35,mediapipe=0.3,lwhpe=0.25,fsanet=0.1' (default: the fused median)")
    ap.add_argument("--landmarks", default="",
                    help="pool FaceMesh landmarks (training.landmark_boxes output): adds "
                    "pool_lmbox.csv / synth/labels_lmbox.csv with landmark-extent boxes")
    ap.add_argument("--skip-synth", action="store_true")
    ap.add_argument("--verify", type=int, default=300, help="FSA-Net check on N synthetic images")
    ap.add_argument("--contact-sheet", default=str(REPO_ROOT / "runs" / "synth_contact_sheet.png"))
    ap.add_argument(
        "--p04-max-tilt",
        type=float,
        default=60.0,
        help="drop Pointing'04 images with |tilt| above this (the +-90 views)",
    )
    args = ap.parse_args(argv)

    shared = Path(args.shared).resolve()
    out = Path(args.out).resolve()
    out.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    manifest: dict = {
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "command": " ".join([sys.executable, "-m", "training.build_default_data", *sys.argv[1:]]),
        "git_commit": _git_commit(),
        "python": platform.python_version(),
        "shared": str(shared),
        "convention": "300W-LP Pose_Para degrees: yaw > 0 nose towards image-left, "
        "pitch > 0 face up, roll > 0 clockwise in the image",
        "format": "file,x1,y1,x2,y2,yaw,pitch,roll,weight (empty angle = unknown)",
        "licence": LICENCE,
        "sources": {},
        "timings_s": {},
    }
    t = time.perf_counter()
    manifest["sources"]["pool"] = build_pool(shared, out, args)
    manifest["timings_s"]["pool"] = round(time.perf_counter() - t, 1)
    print(f"pool: {manifest['sources']['pool']['counts']['kept']} rows", file=sys.stderr)
    t = time.perf_counter()
    manifest["sources"]["pointing04_train"] = build_pointing04(shared, out, args)
    manifest["timings_s"]["pointing04"] = round(time.perf_counter() - t, 1)
    print(
        f"pointing04: {manifest['sources']['pointing04_train']['counts']['kept']} rows",
        file=sys.stderr,
    )
    if not args.skip_synth:
        t = time.perf_counter()
        manifest["sources"]["synth"] = build_synth(shared, out, args)
        manifest["timings_s"]["synth"] = round(time.perf_counter() - t, 1)
        print(f"synth: {manifest['sources']['synth']['counts']['written']} images", file=sys.stderr)
    manifest["timings_s"]["total"] = round(time.perf_counter() - t0, 1)
    manifest["totals"] = {
        k: v["counts"].get("kept", v["counts"].get("written"))
        for k, v in manifest["sources"].items()
    }
    (out / "manifest.json").write_text(json.dumps(manifest, indent=1, default=str) + "\n")
    print(json.dumps(manifest["totals"]))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
