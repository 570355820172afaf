# Copyright 2026 The ldl_pose_ros Authors
# SPDX-License-Identifier: Apache-2.0
r"""Compare a checkpoint with public head-pose models on the same face crops.

Every method sees the same face box per image: YuNet's best detection when a
YuNet model is given (the teachers' own pipeline in the shared data README),
else the dataset's box. Datasets:

- ``pointing04``: Pointing'04 ``labels.csv`` (yaw = pan, pitch = tilt; no roll),
  only the persons given (default 10-12, never used for training or selection).
  Pan and tilt are the azimuth and elevation of the marker the subject faced, which
  is the *head* Euler convention (``ldl_pose_ros.model.angles``), not the dataset
  convention the package outputs; the two differ by many degrees when pan and tilt
  are both large.  Every method is scored both ways: "direct" (outputs compared with
  pan/tilt as they are, the protocol of the earlier tables) and "head" (outputs
  converted to the head convention first, roll 0 where a method gives none);
- ``300wlp``: a folder of 300W-LP samples with ``labels.csv``
  (``file,mat,pitch_deg,yaw_deg,roll_deg,...``).

    python -m training.compare_teachers --weights ldl_pose_ros/weights/default.ckpt \
        --dataset pointing04 --root ../shared/data/pointing04 --persons 10,11,12 \
        --yunet ../shared/models/detectors/yunet_2023mar.onnx \
        --fsanet-dir ../shared/models/teachers --mediapipe-task face_landmarker.task \
        --out runs/compare_p04
"""

from __future__ import annotations

import argparse
import csv
import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

from ldl_pose_ros.core.evaluation import ANGLES, evaluate_predictions, markdown_table
from ldl_pose_ros.core.imaging import load_image


@dataclass
class Item:
    """One evaluation image with its label, label mask and fallback box."""

    path: Path
    angles: np.ndarray  # yaw, pitch, roll (deg)
    mask: np.ndarray  # 1 = labelled
    box: np.ndarray  # dataset box x1, y1, x2, y2


def read_pointing04(root: Path, persons: Sequence[int]) -> list[Item]:
    """Pointing'04 images of ``persons`` with their pan/tilt labels and boxes."""
    items = []
    with open(root / "labels.csv", newline="") as f:
        for r in csv.DictReader(f):
            if int(r["person"]) not in persons:
                continue
            cx, cy, w, h = (float(r[k]) for k in ("box_cx", "box_cy", "box_w", "box_h"))
            items.append(Item(root / r["file"],
                              np.array([float(r["pan_deg"]), float(r["tilt_deg"]), 0.0]),
                              np.array([1, 1, 0], dtype=bool),
                              np.array([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2])))
    return items


def read_300wlp(root: Path) -> list[Item]:
    """300W-LP samples with ``Pose_Para`` angles; box from the ``pt2d`` landmarks."""
    from scipy.io import loadmat

    items = []
    with open(root / "labels.csv", newline="") as f:
        for r in csv.DictReader(f):
            pts = loadmat(str(root / r["mat"]))["pt2d"]
            ok = (pts[0] > 0) & (pts[1] > 0)
            box = np.array([pts[0][ok].min(), pts[1][ok].min(), pts[0][ok].max(),
                            pts[1][ok].max()], dtype=np.float64)
            items.append(Item(root / r["file"],
                              np.array([float(r["yaw_deg"]), float(r["pitch_deg"]),
                                        float(r["roll_deg"])]),
                              np.ones(3, dtype=bool), box))
    return items


def detect_boxes(items: list[Item], yunet: str | None) -> tuple[list[np.ndarray], int]:
    """YuNet's best box per image (fallback: the dataset box); also the count detected."""
    if yunet is None:
        return [it.box for it in items], 0
    from ldl_pose_ros.core.detection import create_detector

    det = create_detector("yunet", model_path=yunet, score_threshold=0.5)
    boxes, found = [], 0
    for it in tqdm(items, desc="detect", leave=False):
        rgb = np.ascontiguousarray(load_image(it.path)[:, :, ::-1])
        dets = det.detect(rgb)
        if dets:
            boxes.append(np.asarray(dets[0].box, dtype=np.float64))
            found += 1
        else:
            boxes.append(it.box)
    return boxes, found


def run_model(weights: str | None, items: list[Item], boxes: list[np.ndarray],
              backend: str) -> tuple[np.ndarray, np.ndarray]:
    """Angles and stds of a checkpoint on the given boxes (the package's inference path)."""
    from ldl_pose_ros.core.estimator import HeadPoseEstimator

    est = HeadPoseEstimator(weights=weights, device="cpu", backend=backend, detector=None)
    pred, std = [], []
    for it, box in zip(tqdm(items, desc="model", leave=False), boxes, strict=True):
        face = est.estimate_boxes(load_image(it.path), box[None])[0]
        pred.append(face.angles)
        std.append(face.stds)
    return np.array(pred), np.array(std)


