# Copyright 2026 The ldl_pose_ros Authors
# SPDX-License-Identifier: Apache-2.0
r"""The recording-to-model loop on a stand-in robot, before and after, in one command.

    python -m training.finetune_demo --out runs/finetune_demo \
        [--weights ldl_pose_ros/weights/default.ckpt] [--epochs 6] [--threads 2]

Pointing'04 persons 10-12 (``../shared/data/pointing04``, never used to train or
select the shipped model) stand in for a robot's users: their two series become
two recordings with ground truth (:mod:`training.pointing04_bags`).  Series 1 is
the user's data, series 2 the test.  For each labelling variant -- ``gt`` (the
recording's ground truth) and ``pseudo`` (the model's own stable predictions) --
the script runs the loop with the real commands:

1. ``ldl-pose bag export`` series 1 (yaw and pitch labelled: Pointing'04 has no
   roll; for ``gt`` 20 % of the 10 s time blocks for validation, 1 s guard gaps);
2. ``python -m training.train`` with ``training/configs/finetune_robot.yaml``
   from ``--weights`` (L2-SP towards it when its original data is absent, its
   batch-norm statistics kept); the ``gt`` variant picks its epoch on the
   validation blocks, the ``pseudo`` variant trains on all its faces for the
   fixed schedule (its start model agrees best with its own labels, so they
   cannot select);
3. ``ldl-pose bag evaluate`` series 2 with the fine-tuned ``best.ckpt`` (and its
   ``best.onnx``), against the start model on the same frames.

Pointing'04 is a set of stills (15 degree steps at 2 frames/s), so evaluation
turns the node's temporal smoothing off (``smoothing: false``); faces are the
node's detector's, so before and after score the same faces.  When
``../shared/data/300wlp_mini`` exists, ``training.evaluate`` on it shows what
fine-tuning did to faces of another domain (forgetting).  Everything goes to
``--out``; ``results.md`` and ``results.json`` hold the table and the commands.
Last, the node itself runs with the first variant's ``best.ckpt``
(``python -m ldl_pose_ros.demo --weights``: ``pose_node -p weights:=...`` over DDS
on the shipped demo recording).
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import shlex
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from ldl_pose_ros.resources import DEFAULT_WEIGHTS

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared" / "data"
TEMPLATE = REPO / "training" / "configs" / "finetune_robot.yaml"
VARIANTS = ("gt", "pseudo")


class Steps:
    """Runs the loop's commands, logging each with its time."""

    def __init__(self, out: Path) -> None:
        self.out = out
        self.log: list[dict[str, Any]] = []

    def run(self, name: str, args: Sequence[str], env: dict[str, str] | None = None) -> float:
        """Run ``args`` (a command line); returns its wall time, raises on failure."""
        shown = " ".join(shlex.quote(str(a)) for a in args).replace(sys.executable, "python")
        print(f"\n[{name}] {shown}", flush=True)
        t0 = time.monotonic()
        with open(self.out / "commands.log", "a") as f:
            f.write(f"# {name}\n{shown}\n")
            res = subprocess.run([str(a) for a in args], cwd=REPO, env=env, stdout=f,
                                 stderr=subprocess.STDOUT, check=False)
        dt = time.monotonic() - t0
        self.log.append({"step": name, "command": shown, "seconds": round(dt, 1),
                         "exit": res.returncode})
        print(f"[{name}] exit {res.returncode} in {dt:.0f} s", flush=True)
        if res.returncode not in (0,):
            raise RuntimeError(f"{name} failed (exit {res.returncode}); see "
                               f"{self.out / 'commands.log'}")
        return dt


def _metrics(eval_dir: Path) -> dict[str, Any]:
    m = json.loads((eval_dir / "metrics.json").read_text())
    return {"yaw": m["mae"]["yaw"], "pitch": m["mae"]["pitch"],
            "mean_yaw_pitch": (m["mae"]["yaw"] + m["mae"]["pitch"]) / 2,
            "faces_scored": m["frames_matched"], "detection_rate": m["detection_rate"]}


