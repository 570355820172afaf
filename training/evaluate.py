# Copyright 2026 The ldl_pose_ros Authors
# SPDX-License-Identifier: Apache-2.0
r"""Evaluate a checkpoint on a labelled dataset: metrics, paper-layout table and plots.

Usage::

    python -m training.evaluate --weights W.ckpt --dataset aflw2000|biwi|pointing04|csv|300wlp \\
        --root DIR [--persons 10,11,12] --out DIR [--backend torch|onnx] [--device auto]

Faces are cropped with the shared convention (``ldl_pose_ros.core.crop``, the
checkpoint's ``crop_scale``/``crop_shift_y``), normalised with its ``mean/std``
and run in batches through ``ldl_pose_ros.model.PoseNetRunner`` -- the same path
as the node and the CLI.  Boxes come from the dataset (fixed test margin, no
augmentation).  Outputs in ``--out``: ``metrics.json``, ``table.md``,
``table.csv``, ``predictions.csv`` and the PNG plots of
``ldl_pose_ros.core.evaluation.save_plots``.
"""

from __future__ import annotations

import argparse
import csv
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ldl_pose_ros.core.crop import to_network_input
from ldl_pose_ros.core.evaluation import (
    evaluate_predictions,
    report_markdown,
    save_plots,
    write_report,
)
from ldl_pose_ros.model.runner import PoseNetRunner
from training.datasets.base import Sample
from training.datasets.registry import DATASET_TYPES, load_source
from training.datasets.torch_dataset import PoseDataset


def predict_samples(runner: PoseNetRunner, samples: Sequence[Sample], batch_size: int = 64,
                    progress: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """Predicted ``(angles, std)``, each ``(N, 3)``, for samples (shared crop, batched)."""
    cfg = runner.config
    ds = PoseDataset(samples, cfg, augment=None)
    angles, stds = [], []
    idx = range(0, len(ds), batch_size)
    if progress:
        from tqdm import tqdm

        idx = tqdm(idx, desc="evaluate", unit="batch", leave=False,
                   mininterval=0.5 if sys.stderr.isatty() else 30.0)
    for start in idx:
        crops = np.stack([ds.crop(i)[0] for i in range(start, min(start + batch_size, len(ds)))])
        a, s = runner.predict(to_network_input(crops, cfg.mean, cfg.std))
        angles.append(a)
        stds.append(s)
    if not angles:
        return np.zeros((0, 3)), np.zeros((0, 3))
    return np.concatenate(angles), np.concatenate(stds)


def write_predictions(path: Path, samples: Sequence[Sample], pred: np.ndarray, std: np.ndarray
                      ) -> None:
    """Per-sample CSV: file, identity, box, true/pred/std/abs error per angle.

    Unlabelled true angles and their errors are left blank.
    """
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        head = ["file", "identity", "x1", "y1", "x2", "y2"]
        for a in ("yaw", "pitch", "roll"):
            head += [f"true_{a}", f"pred_{a}", f"std_{a}", f"err_{a}"]
        w.writerow(head)
        for s, p, d in zip(samples, pred, std, strict=True):
            row: list[Any] = [s.name, s.identity, *(f"{v:.1f}" for v in s.box)]
            for i in range(3):
                known = s.mask[i] > 0
                row += [f"{s.angles[i]:.3f}" if known else "", f"{p[i]:.3f}", f"{d[i]:.3f}",
                        f"{abs(p[i] - s.angles[i]):.3f}" if known else ""]
            w.writerow(row)


def evaluate_samples(runner: PoseNetRunner, samples: Sequence[Sample], out_dir: str | Path,
                     method: str, dataset: str, batch_size: int = 64, plots: bool = True,
                     progress: bool = True) -> dict[str, Any]:
    """Predict, compute every metric, write report, predictions and plots; return the summary."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    pred, std = predict_samples(runner, samples, batch_size, progress)
    true = np.stack([s.angles for s in samples])
    mask = np.stack([s.mask for s in samples])
    summary = evaluate_predictions(pred, true, mask, std)
    write_report(out, method, dataset, summary)
    write_predictions(out / "predictions.csv", samples, pred, std)
    if plots:
        save_plots(out, pred, true, mask, std, title=f"({method}, {dataset})")
    return summary


def _dataset_spec(args: argparse.Namespace) -> dict[str, Any]:
    spec: dict[str, Any] = {"type": args.dataset, "root": args.root}
    if args.persons:
        spec["persons"] = [p.strip() for p in args.persons.split(",") if p.strip()]
    if args.dataset == "aflw2000" and args.no_filter:
        spec["filter_large"] = False
    if args.max_abs_deg is not None:
        if args.dataset == "aflw2000":
            spec["max_abs_deg"] = args.max_abs_deg
            spec["filter_large"] = True
        elif args.dataset in ("300wlp", "biwi"):
            spec["max_abs_deg"] = args.max_abs_deg
    if args.box_file:
        if args.dataset != "biwi":
            raise ValueError("--box-file is for --dataset biwi")
        spec["box_file"] = args.box_file
    if args.image_root:
        spec["image_root"] = args.image_root
    return spec


def main(argv: Sequence[str] | None = None) -> int:
    """Command-line entry point."""
    ap = argparse.ArgumentParser(prog="python -m training.evaluate",
                                 description=__doc__.split("\n")[0])
    ap.add_argument("--weights", required=True, help="checkpoint (package format)")
    ap.add_argument("--dataset", required=True, choices=DATASET_TYPES)
    ap.add_argument("--root", required=True,
                    help="dataset folder (csv: the CSV file or a folder with labels.csv)")
    ap.add_argument("--persons", help="comma-separated identities to keep, e.g. 10,11,12")
    ap.add_argument("--out", required=True, help="output folder")
    ap.add_argument("--name", help="method name in the table (default: weights file stem)")
    ap.add_argument("--backend", choices=["torch", "onnx"], default="torch")
    ap.add_argument("--device", default="auto", help="auto, cpu or cuda")
    ap.add_argument("--threads", type=int, default=2, help="CPU threads")
    ap.add_argument("--batch-size", type=int, default=64)
    ap.add_argument("--no-filter", action="store_true",
                    help="aflw2000: keep samples with |angle| > 99 (off the standard protocol)")
    ap.add_argument("--max-abs-deg", type=float, help="drop samples with any |angle| above this")
    ap.add_argument("--box-file", help="biwi: face-box annotation file")
    ap.add_argument("--image-root", help="csv: folder the file column is relative to")
    ap.add_argument("--no-plots", action="store_true")
    args = ap.parse_args(argv)
    try:
        samples = load_source(_dataset_spec(args), train=False)
        runner = PoseNetRunner(args.weights, device=args.device, backend=args.backend,
                               threads=args.threads)
        method = args.name or Path(args.weights).stem
        dataset = args.dataset + (f" ({args.persons})" if args.persons else "")
        summary = evaluate_samples(runner, samples, args.out, method, dataset, args.batch_size,
                                   plots=not args.no_plots)
    except (OSError, ValueError, RuntimeError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(report_markdown(method, dataset, summary))
    print(f"written to {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
