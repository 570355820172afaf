# Copyright 2026 The ldl_pose_ros Authors
# SPDX-License-Identifier: Apache-2.0
r"""Score a model on a labelled image folder the way the product is scored.

Usage::

    python -m training.score_labelled --images DIR --labels DIR/labels.csv \
        --weights runs/x/best.ckpt --out runs/x/score [--paths boxes product mirror]

``labels.csv`` has the columns ``file, yaw_deg, pitch_deg, roll_deg, within99,
x1, y1, x2, y2`` (the AFLW2000-3D layout; angles in the 300W-LP convention).
Only rows with ``within99 = 1`` are scored.  Every path runs the real command
line, ``ldl-pose predict``, so the figures are those a user gets:

- ``boxes``: ``--boxes`` with the labels' boxes (the standard protocol);
- ``product``: the defaults (detector on); a face counts as found when a
  detection lies in the image, the one nearest the label box centre is scored;
- ``mirror``: ``--boxes`` on horizontally mirrored copies (written to a
  temporary folder), for the mirror consistency ``|yaw(image) + yaw(mirror)|``.

Reports MAE per angle (wrapped differences) and by ``|yaw|`` bucket 0-30 /
30-60 / 60-99, the fraction of errors within 1 and 2 predicted standard
deviations, Spearman(std, |error|) per angle, and the found fraction per bucket.
Writes ``metrics.json`` and per-path prediction CSVs into ``--out``.
"""

from __future__ import annotations

import argparse
import csv
import json
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

from ldl_pose_ros.core.evaluation import geodesic_errors

BUCKETS = ((0.0, 30.0), (30.0, 60.0), (60.0, 99.0001))
ANGLES = ("yaw", "pitch", "roll")


def read_labels(path: Path) -> list[dict]:
    """Rows of a labels CSV with ``within99 = 1``: file, angles (3,), box (4,)."""
    out = []
    with open(path, newline="") as f:
        for r in csv.DictReader(f):
            if int(float(r.get("within99", 1))) != 1:
                continue
            out.append({
                "file": r["file"],
                "angles": np.array([float(r[f"{a}_deg"]) for a in ANGLES]),
                "box": np.array([float(r[k]) for k in ("x1", "y1", "x2", "y2")]),
            })
    return out


def run_predict(images: Path, out_csv: Path, weights: str | None, boxes: Path | None,
                extra: list[str]) -> dict[str, list[dict]]:
    """Run ``ldl-pose predict`` and return its rows grouped by base file name."""
    cmd = [sys.executable, "-m", "ldl_pose_ros.cli", "predict", str(images), "--out", str(out_csv)]
    if weights:
        cmd += ["--weights", weights]
    if boxes is not None:
        cmd += ["--boxes", str(boxes)]
    subprocess.run(cmd + extra, check=True)
    rows: dict[str, list[dict]] = {}
    with open(out_csv, newline="") as f:
        for r in csv.DictReader(f):
            rows.setdefault(Path(r["file"]).name, []).append(r)
    return rows


def _wrap(d: np.ndarray) -> np.ndarray:
    return (d + 180.0) % 360.0 - 180.0


def _pick(rows: list[dict], box: np.ndarray) -> dict | None:
    if not rows:
        return None
    c = 0.5 * (box[:2] + box[2:])
    def dist(r: dict) -> float:
        b = np.array([float(r[k]) for k in ("x1", "y1", "x2", "y2")])
        return float(np.hypot(*(0.5 * (b[:2] + b[2:]) - c)))
    return min(rows, key=dist)