def _pseudo_label_error(pseudo_index: Path, gt_index: Path) -> dict[str, Any] | None:
    """MAE of the exported pseudo-labels against the ground truth of the same faces."""
    if not (pseudo_index.is_file() and gt_index.is_file()):
        return None
    with open(gt_index) as f:
        gt = {(r["frame"], r["face"]): r for r in csv.DictReader(f) if r["yaw"]}
    err, err_all = [], []
    with open(pseudo_index) as f:
        for r in csv.DictReader(f):
            g = gt.get((r["frame"], r["face"]))
            if g is None:
                continue
            truth = np.array([float(g["yaw"]), float(g["pitch"])])
            err_all.append(np.abs(np.array([float(r["net_yaw"]), float(r["net_pitch"])]) - truth))
            if r["yaw"]:
                err.append(np.abs(np.array([float(r["yaw"]), float(r["pitch"])]) - truth))
    if not err:
        return None
    e, a = np.mean(err, axis=0), np.mean(err_all, axis=0)
    return {"exported": len(err), "of_faces": len(err_all), "mae_yaw": float(e[0]),
            "mae_pitch": float(e[1]), "all_faces_mae_yaw": float(a[0]),
            "all_faces_mae_pitch": float(a[1])}


def _forgetting(steps: Steps, weights: Path, out: Path, threads: int) -> dict[str, Any] | None:
    root = SHARED / "300wlp_mini"
    if not root.is_dir():
        return None
    steps.run(f"300W-LP mini {out.name}", [
        sys.executable, "-m", "training.evaluate", "--weights", weights, "--dataset", "300wlp",
        "--root", root, "--out", out, "--no-plots", "--backend", "onnx", "--threads",
        str(threads)])
    mae = json.loads((out / "metrics.json").read_text())["mae"]
    return {k: mae[k] for k in ("yaw", "pitch", "roll", "mean")}


def _finetune_config(export: Path, weights: Path, epochs: int, threads: int, path: Path,
                     validate: bool, l2sp: float | None) -> Path:
    cfg = yaml.safe_load(TEMPLATE.read_text())
    cfg["init"] = str(weights)
    if l2sp is not None:
        cfg["finetune"]["l2sp_weight"] = l2sp
    cfg["train"].update({"epochs": epochs, "threads": threads})
    cfg["data"]["train"][0]["root"] = str(export / ("train.csv" if validate else "labels.csv"))
    if validate:
        cfg["data"]["val"][0]["root"] = str(export / "val.csv")
    else:
        cfg["data"]["val"] = []
    path.write_text(yaml.safe_dump(cfg, sort_keys=False))
    return path


