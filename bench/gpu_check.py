# Copyright 2026 The ldl_pose_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""The GPU check (``bench/gpu_check.sh``): what a session lent an accelerator measures.

Sections, each printed as it finishes and written to ``--out`` (``gpu_check.json``,
``gpu_check.md``):

1. ``network``: CUDA fp16 network time (``PoseNetRunner``, torch backend) at 1, 5 and 20
   faces, for the default model (MobileNetV3-small, 112 px) and the paper setting
   (ResNet-50, 224 px; random-init weights: speed does not depend on the values).
2. ``onnxruntime``: the same through ONNX Runtime's CUDA provider and, with
   ``LDL_POSE_ORT_TENSORRT=1``, TensorRT (fp16, engine cache).
3. ``node``: end-to-end latency over DDS with ``device:=cuda`` (image stamp -> receipt of
   ``head_poses``; ``bench.dds``), default and paper-setting model, 1/5/20 faces (20 with
   ``detector_tiles:=2``, which finds all of them), at 30 Hz and at the maximum rate.
4. ``multicamera``: 4 cameras at 30 Hz with ``device:=cuda``, one node process serving all
   of them vs one node process per camera (``bench/multicam.py``): rate and latency per
   camera, CPU and memory of the node processes (2 cameras when rehearsing).
5. ``training``: images/s of ``training.train.Trainer`` (data loading, augmentation, AMP
   fp16 step) for ``training/configs/default_model.yaml`` and ``paper_resnet50.yaml`` on
   a generated folder+CSV dataset (the shipped photograph, many boxes).