def score(labels: list[dict], rows: dict[str, list[dict]]) -> dict:
    """Accuracy, calibration and detection figures of one prediction set."""
    from scipy.stats import spearmanr

    true, pred, std, found = [], [], [], []
    for lab in labels:
        r = _pick(rows.get(Path(lab["file"]).name, []), lab["box"])
        found.append(r is not None)
        if r is None:
            continue
        true.append(lab["angles"])
        pred.append([float(r[a]) for a in ANGLES])
        std.append([float(r[f"{a}_std"]) for a in ANGLES])
    gt_yaw = np.abs(np.array([lab["angles"][0] for lab in labels]))
    found_arr = np.array(found)
    t, p, s = np.array(true), np.array(pred), np.array(std)
    err = np.abs(_wrap(p - t))
    out: dict = {"n_labelled": len(labels), "n_found": int(found_arr.sum()),
                 "found_fraction": round(float(found_arr.mean()), 4)}
    out["mae"] = {a: round(float(err[:, i].mean()), 3) for i, a in enumerate(ANGLES)}
    out["mae"]["mean"] = round(float(err.mean()), 3)
    # Convention-free: the angle of the rotation between predicted and true head pose.
    geo = geodesic_errors(p, t)
    out["geodesic"] = round(float(geo.mean()), 3)
    ty = np.abs(t[:, 0])
    out["buckets"] = {}
    for lo, hi in BUCKETS:
        sel = (ty >= lo) & (ty < hi)
        all_sel = (gt_yaw >= lo) & (gt_yaw < hi)
        key = f"{lo:.0f}-{min(hi, 99):.0f}"
        out["buckets"][key] = {
            "n": int(sel.sum()),
            "found": f"{int(found_arr[all_sel].sum())}/{int(all_sel.sum())}",
            "mae": {a: round(float(err[sel, i].mean()), 3) for i, a in enumerate(ANGLES)}
            if sel.any() else {},
            "mean": round(float(err[sel].mean()), 3) if sel.any() else None,
            "geodesic": round(float(geo[sel].mean()), 3) if sel.any() else None,
        }
    within1 = err <= s
    within2 = err <= 2 * s
    out["calibration"] = {
        "within_1std": round(float(within1.mean()), 4),
        "within_2std": round(float(within2.mean()), 4),
        "within_1std_per_angle": {a: round(float(within1[:, i].mean()), 4)
                                  for i, a in enumerate(ANGLES)},
        "within_2std_per_angle": {a: round(float(within2[:, i].mean()), 4)
                                  for i, a in enumerate(ANGLES)},
        "spearman_std_abs_error": {a: round(float(spearmanr(s[:, i], err[:, i])[0]), 4)
                                   for i, a in enumerate(ANGLES)},
        "mean_std": {a: round(float(s[:, i].mean()), 3) for i, a in enumerate(ANGLES)},
    }
    return out


def mirror_consistency(labels: list[dict], rows: dict[str, list[dict]],
                       mirrored: dict[str, list[dict]], widths: dict[str, int]) -> dict:
    """Mean ``|yaw(image) + yaw(mirror)|`` and ``|roll + roll'|`` over faces found in both."""
    dy, dr = [], []
    for lab in labels:
        name = Path(lab["file"]).name
        w = widths[name]
        mbox = np.array([w - lab["box"][2], lab["box"][1], w - lab["box"][0], lab["box"][3]])
        a = _pick(rows.get(name, []), lab["box"])
        b = _pick(mirrored.get(name, []), mbox)
        if a is None or b is None:
            continue
        dy.append(abs(float(a["yaw"]) + float(b["yaw"])))
        dr.append(abs(float(a["roll"]) + float(b["roll"])))
    return {"n": len(dy), "mean_abs_yaw_sum": round(float(np.mean(dy)), 3),
            "mean_abs_roll_sum": round(float(np.mean(dr)), 3)}