def run(args: argparse.Namespace) -> dict[str, Any]:
    """The whole demonstration; returns the results (also written to ``--out``)."""
    out = Path(args.out).resolve()
    out.mkdir(parents=True, exist_ok=True)
    (out / "commands.log").write_text("")
    steps = Steps(out)
    py = sys.executable
    ldl = [py, "-m", "ldl_pose_ros.cli"]
    weights = Path(args.weights).resolve()
    env = {**os.environ, "OMP_NUM_THREADS": str(args.threads)}
    t0 = time.monotonic()
    bags = out / "bags"
    steps.run("record (Pointing'04 -> bags)", [
        py, "-m", "training.pointing04_bags", "--root", args.root, "--persons",
        *map(str, args.persons), "--out", bags, "--force"])
    stills = out / "stills_params.yaml"
    stills.write_text("/**:\n  ros__parameters:\n    smoothing: false\n"
                      f"    threads: {args.threads}\n")
    evaluate = [*ldl, "bag", "evaluate", bags / "series2", "--params-file", stills,
                "--annotated", "none"]
    steps.run("evaluate start model", [*evaluate, "--weights", weights, "--out",
                                       out / "eval_start"])
    results: dict[str, Any] = {
        "weights": str(weights), "persons": args.persons, "epochs": args.epochs,
        "l2sp": args.l2sp,
        "threads": args.threads, "start": _metrics(out / "eval_start"), "variants": {}}
    if not args.skip_forgetting:
        results["start"]["300wlp_mini"] = _forgetting(steps, weights, out / "forget_start",
                                                     args.threads)
    for variant in args.variants:
        vdir = out / variant
        export = vdir / "export"
        # Ground truth: 20 % of the time blocks validate (and pick the epoch).  Pseudo-labels
        # cannot: the start model agrees best with its own predictions, so that variant
        # trains on all of them for the fixed schedule.
        split = ["--val-fraction", "0.2"] if variant == "gt" else []
        steps.run(f"export {variant}", [
            *ldl, "bag", "export", bags / "series1", "--out", export, "--labels", variant,
            "--label-angles", "yaw,pitch", "--identity", "p04_series1", *split,
            "--params-file", stills, "--weights", weights])
        cfg = _finetune_config(export, weights, args.epochs, args.threads,
                               vdir / "finetune.yaml", validate=bool(split), l2sp=args.l2sp)
        train_s = steps.run(f"fine-tune {variant}", [
            py, "-m", "training.train", "--config", cfg, "--out", vdir / "train"], env=env)
        ckpt = vdir / "train" / "best.ckpt"
        steps.run(f"evaluate {variant}", [*evaluate, "--weights", ckpt, "--out", vdir / "eval"])
        exp = json.loads((export / "export.json").read_text())
        summary = json.loads((vdir / "train" / "summary.json").read_text())
        res = {**_metrics(vdir / "eval"),
               "train_faces": exp["train"] if split else exp["exported"], "val_faces": exp["val"],
               "exported": exp["exported"], "faces_detected": exp["faces"],
               "mean_weight": exp["mean_weight"], "train_seconds": round(train_s, 1),
               "best_epoch": summary["best_epoch"], "checkpoint": str(ckpt),
               "onnx": summary.get("onnx")}
        if not args.skip_forgetting:
            res["300wlp_mini"] = _forgetting(steps, ckpt, vdir / "forget", args.threads)
        results["variants"][variant] = res
    if not args.skip_deploy and results["variants"]:
        best = next(iter(results["variants"].values()))["checkpoint"]
        steps.run("deploy (the node over DDS with weights:=, on the demo recording)", [
            py, "-m", "ldl_pose_ros.demo", "--weights", best, "--out", out / "deploy"])
        m = json.loads((out / "deploy" / "report" / "metrics.json").read_text())
        results["deploy"] = {"weights": best, "frames": m["frames"],
                             "frames_processed": m["frames_processed"],
                             "detection_rate": m.get("detection_rate"), "mae": m.get("mae")}
    if "pseudo" in args.variants and "gt" in args.variants:
        results["pseudo_label_error"] = _pseudo_label_error(
            out / "pseudo" / "export" / "index.csv", out / "gt" / "export" / "index.csv")
    results["steps"] = steps.log
    results["wall_seconds"] = round(time.monotonic() - t0, 1)
    (out / "results.json").write_text(json.dumps(results, indent=2) + "\n")
    (out / "results.md").write_text(results_markdown(results))
    return results


def _f(v: Any) -> str:
    return "-" if v is None else f"{v:.2f}"


