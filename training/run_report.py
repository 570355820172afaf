# Copyright 2026 The ldl_pose_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""A short report of a finished (or interrupted) training run folder.

Usage::

    python -m training.run_report OUT_DIR

Reads what :mod:`training.train` wrote (``summary.json``, ``metrics.csv``,
``config.yaml``, the checkpoints) and prints the model, the schedule actually run
(with a time budget: the steps of every epoch, the speed, the time used), the best
validation epoch and the files.  An interrupted run (no ``summary.json``) is
reported from its ``metrics.csv`` and ``last.ckpt``.  Exit status 1 when the folder
holds no run.
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml


def _number(text: str | None) -> float:
    try:
        return float(text) if text not in (None, "") else math.nan
    except ValueError:
        return math.nan


def _fmt(v: float) -> str:
    return "-" if not math.isfinite(v) else f"{v:.2f}"


def report(out: Path) -> list[str]:
    """The report's lines for run folder ``out`` (``ValueError`` when there is no run)."""
    metrics = out / "metrics.csv"
    if not metrics.is_file():
        raise ValueError(f"{out}: no metrics.csv (not a training run, or no epoch finished)")
    with open(metrics, newline="") as f:
        rows = list(csv.DictReader(f))
    cfg: dict[str, Any] = {}
    if (out / "config.yaml").is_file():
        cfg = yaml.safe_load((out / "config.yaml").read_text()) or {}
    summary: dict[str, Any] = {}
    if (out / "summary.json").is_file():
        summary = json.loads((out / "summary.json").read_text())
    model, train = cfg.get("model", {}), cfg.get("train", {})
    lines = [f"run {out}: {cfg.get('name', '?')} ({model.get('backbone', '?')}, "
             f"{model.get('input_size', '?')} px), batch {train.get('batch_size', '?')}"]
    epochs = int(train.get("epochs") or len(rows))
    done = "finished" if summary else "interrupted (no summary.json; resume from last.ckpt)"
    lines.append(f"  epochs {len(rows)} of {epochs}, {done}")
    budget = summary.get("budget")
    if budget:
        steps = sum(budget["steps_done"])
        batch = int(train.get("batch_size") or 0)
        cut = budget["cut_epochs"]
        lines.append(
            f"  time budget {budget['max_minutes']:.2f} min, used {budget['seconds']:.0f} s; "
            f"{steps} steps ({steps * batch} samples; {budget['steps_done']} per epoch), "
            f"{batch / budget['step_seconds']:.0f} samples/s at the end; schedule "
            + (f"cut short in epoch(s) {cut}" if cut else "completed"))
    elif summary:
        lines.append(f"  {summary.get('train_seconds', math.nan):.0f} s")
    scored = [r for r in rows if math.isfinite(_number(r.get("val_mae_mean")))]
    if scored:
        best = min(scored, key=lambda r: _number(r["val_mae_mean"]))
        mae = {k: _fmt(_number(best[f"val_mae_{k}"])) for k in ("yaw", "pitch", "roll", "mean")}
        lines.append(f"  best epoch {best['epoch']}: val MAE yaw {mae['yaw']} pitch "
                     f"{mae['pitch']} roll {mae['roll']} mean {mae['mean']}; last epoch "
                     f"{_fmt(_number(scored[-1]['val_mae_mean']))}; final lr "
                     f"{_number(rows[-1]['lr']):.3g}")
    files = sorted(p for p in out.rglob("*") if p.is_file())
    lines.append("  files: " + ", ".join(f"{p.relative_to(out)} ({p.stat().st_size / 2**20:.1f} "
                                          "MiB)" for p in files))
    return lines


def main(argv: Sequence[str] | None = None) -> int:
    """Command-line entry point."""
    ap = argparse.ArgumentParser(prog="python -m training.run_report",
                                 description=__doc__.split("\n")[0])
    ap.add_argument("out", type=Path, help="the run's output folder")
    args = ap.parse_args(argv)
    try:
        print("\n".join(report(args.out)))
    except (OSError, ValueError, KeyError, yaml.YAMLError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