def _boxes_csv(labels: list[dict], path: Path, images: Path, widths: dict[str, int] | None
               ) -> None:
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["file", "x1", "y1", "x2", "y2"])
        for lab in labels:
            x1, y1, x2, y2 = lab["box"]
            if widths is not None:
                width = widths[Path(lab["file"]).name]
                x1, x2 = width - x2, width - x1
            w.writerow([str(images / lab["file"]), x1, y1, x2, y2])


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point."""
    import cv2

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--images", type=Path, required=True)
    ap.add_argument("--labels", type=Path, required=True)
    ap.add_argument("--weights", default=None, help="checkpoint (default: the shipped model)")
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--paths", nargs="+", default=["boxes", "product", "mirror"],
                    choices=["boxes", "product", "mirror"])
    ap.add_argument("--model-args", default="", help="extra ldl-pose predict arguments for "
                    "every path (e.g. '--no-mirror-average')")
    ap.add_argument("--predict-args", default="", help="extra ldl-pose predict arguments "
                    "for the product path (e.g. '--detector yunet')")
    args = ap.parse_args(argv)
    labels = read_labels(args.labels)
    args.out.mkdir(parents=True, exist_ok=True)
    result: dict = {"weights": args.weights or "shipped default", "images": str(args.images)}
    box_rows = None
    if "boxes" in args.paths or "mirror" in args.paths:
        _boxes_csv(labels, args.out / "boxes.csv", args.images, None)
        box_rows = run_predict(args.images, args.out / "pred_boxes.csv", args.weights,
                               args.out / "boxes.csv", args.model_args.split())
        result["boxes"] = score(labels, box_rows)
    if "product" in args.paths:
        rows = run_predict(args.images, args.out / "pred_product.csv", args.weights, None,
                           args.model_args.split() + args.predict_args.split())
        result["product"] = score(labels, rows)
    if "mirror" in args.paths and box_rows is not None:
        with tempfile.TemporaryDirectory() as tmp:
            mdir = Path(tmp)
            widths: dict[str, int] = {}
            for lab in labels:
                img = cv2.imread(str(args.images / lab["file"]), cv2.IMREAD_COLOR)
                widths[Path(lab["file"]).name] = img.shape[1]
                # Lossless (PNG bytes; the reader goes by content, not by the name), so
                # that the mirror is exact and the gap measures the model alone.
                ok, png = cv2.imencode(".png", np.ascontiguousarray(img[:, ::-1]))
                if not ok:
                    raise RuntimeError(f"cannot encode the mirror of {lab['file']}")
                (mdir / Path(lab["file"]).name).write_bytes(png.tobytes())
            _boxes_csv(labels, args.out / "boxes_mirror.csv", mdir, widths)
            mrows = run_predict(mdir, args.out / "pred_mirror.csv", args.weights,
                                args.out / "boxes_mirror.csv", args.model_args.split())
        result["mirror"] = mirror_consistency(labels, box_rows, mrows, widths)
    (args.out / "metrics.json").write_text(json.dumps(result, indent=1) + "\n")
    print(summary_table(result))
    return 0


def summary_table(result: dict) -> str:
    """Markdown lines: one row per path."""
    lines = ["| path | found | yaw | pitch | roll | mean | 0-30 / 30-60 / 60-99 | "
             "1 std / 2 std | spearman y/p/r | geodesic (by bucket) |", "|" + "---|" * 10]
    for path in ("boxes", "product"):
        if path not in result:
            continue
        r = result[path]
        b = " / ".join(f"{v['mean']:.2f}" if v["mean"] is not None else "-"
                       for v in r["buckets"].values())
        c = r["calibration"]
        sp = " / ".join(f"{v:.2f}" for v in c["spearman_std_abs_error"].values())
        lines.append(
            f"| {path} | {r['n_found']}/{r['n_labelled']} | {r['mae']['yaw']:.2f} | "
            f"{r['mae']['pitch']:.2f} | {r['mae']['roll']:.2f} | {r['mae']['mean']:.2f} | {b} | "
            f"{c['within_1std']:.2f} / {c['within_2std']:.2f} | {sp} | {r['geodesic']:.2f} ("
            + " / ".join(f"{v['geodesic']:.2f}" if v["geodesic"] is not None else "-"
                         for v in r["buckets"].values()) + ") |")
    if "mirror" in result:
        m = result["mirror"]
        lines.append(f"mirror: mean |yaw + yaw'| {m['mean_abs_yaw_sum']:.2f} deg, "
                     f"|roll + roll'| {m['mean_abs_roll_sum']:.2f} deg over {m['n']} faces")
    return "\n".join(lines)


if __name__ == "__main__":
    raise SystemExit(main())
