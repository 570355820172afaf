# Copyright 2026 The ldl_pose_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""Exit codes and messages shared by the ``ldl-pose`` subcommands."""

from __future__ import annotations

import sys

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
