# Copyright 2026 The ldl_pose_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""Combine several evaluation ``metrics.json`` files into one paper-layout table.

Usage::

    python -m training.table runs/*/eval_*/metrics.json [--md table.md] [--csv table.csv]
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
from collections.abc import Sequence
from pathlib import Path

from ldl_pose_ros.core.evaluation import PAPER_HEADER, combined_table


def main(argv: Sequence[str] | None = None) -> int:
    """Command-line entry point."""
    ap = argparse.ArgumentParser(prog="python -m training.table",
                                 description=__doc__.split("\n")[0])
    ap.add_argument("metrics", nargs="+", help="metrics.json files written by training.evaluate")
    ap.add_argument("--md", help="write the Markdown table here")
    ap.add_argument("--csv", help="write the CSV table here")
    args = ap.parse_args(argv)
    try:
        results = [json.loads(Path(p).read_text()) for p in args.metrics]
        md, rows = combined_table(results)
    except (OSError, ValueError, KeyError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    if args.md:
        Path(args.md).write_text(md)
    if args.csv:
        with open(args.csv, "w", newline="") as f:
            w = csv.writer(f)
            w.writerow(PAPER_HEADER)
            w.writerows(rows)
    print(md, end="")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