def results_markdown(r: dict[str, Any]) -> str:
    """The results table and the commands, as Markdown."""
    lines = [
        f"# Fine-tuning on a stand-in robot: Pointing'04 persons "
        f"{', '.join(map(str, r['persons']))}",
        "",
        f"Start model `{r['weights']}`; fine-tuned on series 1, scored on series 2 "
        f"({r['epochs']} epochs, {r['threads']} threads). MAE in degrees on the faces the "
        "node's detector found (the same faces for every row).",
        "",
        "| model | training faces (mean weight) | series 2 yaw | pitch | mean | faces scored "
        "| 300W-LP mini yaw / pitch / roll | fine-tune s |",
        "|---|---|---|---|---|---|---|---|",
    ]

    def row(name: str, m: dict[str, Any], faces: str, secs: str) -> str:
        f = m.get("300wlp_mini") or {}
        other = " / ".join(_f(f.get(k)) for k in ("yaw", "pitch", "roll")) if f else "-"
        return (f"| {name} | {faces} | {_f(m['yaw'])} | {_f(m['pitch'])} | "
                f"{_f(m['mean_yaw_pitch'])} | {m['faces_scored']} | {other} | {secs} |")

    lines.append(row("start model", r["start"], "-", "-"))
    for v, m in r["variants"].items():
        faces = f"{m['train_faces']} + {m['val_faces']} val ({_f(m['mean_weight'])})"
        lines.append(row(f"fine-tuned, {v} labels", m, faces, f"{m['train_seconds']:.0f}"))
    lines.append("")
    for v, m in r["variants"].items():
        s = r["start"]
        lines.append(f"- {v}: yaw {s['yaw'] - m['yaw']:+.2f}, pitch {s['pitch'] - m['pitch']:+.2f} "
                     "degrees of improvement (start - fine-tuned)")
    pe = r.get("pseudo_label_error")
    if pe:
        lines += ["", f"Pseudo-labels against the ground truth of the same faces: "
                  f"{pe['exported']} of {pe['of_faces']} faces exported, MAE yaw "
                  f"{pe['mae_yaw']:.2f} / pitch {pe['mae_pitch']:.2f} (the model on all of "
                  f"them: {pe['all_faces_mae_yaw']:.2f} / {pe['all_faces_mae_pitch']:.2f})."]
    dep = r.get("deploy")
    if dep and dep.get("mae"):
        lines += ["", f"Deploy: the node (`pose_node`, `-p weights:={dep['weights']}`) over DDS on "
                  f"the shipped demo recording processed {dep['frames_processed']} of "
                  f"{dep['frames']} frames; MAE yaw / pitch / roll {dep['mae']['yaw']:.2f} / "
                  f"{dep['mae']['pitch']:.2f} / {dep['mae']['roll']:.2f}."]
    lines += ["", f"Wall time {r['wall_seconds']:.0f} s.", "", "## Commands", "", "```bash"]
    lines += [s["command"] for s in r["steps"]] + ["```", ""]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    """Command-line entry point."""
    ap = argparse.ArgumentParser(prog="python -m training.finetune_demo",
                                 description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default="runs/finetune_demo")
    ap.add_argument("--weights", default=str(DEFAULT_WEIGHTS), help="start model checkpoint")
    ap.add_argument("--root", default=str(SHARED / "pointing04"), help="Pointing'04 folder")
    ap.add_argument("--persons", type=int, nargs="+", default=[10, 11, 12])
    ap.add_argument("--variants", nargs="+", choices=VARIANTS, default=list(VARIANTS))
    ap.add_argument("--epochs", type=int, default=15, help="passes over the exported faces")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--l2sp", type=float, default=None, metavar="W",
                    help="finetune.l2sp_weight (default: the config's, 0.01 without replay)")
    ap.add_argument("--skip-forgetting", action="store_true",
                    help="do not evaluate on 300W-LP mini")
    ap.add_argument("--skip-deploy", action="store_true",
                    help="do not run the node with the fine-tuned weights")
    args = ap.parse_args(argv)
    if not Path(args.root).is_dir():
        print(f"error: no Pointing'04 folder at {args.root}", file=sys.stderr)
        return 2
    try:
        results = run(args)
    except RuntimeError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print("\n" + (Path(args.out) / "results.md").read_text())
    return 0 if results["variants"] else 1


if __name__ == "__main__":
    raise SystemExit(main())