def run_teacher(teacher: Any, items: list[Item], boxes: list[np.ndarray]) -> np.ndarray:
    """A teacher's angles (NaN where it gave none)."""
    out = []
    for it, box in zip(tqdm(items, desc=teacher.name, leave=False), boxes, strict=True):
        a = teacher.predict(load_image(it.path), box)
        out.append([np.nan] * 3 if a is None else list(a))
    return np.array(out, dtype=np.float64)


def summarize(name: str, pred: np.ndarray, items: list[Item],
              std: np.ndarray | None = None) -> dict[str, Any]:
    """Metrics of one method on the images it gave an answer for."""
    true = np.stack([it.angles for it in items])
    mask = np.stack([it.mask for it in items])
    ok = np.all(np.isfinite(pred), axis=1)
    res = evaluate_predictions(pred[ok], true[ok], mask[ok], None if std is None else std[ok])
    res["method"] = name
    res["answered"] = int(ok.sum())
    core = ok & (np.abs(true[:, 0]) <= 60) & (np.abs(true[:, 1]) <= 30)
    res["core_mae"] = evaluate_predictions(pred[core], true[core], mask[core])["mae"]
    return res


def to_head(pred: np.ndarray) -> np.ndarray:
    """Dataset-convention angles ``(N, 3)`` in the head convention (NaN rows kept)."""
    from ldl_pose_ros.model.angles import convert_angles

    out = np.full_like(pred, np.nan)
    ok = np.all(np.isfinite(pred), axis=1)
    out[ok] = convert_angles(pred[ok], "dataset", "head")
    return out


def table(results: list[dict[str, Any]], labelled: Sequence[str]) -> str:
    """Markdown table: MAE per labelled angle and mean, all and |yaw|<=60,|pitch|<=30."""
    header = ["method", "answered"] + [f"MAE {a}" for a in labelled] + ["mean"] \
        + [f"core {a}" for a in labelled] + ["core mean"]
    rows = []
    for r in results:
        m, c = r["mae"], r["core_mae"]
        rows.append([r["method"], str(r["answered"])]
                    + [f"{m[a]:.2f}" for a in labelled] + [f"{m['mean']:.2f}"]
                    + [f"{c[a]:.2f}" for a in labelled] + [f"{c['mean']:.2f}"])
    return markdown_table(header, rows)


def main(argv: Sequence[str] | None = None) -> int:
    """Command-line entry point."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--weights", default=None, help="checkpoint (default: the shipped model)")
    ap.add_argument("--backend", default="torch", choices=("torch", "onnx"))
    ap.add_argument("--dataset", required=True, choices=("pointing04", "300wlp"))
    ap.add_argument("--root", required=True)
    ap.add_argument("--persons", default="10,11,12", help="pointing04 persons")
    ap.add_argument("--yunet", default=None, help="YuNet ONNX: common detector boxes")
    ap.add_argument("--fsanet-dir", default=None)
    ap.add_argument("--mediapipe-task", default=None)
    ap.add_argument("--out", required=True)
    args = ap.parse_args(argv)

    root = Path(args.root)
    if args.dataset == "pointing04":
        items = read_pointing04(root, [int(p) for p in args.persons.split(",")])
        labelled = ANGLES[:2]
    else:
        items = read_300wlp(root)
        labelled = ANGLES
    boxes, found = detect_boxes(items, args.yunet)
    pred, std = run_model(args.weights, items, boxes, args.backend)
    methods: list[tuple[str, np.ndarray, np.ndarray | None]] = [("ldl_pose_ros", pred, std)]
    from training.teachers import create_teacher

    for name, kw in (("fsanet", {"fsanet_dir": args.fsanet_dir}),
                     ("mediapipe", {"mediapipe_task": args.mediapipe_task})):
        if next(iter(kw.values())) is None:
            continue
        methods.append((name, run_teacher(create_teacher(name, **kw), items, boxes), None))
    results = [summarize(name, p, items, s) for name, p, s in methods]
    if args.dataset == "pointing04":
        results += [summarize(f"{name} (head convention)", to_head(p), items)
                    for name, p, _ in methods]
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    md = (f"{args.dataset}: {len(items)} images, YuNet boxes for {found} "
          f"(else the dataset box)\n\n" + table(results, labelled) + "\n")
    cal = results[0].get("calibration", {})
    md += f"\nldl_pose_ros std vs |error| (Spearman / Pearson): {json.dumps(cal)}\n"
    (out / "comparison.md").write_text(md)
    (out / "comparison.json").write_text(json.dumps(results, indent=1, default=float))
    print(md)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
