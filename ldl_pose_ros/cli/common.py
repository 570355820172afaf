# Copyright 2026 The ldl_pose_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""Exit codes and messages shared by the ``ldl-pose`` subcommands."""

from __future__ import annotations

import argparse
import math
import os
import sys
from collections.abc import Callable

EXIT_OK = 0
EXIT_NOTHING_PROCESSED = 1
EXIT_USAGE = 2
EXIT_STOPPED = 3


def warn(msg: str) -> None:
    """``ldl-pose: warning: <msg>`` on stderr."""
    print(f"ldl-pose: warning: {msg}", file=sys.stderr)


def error(msg: str, code: int = EXIT_USAGE) -> int:
    """``ldl-pose: error: <msg>`` on stderr; returns ``code``."""
    print(f"ldl-pose: error: {msg}", file=sys.stderr)
    return code


def note(msg: str) -> None:
    """``ldl-pose: <msg>`` on stderr (progress, results)."""
    print(f"ldl-pose: {msg}", file=sys.stderr, flush=True)


def number_in(lo: float | None = None, hi: float | None = None, *, above: bool = False,
              integer: bool = False) -> Callable[[str], float]:
    """An argparse ``type`` for a finite number in ``[lo, hi]`` (``(lo, hi]`` with ``above``).

    ``nan`` and ``inf`` are refused wherever they would be meaningless (timeouts,
    rates, thresholds): argparse then reports the option and exits with status 2.
    """
    def parse(text: str) -> float:
        try:
            value: float = int(text) if integer else float(text)
        except ValueError:
            kind = "an integer" if integer else "a number"
            raise argparse.ArgumentTypeError(f"{text!r} is not {kind}") from None
        if not math.isfinite(value):
            raise argparse.ArgumentTypeError(f"{text!r} is not a finite number")
        if lo is not None and (value <= lo if above else value < lo):
            raise argparse.ArgumentTypeError(f"{text} must be {'>' if above else '>='} {lo:g}")
        if hi is not None and value > hi:
            raise argparse.ArgumentTypeError(f"{text} must be <= {hi:g}")
        return value

    parse.__name__ = "integer" if integer else "number"
    return parse


def allow_legacy_weights(enabled: bool) -> None:
    """``--allow-legacy-weights``: let checkpoints without a content digest load."""
    if enabled:
        from ldl_pose_ros.model.checkpoint import LEGACY_ENV

        os.environ[LEGACY_ENV] = "1"
