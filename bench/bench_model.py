# Copyright 2026 The ldl_pose_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""Per-face network latency: backbone x input size x batch x backend x device.

Times ``PoseNetRunner.predict`` (network + expectation/std post-processing) on
random preprocessed batches with random-init weights (cost does not depend on
the weights).  Backends: torch and ONNX Runtime; devices: CPU, plus CUDA when
available.  Prints a table of median milliseconds per call and per face and
writes JSON (default ``out/bench_model.json``).

Run: ``python -m bench.bench_model [--quick] [--threads N] [--out PATH]``.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import platform
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from ldl_pose_ros.model import (
    BACKBONES,
    LDLHeadPoseNet,
    ModelConfig,
    PoseNetRunner,
    count_parameters,
    save_checkpoint,
)


def _devices() -> list[str]:
    devs = ["cpu"]
    if torch.cuda.is_available():
        devs.append("cuda")
    else:
        try:
            import onnxruntime as ort

            if "CUDAExecutionProvider" in ort.get_available_providers():
                devs.append("cuda")
        except ImportError:
            pass
    return devs


def time_runner(runner: PoseNetRunner, batch: int, min_time: float, max_iters: int) -> list[float]:
    s = runner.config.input_size
    x = np.random.default_rng(0).standard_normal((batch, 3, s, s)).astype(np.float32)
    for _ in range(2):  # warm-up (allocations, ORT/cuDNN autotuning)
        runner.predict(x)
    times: list[float] = []
    start = time.perf_counter()
    while len(times) < max_iters and (len(times) < 3 or time.perf_counter() - start < min_time):
        t0 = time.perf_counter()
        runner.predict(x)
        times.append((time.perf_counter() - t0) * 1e3)
    return times


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--backbones", nargs="+", default=list(BACKBONES), choices=BACKBONES)
    ap.add_argument("--sizes", nargs="+", type=int, default=[112, 128, 224])
    ap.add_argument("--batches", nargs="+", type=int, default=[1, 8])
    ap.add_argument("--backends", nargs="+", default=["torch", "onnx"], choices=["torch", "onnx"])
    ap.add_argument("--devices", nargs="+", default=None, help="default: cpu (+cuda if available)")
    ap.add_argument("--mirror", nargs="+", default=["off", "on"], choices=["off", "on"],
                    help="mirror averaging (two network passes per face): off, on or both")
    ap.add_argument("--threads", type=int, default=None, help="CPU intra-op threads")
    ap.add_argument("--min-time", type=float, default=1.0, help="seconds per configuration")
    ap.add_argument("--max-iters", type=int, default=200)
    ap.add_argument("--quick", action="store_true", help="min-time 0.2 s, max 10 iterations")
    ap.add_argument("--out", type=Path, default=Path("out/bench_model.json"))
    args = ap.parse_args(argv)
    if args.quick:
        args.min_time, args.max_iters = 0.2, 10
    devices = args.devices or _devices()
    if args.threads:
        torch.set_num_threads(args.threads)

    rows: list[dict] = []
    header = (
        f"{'backbone':<18}{'size':>5}{'batch':>6}  {'backend':<8}{'mirror':<7}{'device':<7}"
        f"{'ms/call':>9}{'ms/face':>9}{'faces/s':>9}"
    )
    print(header)
    print("-" * len(header))
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["LDL_POSE_CACHE_DIR"] = str(Path(tmp) / "onnx")  # keep user cache clean
        for name in args.backbones:
            for size in args.sizes:
                torch.manual_seed(0)
                cfg = ModelConfig(backbone=name, input_size=size)
                net = LDLHeadPoseNet(cfg)
                params = count_parameters(net)
                weights = save_checkpoint(Path(tmp) / f"{name}_{size}.ckpt", net, cfg)
                for backend, mirror, device in itertools.product(args.backends, args.mirror,
                                                                 devices):
                    try:
                        runner = PoseNetRunner(weights, device, backend, threads=args.threads,
                                               mirror_average=mirror == "on")
                    except (RuntimeError, ValueError) as exc:
                        print(f"{name:<18}{size:>5}  {backend}/{device}: skipped ({exc})")
                        continue
                    for batch in args.batches:
                        t = time_runner(runner, batch, args.min_time, args.max_iters)
                        med = statistics.median(t)
                        row = {
                            "backbone": name,
                            "input_size": size,
                            "batch": batch,
                            "backend": backend,
                            "mirror_average": mirror == "on",
                            "device": runner.device,
                            "providers": runner.providers,
                            "params": params,
                            "iters": len(t),
                            "ms_per_call_median": round(med, 3),
                            "ms_per_call_min": round(min(t), 3),
                            "ms_per_face": round(med / batch, 3),
                        }
                        rows.append(row)
                        print(
                            f"{name:<18}{size:>5}{batch:>6}  {backend:<8}{mirror:<7}"
                            f"{runner.device:<7}"
                            f"{med:>9.2f}{med / batch:>9.2f}{1e3 * batch / med:>9.1f}",
                            flush=True,
                        )
                    del runner
    result = {
        "machine": {
            "platform": platform.platform(),
            "processor": platform.processor() or platform.machine(),
            "cpu_count": os.cpu_count(),
            "torch_threads": torch.get_num_threads(),
            "torch": torch.__version__,
            "cuda": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
        },
        "settings": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()},
        "results": rows,
    }
    try:
        import onnxruntime as ort

        result["machine"]["onnxruntime"] = ort.__version__
    except ImportError:
        pass
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2))
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
