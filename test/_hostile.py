# Copyright 2026 The ldl_pose_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""Helpers of the hostile-input tests: the CLI as a child process, its peak memory, limits."""

from __future__ import annotations

import csv
import os
import resource
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from bench.hostile import wait_measured

REPO_ROOT = Path(__file__).resolve().parents[1]
#: Names the tools document (README): the output folder's marker, the prefix of
#: temporary results, the opt-out for checkpoints without a digest.
MARKER = ".ldl-pose-output.json"
TEMP_PREFIX = ".ldl-pose-tmp-"
LEGACY_ENV = "LDL_POSE_ALLOW_LEGACY_WEIGHTS"
_PR_CAPBSET_DROP = 24
_CAP_DAC_OVERRIDE, _CAP_DAC_READ_SEARCH = 1, 2


@dataclass
class Run:
    """How a child process ended: exit code, output and peak resident memory (MB)."""

    code: int
    out: str
    err: str
    peak_mb: float
    seconds: float

    def error_lines(self) -> list[str]:
        """The ``ldl-pose: error:`` lines of stderr."""
        return [ln for ln in self.err.splitlines() if "error:" in ln]


def run_cli(args: Sequence[object], *, env: dict[str, str] | None = None,
            file_permissions: bool = False, fsize_limit: int | None = None,
            timeout: float = 300.0, cwd: Path | None = None,
            on_start: Callable[[subprocess.Popen[str]], None] | None = None) -> Run:
    """``python -m ldl_pose_ros.cli ARGS`` in a child; peak RSS from ``wait4``.

    ``file_permissions``: the child cannot override file permissions even as root
    (``CAP_DAC_OVERRIDE`` dropped from its bounding set, so a read-only folder is
    read-only for it); ``fsize_limit``: ``RLIMIT_FSIZE`` in bytes (writes beyond it
    fail with EFBIG, as on a full disk); ``on_start`` gets the process (signals).
    """
    full_env = dict(os.environ if env is None else env)
    full_env.setdefault("OMP_NUM_THREADS", "1")
    full_env["PYTHONDONTWRITEBYTECODE"] = "1"

    def preexec() -> None:
        if fsize_limit is not None:
            signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
            resource.setrlimit(resource.RLIMIT_FSIZE, (fsize_limit, fsize_limit))
        if file_permissions and os.geteuid() == 0:
            import ctypes

            libc = ctypes.CDLL(None, use_errno=True)
            for cap in (_CAP_DAC_OVERRIDE, _CAP_DAC_READ_SEARCH):
                if libc.prctl(_PR_CAPBSET_DROP, cap, 0, 0, 0) != 0:
                    raise OSError(ctypes.get_errno(), "prctl(PR_CAPBSET_DROP)")

    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        t0 = time.monotonic()
        proc = subprocess.Popen(
            [sys.executable, "-m", "ldl_pose_ros.cli", *map(str, args)],
            stdout=out, stderr=err, env=full_env, cwd=cwd or REPO_ROOT, text=True,
            preexec_fn=preexec)
        if on_start is not None:
            on_start(proc)
        code, peak_mb = wait_measured(proc, timeout)
        seconds = time.monotonic() - t0
        out.seek(0)
        err.seek(0)
        return Run(code, out.read(), err.read(), peak_mb, seconds)


def one_error_line(err: str) -> str:
    """The run printed exactly one error line, no traceback, no torch advice; returns it."""
    lines = [ln for ln in err.splitlines() if "error:" in ln]
    assert len(lines) == 1, err
    assert "Traceback" not in err and "weights_only" not in err, err
    return lines[0]


def csv_rows(path: Path) -> list[dict[str, str]]:
    """The rows of a CSV file with a header."""
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def tree(folder: Path) -> dict[str, bytes]:
    """Every file under ``folder`` with its bytes (to prove nothing changed)."""
    return {str(p.relative_to(folder)): p.read_bytes()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def nan_checkpoint(path: Path) -> Path:
    """A checkpoint with a valid digest and finite values whose network outputs NaN.

    A BatchNorm running variance of -1 (finite, so it loads) makes every output
    ``sqrt(-1)``: what a damaged or hostile checkpoint can do.
    """
    import torch

    from ldl_pose_ros.model import LDLHeadPoseNet, ModelConfig, save_checkpoint

    torch.manual_seed(0)
    cfg = ModelConfig(input_size=64, width_mult=0.5)
    net = LDLHeadPoseNet(cfg)
    bn = next(m for m in net.modules() if isinstance(m, torch.nn.BatchNorm2d))
    with torch.no_grad():
        bn.running_var.fill_(-1.0)
    return save_checkpoint(path, net.eval(), cfg)


def rewrite_bag(src: Path, dst: Path, change: Callable[[str, int, object], object | None]
                ) -> Path:
    """Copy bag ``src`` to a new MCAP bag ``dst``, passing each message through ``change``.

    ``change(topic, index_on_topic, msg)`` returns the message to write (modified in
    place or new) or None to drop it.
    """
    from ldl_pose_ros.bag import io
    from ldl_pose_ros.bag.writer import OutputBag

    counts: dict[str, int] = {}
    with io.BagReader(src) as bag, OutputBag(dst) as out:
        for m in bag.messages(list(bag.topics)):
            k = counts.get(m.topic, 0)
            counts[m.topic] = k + 1
            msg = change(m.topic, k, io.deserialize(m.data, m.msgtype))
            if msg is not None:
                out.write(m.topic, msg, m.log_time_ns)
    return dst
