# Copyright 2026 The ldl_pose_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""Write the ONNX file that ships beside a checkpoint, and check that it matches.

``python -m ldl_pose_ros.model.export`` exports the shipped default model
(``ldl_pose_ros/weights/default.ckpt`` -> ``default.onnx``) so that the ONNX
Runtime backend (the default on CPU) starts without exporting.  The file records
the checkpoint's SHA-256; :class:`~ldl_pose_ros.model.runner.PoseNetRunner`
ignores it (with a warning, falling back to its export cache) when the checkpoint
changed.  Re-run this command whenever a checkpoint is replaced.

Usage: ``python -m ldl_pose_ros.model.export [--weights CKPT] [--out ONNX] [--check-only]``
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

import numpy as np

from ldl_pose_ros.model.onnx_cache import (
    export_onnx,
    file_sha256,
    onnx_weights_sha256,
    sibling_onnx_path,
)
from ldl_pose_ros.resources import DEFAULT_WEIGHTS


def verify_onnx(
    weights: str | os.PathLike[str],
    onnx_path: str | os.PathLike[str],
    batch: int = 4,
    atol_deg: float = 1e-3,
) -> float:
    """Check that ``onnx_path`` was exported from ``weights`` and computes the same angles.

    Compares the recorded checkpoint hash, then runs torch and ONNX Runtime on one
    seeded random batch.  Returns the largest angle difference (degrees); raises
    ``ValueError`` on a hash mismatch or a difference above ``atol_deg``.
    """
    import onnxruntime as ort
    import torch

    from ldl_pose_ros.model.checkpoint import load_checkpoint
    from ldl_pose_ros.model.distribution import bin_centers_np, expectation_and_std_np

    recorded = onnx_weights_sha256(Path(onnx_path))
    actual = file_sha256(Path(weights))
    if recorded != actual:
        raise ValueError(
            f"{onnx_path} records checkpoint hash {recorded}, but {weights} has {actual}: "
            "re-run `python -m ldl_pose_ros.model.export`"
        )
    model, cfg = load_checkpoint(Path(weights), "cpu")
    s = cfg.input_size
    x = np.random.default_rng(0).standard_normal((batch, 3, s, s)).astype(np.float32)
    with torch.inference_mode():
        p_torch = torch.softmax(model.eval()(torch.from_numpy(x)).float(), dim=-1).numpy()
    sess = ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
    p_onnx = sess.run(None, {sess.get_inputs()[0].name: x})[0]
    centers = bin_centers_np(cfg)
    a_torch, _ = expectation_and_std_np(p_torch, centers)
    a_onnx, _ = expectation_and_std_np(p_onnx, centers)
    diff = float(np.max(np.abs(a_torch - a_onnx)))
    if diff > atol_deg:
        raise ValueError(f"ONNX and torch angles differ by {diff:.2g} deg (> {atol_deg})")
    return diff


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point; returns the exit code."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--weights", type=Path, default=DEFAULT_WEIGHTS, help="checkpoint")
    ap.add_argument("--out", type=Path, default=None, help="ONNX file (default: beside it)")
    ap.add_argument("--check-only", action="store_true", help="verify an existing file")
    args = ap.parse_args(argv)
    if not args.weights.is_file():
        print(f"error: no checkpoint at {args.weights}", file=sys.stderr)
        return 2
    out = args.out or sibling_onnx_path(args.weights)
    if not args.check_only:
        # Export to a temporary file first: a failed export never replaces a good one.
        with tempfile.TemporaryDirectory(dir=out.parent if out.parent.exists() else None) as d:
            tmp = export_onnx(args.weights, Path(d) / out.name)
            verify_onnx(args.weights, tmp)
            out.parent.mkdir(parents=True, exist_ok=True)
            os.replace(tmp, out)
        out.chmod(0o644)
    try:
        diff = verify_onnx(args.weights, out)
    except (ValueError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(f"{out}: matches {args.weights.name} (max angle difference {diff:.2g} deg)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
