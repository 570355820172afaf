# Copyright 2026 The ldl_pose_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""Add the content digest to a checkpoint written before checkpoints carried one.

``python -m ldl_pose_ros.model.stamp OLD.ckpt NEW.ckpt`` writes ``NEW.ckpt``: the
same config, weights and extra as ``OLD.ckpt``, plus the SHA-256 that
``read_checkpoint`` requires.  Run it only on a file you trust: the digest
records the file as it is now (see ``ldl_pose_ros.model.checkpoint``; a digest
is not a signature).  The input is never modified.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ldl_pose_ros.model.checkpoint import CheckpointError, stamp_digest


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point; returns the exit code."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("src", type=Path, help="checkpoint without a digest")
    ap.add_argument("dst", type=Path, help="new checkpoint to write")
    args = ap.parse_args(argv)
    try:
        digest = stamp_digest(args.src, args.dst)
    except (CheckpointError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"{args.dst}: sha256 {digest}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
