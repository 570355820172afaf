# Copyright 2026 The ldl_pose_ros Authors
# SPDX-License-Identifier: Apache-2.0
r"""Average the weights of checkpoints of one training run (weight averaging, SWA-style).

Snapshots taken along one run's trajectory (``train.keep_epochs: true`` writes one per
epoch) lie in one basin of the loss; their mean often generalises better than any of
them, at no cost at inference.  The checkpoints must share their model configuration
(the ``meta`` provenance aside) and the network must have no batch-norm statistics:
those would need recomputing on training data, which this tool does not do.

    python -m training.average_checkpoints --out runs/avg.ckpt \
        runs/main/epoch_005.ckpt runs/main/best.ckpt [--weights 1,1]

The output records its sources and weights in ``meta['averaged']``.
"""

from __future__ import annotations

import argparse
import dataclasses
import math
import sys
from collections.abc import Sequence
from pathlib import Path

from ldl_pose_ros.model import load_checkpoint, save_checkpoint
from ldl_pose_ros.model.checkpoint import CheckpointError


def _without_meta(cfg_dict: dict) -> dict:
    return {k: v for k, v in cfg_dict.items() if k != "meta"}


def average_checkpoints(paths: Sequence[str | Path], out: str | Path,
                        weights: Sequence[float] | None = None) -> Path:
    """Write the ``weights``-weighted mean (default: uniform) of ``paths`` to ``out``.

    Raises:
        ValueError: fewer than two inputs, bad weights, ``out`` among the inputs,
            configurations that differ, or a network with batch-norm statistics.
        CheckpointError: an input that cannot be read.
    """
    paths = [Path(p) for p in paths]
    if len(paths) < 2:
        raise ValueError("averaging needs at least two checkpoints")
    w = [1.0] * len(paths) if weights is None else [float(x) for x in weights]
    if len(w) != len(paths) or any(not (math.isfinite(x) and x >= 0) for x in w) \
            or sum(w) <= 0:
        raise ValueError(f"need {len(paths)} non-negative weights with a positive sum, got {w}")
    out = Path(out)
    if any(out.resolve() == p.resolve() for p in paths):
        raise ValueError(f"--out {out} is one of the inputs")
    model, cfg = load_checkpoint(paths[0], "cpu")
    stats = [n for n, _ in model.named_buffers() if n.endswith(("running_mean", "running_var"))]
    if stats:
        raise ValueError(f"{cfg.backbone} has batch-norm statistics ({stats[0]}, ...): their "
                         "average is not the statistics of the averaged network")
    total = sum(w)
    first = model.state_dict()
    config = _without_meta(cfg.to_dict())
    acc = {k: v.double() * (w[0] / total) for k, v in first.items()}
    for p, wi in zip(paths[1:], w[1:], strict=True):
        m, c = load_checkpoint(p, "cpu")
        if _without_meta(c.to_dict()) != config:
            raise ValueError(f"{p}: its model configuration differs from {paths[0]}'s")
        for k, v in m.state_dict().items():
            acc[k] += v.double() * (wi / total)
    model.load_state_dict({k: v.to(first[k].dtype) for k, v in acc.items()})
    meta = dict(cfg.meta)
    meta["averaged"] = {"checkpoints": [str(p) for p in paths], "weights": w}
    return save_checkpoint(out, model, dataclasses.replace(cfg, meta=meta))


def main(argv: Sequence[str] | None = None) -> int:
    """Command-line entry point."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("checkpoints", nargs="+", help="checkpoints of one run")
    ap.add_argument("--out", required=True, help="averaged checkpoint to write")
    ap.add_argument("--weights", default=None,
                    help="comma-separated weight per checkpoint (default: uniform)")
    args = ap.parse_args(argv)
    try:
        weights = None if args.weights is None else [float(x) for x in args.weights.split(",")]
        path = average_checkpoints(args.checkpoints, args.out, weights)
    except (ValueError, CheckpointError) as exc:
        print(f"average_checkpoints: {exc}", file=sys.stderr)
        return 2
    print(f"wrote {path} (mean of {len(args.checkpoints)} checkpoints)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
