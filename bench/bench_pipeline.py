# Copyright 2026 The ldl_pose_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""Per-stage latency of the estimator for 1, 5 and 20 faces per 640x480 frame.

Frames are composed from the shipped demo photograph (``bench.scenes.face_grid``).  Three
modes per face count:

* ``detector``: the default MediaPipe detector on the whole frame;
* ``detector+tiles2``: MediaPipe with a 2x2 tile pass (finds the small faces of the
  20-face frame at about 5x the detection cost);
* ``boxes``: the known face boxes, no detection (network cost for exactly N faces).

Prints a table of median milliseconds per stage and writes ``out/bench_pipeline.json``.
Without trained default weights a random-init model of the default architecture is
timed (same cost).  Run: ``python -m bench.bench_pipeline [--backend onnx] ...``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import tempfile
from pathlib import Path

import cv2
import numpy as np

from bench.scenes import DEMO_FACE_BOX, face_grid
from ldl_pose_ros.core.estimator import HeadPoseEstimator, StageTiming
from ldl_pose_ros.resources import DEFAULT_WEIGHTS, DEMO_IMAGE

STAGES = ("decode_ms", "detect_ms", "crop_ms", "network_ms", "post_ms", "total_ms")


def _weights(path: str | None, tmp: Path) -> tuple[Path, str]:
    if path:
        return Path(path), "given"
    if DEFAULT_WEIGHTS.is_file():
        return DEFAULT_WEIGHTS, "default"
    import torch

    from ldl_pose_ros.model import LDLHeadPoseNet, ModelConfig, save_checkpoint

    torch.manual_seed(0)
    cfg = ModelConfig()
    return save_checkpoint(tmp / "random.ckpt", LDLHeadPoseNet(cfg), cfg), "random-init default"


def _median_timing(
    est: HeadPoseEstimator, frame: np.ndarray, boxes: np.ndarray | None, repeats: int, warmup: int
) -> tuple[dict[str, float], int]:
    runs: list[StageTiming] = []
    faces = 0
    for i in range(warmup + repeats):
        poses, timing = est.estimate_timed(frame, "bgr", boxes=boxes)
        faces = len(poses)
        if i >= warmup:
            runs.append(timing)
    med = {k: statistics.median(t.as_dict()[k] for t in runs) for k in STAGES}
    return med, faces


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--weights", help="checkpoint (default: shipped, else random-init)")
    parser.add_argument("--backend", choices=("auto", "torch", "onnx"), default="auto")
    parser.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto")
    parser.add_argument("--threads", type=int, default=None, help="network CPU threads")
    parser.add_argument("--faces", type=int, nargs="+", default=[1, 5, 20])
    parser.add_argument("--repeats", type=int, default=30)
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--out-dir", default="out")
    args = parser.parse_args(argv)

    demo = cv2.imread(str(DEMO_IMAGE), cv2.IMREAD_COLOR)
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        weights, origin = _weights(args.weights, Path(tmp))
        common = dict(weights=weights, device=args.device, backend=args.backend)
        common["threads"] = args.threads
        modes = {
            "detector": HeadPoseEstimator(**common),
            "detector+tiles2": HeadPoseEstimator(**common, detector_options={"tiles": 2}),
            "boxes": HeadPoseEstimator(**common, detector=None),
        }
        cfg = modes["boxes"].config
        device = modes["boxes"].device
        for n in args.faces:
            frame, boxes = face_grid(demo, DEMO_FACE_BOX, n)
            for mode, est in modes.items():
                med, found = _median_timing(
                    est, frame, boxes if mode == "boxes" else None, args.repeats, args.warmup
                )
                results.append({"faces": n, "mode": mode, "faces_found": found, **med})
        for est in modes.values():
            est.close()

    import torch

    meta = {
        "weights": origin,
        "backbone": cfg.backbone,
        "input_size": cfg.input_size,
        "backend": args.backend,
        "device": device,
        "torch": torch.__version__,
        "torch_threads": torch.get_num_threads(),
        "cpu_count": os.cpu_count(),
        "machine": platform.processor() or platform.machine(),
        "frame": "640x480 composed from resources.DEMO_IMAGE",
        "repeats": args.repeats,
        "statistic": "median ms",
    }
    print(
        f"# {meta['backbone']}@{meta['input_size']} ({origin}), {args.backend} on {device}, "
        f"torch threads {meta['torch_threads']}, cpus {meta['cpu_count']}; median of "
        f"{args.repeats} runs (ms)"
    )
    head = f"{'faces':>5} {'mode':<16} {'found':>5} " + " ".join(
        f"{s.removesuffix('_ms'):>8}" for s in STAGES
    )
    print(head)
    print("-" * len(head))
    for r in results:
        cells = " ".join(f"{r[s]:8.2f}" for s in STAGES)
        print(f"{r['faces']:>5} {r['mode']:<16} {r['faces_found']:>5} {cells}")
    out_dir = Path(args.out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    out = out_dir / "bench_pipeline.json"
    out.write_text(json.dumps({"meta": meta, "results": results}, indent=2) + "\n")
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