Every part that needs CUDA (or a package the machine lacks) prints one line
``SKIP <section>: <reason>`` and the check goes on; the exit code is 0 unless the check
itself breaks.  ``--rehearse`` runs every section on the CPU with tiny windows, to try
the code paths on a machine without a GPU (its figures mean nothing; the node only at
1 face).  A time budget
(``--budget-s``, default 420 s) skips what would not fit.
"""

from __future__ import annotations

import argparse
import csv
import importlib.util
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parents[1]
FACES = (1, 5, 20)
MODELS = {"default": ("facemesh", "training/configs/default_model.yaml"),
          "paper": ("resnet50", "training/configs/paper_resnet50.yaml")}


class Check:
    """Collects results and skip lines; keeps the time budget."""

    def __init__(self, budget_s: float, rehearse: bool) -> None:
        self.t0 = time.monotonic()
        self.budget_s = budget_s
        self.rehearse = rehearse
        self.results: dict[str, Any] = {}
        self.skips: list[str] = []

    def left(self) -> float:
        return self.budget_s - (time.monotonic() - self.t0)

    def skip(self, section: str, reason: str) -> None:
        line = f"SKIP {section}: {reason}"
        self.skips.append(line)
        print(line, flush=True)

    def say(self, msg: str) -> None:
        print(f"gpu_check: {msg}", flush=True)


def _have(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        return False


def cuda_reason() -> str | None:
    """Why CUDA cannot be used here, or None when it can."""
    try:
        import torch
    except ImportError:
        return "torch is not installed"
    if not torch.cuda.is_available():
        return (f"no CUDA device (torch {torch.__version__}: torch.cuda.is_available() is "
                "False)")
    return None


def machine() -> dict[str, Any]:
    """GPU, driver-side versions and the packages that matter."""
    import torch

    info: dict[str, Any] = {"python": sys.version.split()[0], "torch": torch.__version__,
                            "cuda_runtime": torch.version.cuda, "cpus": os.cpu_count()}
    if torch.cuda.is_available():
        p = torch.cuda.get_device_properties(0)
        info.update(gpu=p.name, gpu_memory_gb=round(p.total_memory / 2**30, 1),
                    cudnn=torch.backends.cudnn.version())
    for mod in ("onnxruntime", "rclpy", "mediapipe", "cv2"):
        if _have(mod):
            m = __import__(mod)
            info[mod] = getattr(m, "__version__", "present")
    return info


def _weights(backbone: str, wdir: Path) -> Path:
    from bench.__main__ import bench_weights

    return bench_weights(backbone, wdir)[0]


def section_network(check: Check, device: str, wdir: Path, quick: bool) -> None:
    from bench.bench_model import time_runner
    from ldl_pose_ros.model import PoseNetRunner

    rows = []
    for name, (backbone, _) in MODELS.items():
        runner = PoseNetRunner(_weights(backbone, wdir), device, "torch")
        for n in FACES:
            t = time_runner(runner, n, 0.2 if quick else 1.0, 20 if quick else 500)
            rows.append({"model": name, "backbone": backbone, "faces": n,
                         "device": runner.device, "fp16": runner.device.startswith("cuda"),
                         "ms_median": round(statistics.median(t), 3),
                         "ms_p90": round(float(np.percentile(t, 90)), 3)})
            check.say(f"network {name} ({backbone}) {n} faces on {runner.device}: "
                      f"{rows[-1]['ms_median']:.3f} ms")
        del runner
    check.results["network"] = rows


def section_onnxruntime(check: Check, device: str, wdir: Path, quick: bool) -> None:
    if not _have("onnxruntime"):
        check.skip("onnxruntime", "onnxruntime is not installed")
        return
    import onnxruntime as ort

    from bench.bench_model import time_runner
    from ldl_pose_ros.model import PoseNetRunner

    available = ort.get_available_providers()
    want = ["CUDAExecutionProvider"] if device == "cuda" else ["CPUExecutionProvider"]
    if device == "cuda" and "CUDAExecutionProvider" not in available:
        check.skip("onnxruntime", f"onnxruntime {ort.__version__} has no CUDA provider "
                   f"(providers: {', '.join(available)}); install onnxruntime-gpu")
        return
    variants = [("cuda", {})]
    if device == "cuda":
        if "TensorrtExecutionProvider" in available:
            variants.append(("tensorrt", {"LDL_POSE_ORT_TENSORRT": "1"}))
            want.append("TensorrtExecutionProvider")
        else:
            check.skip("onnxruntime tensorrt", "onnxruntime has no TensorRT provider")
    rows = []
    for label, env in variants:
        saved = {k: os.environ.get(k) for k in env}
        os.environ.update(env)
        try:
            for name, (backbone, _) in MODELS.items():
                runner = PoseNetRunner(_weights(backbone, wdir), device, "onnx")
                for n in FACES:
                    t = time_runner(runner, n, 0.2 if quick else 1.0, 20 if quick else 500)
                    rows.append({"variant": label if device == "cuda" else "cpu",
                                 "model": name, "faces": n, "providers": runner.providers,
                                 "ms_median": round(statistics.median(t), 3)})
                    check.say(f"onnxruntime {rows[-1]['variant']} {name} {n} faces: "
                              f"{rows[-1]['ms_median']:.3f} ms ({runner.providers[0]})")
                del runner
        finally:
            for k, v in saved.items():
                if v is None:
                    os.environ.pop(k, None)
                else:
                    os.environ[k] = v
    check.results["onnxruntime"] = rows


def node_reason() -> str | None:
    """What the node over DDS lacks here, or None."""
    for mod, why in (("rclpy", "rclpy (ROS 2 wheels or a distribution)"),
                     ("sensor_msgs", "sensor_msgs"), ("diagnostic_msgs", "diagnostic_msgs"),
                     ("mediapipe", "mediapipe (the face detector)")):
        if not _have(mod):
            return f"{why} not importable"
    return None


def section_node(check: Check, device: str, wdir: Path, out: Path, quick: bool) -> None:
    from bench.__main__ import bench_frames
    from bench.dds import Camera, dds_env, start_node

    env = dds_env(150 + os.getpid() % 80, out / "onnx_cache")
    os.environ["FASTDDS_DEFAULT_PROFILES_FILE"] = env["FASTDDS_DEFAULT_PROFILES_FILE"]
    frames = bench_frames()
    tf = _have("tf2_msgs") or _have("tf2_ros")
    if not tf:
        check.say("node: tf2_msgs/tf2_ros not importable: publish_tf:=false")
    duration, warmup = (1.5, 1.0) if quick else (5.0, 2.0)
    cam = Camera(env)
    rows = []
    try:
        for name, (backbone, _) in MODELS.items():
            for tiles in (1,) if check.rehearse else (1, 2):
                if check.left() < 60:
                    check.skip(f"node {name} tiles={tiles}", "time budget used up")
                    continue
                params = {"weights": str(_weights(backbone, wdir)), "device": device,
                          "backend": "auto", "diagnostics_period_s": 0.5,
                          "detector_tiles": tiles, "publish_tf": tf}
                node = start_node(out / f"node_{name}_tiles{tiles}.log", params, env)
                try:
                    startup = cam.wait_ready(node, 240.0)
                    diag = cam.latest_diag()
                    for n in (1,) if check.rehearse else FACES if tiles == 1 else (20,):
                        msg, info = cam.make_frame(frames[n])
                        for rate in (30.0, 0.0):
                            r = cam.run(msg, info, rate, duration, warmup, min_results=5,
                                        max_duration=2 * duration)
                            rows.append({"model": name, "backbone": backbone, "tiles": tiles,
                                         "faces": n, "device": diag.get("device", device),
                                         "backend": diag.get("backend"),
                                         "startup_s": round(startup, 1), **r})
                            check.say(
                                f"node {name} tiles={tiles} {n} faces input {r['input']}: "
                                f"{r['processed_rate_hz']} Hz, latency median "
                                f"{r['latency_ms_median']} ms (found {r['faces_published']})")
                finally:
                    node.stop()
    finally:
        cam.close()
    check.results["node"] = rows


def multicamera_reason() -> str | None:
    """What the multi-camera run lacks here, or None."""
    from ldl_pose_ros.core.params import SPECS

    if "cameras" not in SPECS:
        return "the node has no multi-camera support ('cameras' parameter)"
    return node_reason()


def section_multicamera(check: Check, device: str, wdir: Path, out: Path, quick: bool) -> None:
    from bench.__main__ import bench_frames
    from bench.dds import dds_env
    from bench.multicam import compare, run_multicam

    if check.left() < 120:
        check.skip("multicamera", "time budget used up")
        return
    env = dds_env(150 + (os.getpid() + 40) % 80, out / "onnx_cache")
    os.environ["FASTDDS_DEFAULT_PROFILES_FILE"] = env["FASTDDS_DEFAULT_PROFILES_FILE"]
    cameras = 2 if check.rehearse else 4
    duration, warmup = (1.5, 1.0) if quick else (5.0, 2.0)
    params = {"weights": str(_weights("facemesh", wdir)), "device": device,
              "backend": "auto", "diagnostics_period_s": 0.5,
              "publish_tf": _have("tf2_msgs") or _have("tf2_ros")}
    rows = run_multicam(params, env, bench_frames()[1], out, counts=(cameras,),
                        duration=duration, warmup=warmup, log=check.say)
    check.results["multicamera"] = [{k: v for k, v in r.items() if k != "per_camera"}
                                    for r in rows]
    check.results["multicamera_per_camera"] = [r["per_camera"] for r in rows]
    summary = compare(rows, cameras)
    if summary:
        check.results["multicamera_summary"] = summary
        check.say(f"multicamera {cameras} cameras, one process / node per camera: CPU "
                  f"{summary['cpu_ratio']}, per frame {summary['cpu_per_frame_ratio']}, "
                  f"memory ({summary['memory_measure']}) {summary['memory_ratio']}")


def write_dataset(root: Path, samples: int) -> Path:
    """A folder+CSV training set: the shipped photograph, face boxes shifted and scaled."""
    import cv2

    from bench.scenes import DEMO_FACE_BOX
    from ldl_pose_ros.resources import DEMO_IMAGE

    root.mkdir(parents=True, exist_ok=True)
    img = cv2.imread(str(DEMO_IMAGE), cv2.IMREAD_COLOR)
    rng = np.random.default_rng(0)
    x1, y1, x2, y2 = DEMO_FACE_BOX
    files = []
    for i in range(8):  # a few distinct files, as a cache of decoded images would see
        name = f"img_{i}.jpg"
        cv2.imwrite(str(root / name), np.roll(img, 7 * i, axis=1))
        files.append(name)
    with open(root / "labels.csv", "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["file", "x1", "y1", "x2", "y2", "yaw", "pitch", "roll"])
        for i in range(samples):
            s, dx, dy = rng.uniform(0.9, 1.1), rng.uniform(-5, 5), rng.uniform(-5, 5)
            cx, cy, hw, hh = (x1 + x2) / 2 + dx, (y1 + y2) / 2 + dy, s * (x2 - x1) / 2, \
                s * (y2 - y1) / 2
            w.writerow([files[i % len(files)], cx - hw, cy - hh, cx + hw, cy + hh,
                        *np.round(rng.uniform(-60, 60, 3), 1)])
    return root


def section_training(check: Check, device: str, tmp: Path, quick: bool) -> None:
    from training.train import Trainer, load_config

    os.environ.setdefault("TQDM_DISABLE", "1")  # no progress bars in the check's output
    rows = []
    for name, (backbone, config) in MODELS.items():
        if check.left() < 45:
            check.skip(f"training {name}", "time budget used up")
            continue
        raw = load_config(REPO / config, {"data": {"train": [{"type": "csv", "root": "x"}]}})
        batch = raw.train.batch_size
        steps = 2 if check.rehearse else (10 if quick else 40)
        batch_used = 4 if check.rehearse else batch
        data = write_dataset(tmp / f"data_{name}", 4 * batch_used)
        workers = 0 if check.rehearse else min(raw.train.num_workers or 1,
                                                 max(1, (os.cpu_count() or 2) - 2))
        cfg = load_config(REPO / config, {
            "data": {"train": [{"type": "csv", "root": str(data)}], "val": []},
            "pretrained": None,
            "train": {"device": device, "epochs": 2, "batch_size": batch_used,
                      "num_workers": workers, "samples_per_epoch": steps * batch_used},
        })
        trainer = Trainer(cfg, tmp / f"run_{name}", log=lambda m: None)
        trainer.train_epoch(0)  # warm-up: workers, cuDNN autotuning, allocator
        if device == "cuda":
            import torch

            torch.cuda.synchronize()
        t0 = time.perf_counter()
        trainer.train_epoch(1)
        if device == "cuda":
            torch.cuda.synchronize()
        wall = time.perf_counter() - t0
        rows.append({"model": name, "backbone": backbone, "input_size":
                     trainer.mcfg.input_size, "batch_size": batch_used, "steps": steps,
                     "amp_fp16": trainer.amp, "num_workers": workers,
                     "images_per_s": round(steps * batch_used / wall, 1)})
        check.say(f"training {name} ({backbone} {trainer.mcfg.input_size} px, batch "
                  f"{batch_used}, amp {trainer.amp}): {rows[-1]['images_per_s']} images/s")
        del trainer
    check.results["training"] = rows


def render(check: Check) -> str:
    """A short Markdown report."""
    m = check.results.get("machine", {})
    lines = [f"# GPU check{' (REHEARSAL on CPU: figures mean nothing)' if check.rehearse else ''}",
             "", f"Machine: {json.dumps(m)}", ""]
    for key in ("network", "onnxruntime", "node", "multicamera", "training"):
        rows = check.results.get(key)
        if rows:
            cols = list(rows[0])
            lines += [f"## {key}", "", "| " + " | ".join(cols) + " |",
                      "|" + "---|" * len(cols)]
            lines += ["| " + " | ".join(str(r.get(c)) for c in cols) + " |" for r in rows]
            lines.append("")
    if check.skips:
        lines += ["## skipped", ""] + [f"- {s}" for s in check.skips]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=REPO / "out" / "gpu_check")
    ap.add_argument("--quick", action="store_true", help="short windows")
    ap.add_argument("--rehearse", action="store_true",
                    help="run every section on the CPU with tiny windows (no GPU needed)")
    ap.add_argument("--budget-s", type=float, default=420.0)
    ap.add_argument("--models", nargs="+", choices=list(MODELS), default=list(MODELS),
                    help="default: both (the default model and the paper setting)")
    args = ap.parse_args(argv)
    for name in set(MODELS) - set(args.models):
        del MODELS[name]
    check = Check(args.budget_s, args.rehearse)
    args.out.mkdir(parents=True, exist_ok=True)
    os.environ.setdefault("LDL_POSE_CACHE_DIR", str(args.out / "onnx_cache"))
    check.results["machine"] = machine()
    check.say(f"machine {json.dumps(check.results['machine'])}")
    reason = cuda_reason()
    device = "cpu" if args.rehearse else "cuda"
    if args.rehearse:
        check.say("REHEARSAL: every section on the CPU, tiny windows; figures mean nothing")
    quick = args.quick or args.rehearse
    wdir = args.out / "weights"
    with tempfile.TemporaryDirectory(prefix="gpu_check_") as tmp:
        sections = [
            ("network", None, lambda: section_network(check, device, wdir, quick)),
            ("onnxruntime", None, lambda: section_onnxruntime(check, device, wdir, quick)),
            ("node", node_reason(), lambda: section_node(check, device, wdir, args.out, quick)),
            ("multicamera", multicamera_reason(),
             lambda: section_multicamera(check, device, wdir, args.out, quick)),
            ("training", None, lambda: section_training(check, device, Path(tmp), quick)),
        ]
        for name, missing, run in sections:
            if reason is not None and not args.rehearse:
                check.skip(name, reason + (f"; also: {missing}" if missing else ""))
            elif missing is not None or run is None:
                check.skip(name, missing or "not available")
            elif check.left() < 30:
                check.skip(name, "time budget used up")
            else:
                run()
    (args.out / "gpu_check.json").write_text(
        json.dumps({**check.results, "skipped": check.skips, "rehearsal": args.rehearse},
                   indent=2, default=str) + "\n")
    (args.out / "gpu_check.md").write_text(render(check))
    check.say(f"wrote {args.out / 'gpu_check.json'} and gpu_check.md "
              f"({time.monotonic() - check.t0:.0f} s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
