# Copyright 2026 The ldl_pose_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""In-process timings: the estimator per frame (for the peer ratio) and the network backends.

``frame_stages`` times ``HeadPoseEstimator.estimate_timed`` on a BGR frame (what the
node does per frame minus transport, tracking and publishing).  ``network_backends``
times the network alone on random batches: torch eager, TorchScript (traced,
frozen, ``optimize_for_inference``) and ONNX Runtime; torch.compile only on
request (its CPU compile takes minutes on a small machine).
"""

from __future__ import annotations

import statistics
import time
from pathlib import Path
from typing import Any

import numpy as np

STAGES = ("decode_ms", "detect_ms", "crop_ms", "network_ms", "post_ms", "total_ms")


def frame_stages(est: Any, frame: np.ndarray, repeats: int, warmup: int = 3) -> dict[str, Any]:
    """Median stage milliseconds of ``est.estimate_timed(frame)`` and the faces found."""
    runs = []
    found = 0
    for i in range(warmup + repeats):
        poses, timing = est.estimate_timed(frame, "bgr")
        found = len(poses)
        if i >= warmup:
            runs.append(timing.as_dict())
    out: dict[str, Any] = {
        k: round(statistics.median(r[k] for r in runs), 3) for k in STAGES
    }
    out["total_ms_p90"] = round(float(np.percentile([r["total_ms"] for r in runs], 90)), 3)
    out["faces_found"] = found
    out["repeats"] = repeats
    return out


def _time_call(fn: Any, x: Any, min_time: float, max_iters: int) -> float:
    for _ in range(2):
        fn(x)
    times: list[float] = []
    start = time.perf_counter()
    while len(times) < max_iters and (len(times) < 5 or time.perf_counter() - start < min_time):
        t0 = time.perf_counter()
        fn(x)
        times.append((time.perf_counter() - t0) * 1e3)
    return round(statistics.median(times), 3)


def network_backends(
    weights: Path,
    batches: tuple[int, ...],
    threads: int,
    min_time: float,
    compile_too: bool = False,
) -> list[dict[str, Any]]:
    """Median ms per call of the network (softmax output) for each backend and batch."""
    import torch

    from ldl_pose_ros.model import PoseNetRunner, load_checkpoint

    torch.set_num_threads(threads)
    model, cfg = load_checkpoint(weights, "cpu")
    model.eval()
    s = cfg.input_size
    fns: dict[str, Any] = {}
    with torch.inference_mode():
        fns["torch eager"] = lambda x: torch.softmax(model(x), -1)
        traced = torch.jit.optimize_for_inference(
            torch.jit.freeze(torch.jit.trace(model, torch.zeros(2, 3, s, s)))
        )
        fns["torchscript"] = lambda x: torch.softmax(traced(x), -1)
        if compile_too:
            compiled = torch.compile(model, dynamic=True)
            fns["torch.compile"] = lambda x: torch.softmax(compiled(x), -1)
    ort = PoseNetRunner(weights, device="cpu", backend="onnx", threads=threads,
                        mirror_average=False)
    ort_mirror = PoseNetRunner(weights, device="cpu", backend="onnx", threads=threads,
                               mirror_average=True)
    rows = []
    for batch in batches:
        x = torch.from_numpy(
            np.random.default_rng(0).standard_normal((batch, 3, s, s)).astype(np.float32)
        )
        row: dict[str, Any] = {"backbone": cfg.backbone, "input_size": s, "batch": batch,
                               "threads": threads}
        with torch.inference_mode():
            for name, fn in fns.items():
                row[name] = _time_call(fn, x, min_time, 200)
        row["onnxruntime"] = _time_call(ort.probabilities, x.numpy(), min_time, 200)
        # as the product runs it by default: each face with its mirror (two passes)
        row["onnxruntime mirror"] = _time_call(ort_mirror.probabilities, x.numpy(), min_time,
                                               200)
        rows.append(row)
    return rows
