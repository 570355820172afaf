# Copyright 2026 The ldl_pose_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""What the benchmark ran on and what else was running: CPU model, cores, load, memory."""

from __future__ import annotations

import os
import platform
import re
import subprocess
import time
from pathlib import Path
from typing import Any


def _lscpu() -> dict[str, str]:
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True, timeout=10).stdout
    except (OSError, subprocess.SubprocessError):
        return {}
    info = {}
    for line in out.splitlines():
        key, sep, value = line.partition(":")
        if sep:
            info[key.strip()] = value.strip()
    return info


def _cpu_times() -> tuple[float, float]:
    """(busy, total) jiffies of all CPUs from ``/proc/stat``."""
    with open("/proc/stat") as f:
        fields = [float(x) for x in f.readline().split()[1:]]
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0.0)
    total = sum(fields[:8])
    return total - idle, total


def cpu_busy_fraction(seconds: float = 2.0) -> float | None:
    """Fraction of all CPU time that was busy over ``seconds`` (whole machine)."""
    try:
        b0, t0 = _cpu_times()
        time.sleep(seconds)
        b1, t1 = _cpu_times()
    except OSError:
        return None
    return round((b1 - b0) / max(t1 - t0, 1e-9), 3)


def other_jobs(pattern: str = r"-m training\.train") -> list[str]:
    """Command lines of running processes matching ``pattern`` (e.g. a training job)."""
    try:
        out = subprocess.run(["pgrep", "-af", pattern], capture_output=True, text=True,
                             timeout=10).stdout
    except (OSError, subprocess.SubprocessError):
        return []
    me = str(os.getpid())
    return [ln for ln in out.splitlines() if ln and not ln.startswith(me + " ")
            and "pgrep" not in ln]


def machine_info() -> dict[str, Any]:
    """CPU model, core counts, memory, library versions."""
    cpu = _lscpu()
    mem_kb = None
    try:
        text = Path("/proc/meminfo").read_text()
        m = re.search(r"MemTotal:\s+(\d+)", text)
        mem_kb = int(m.group(1)) if m else None
    except OSError:
        pass
    info: dict[str, Any] = {
        "cpu_model": cpu.get("Model name", platform.processor() or platform.machine()),
        "cpus": int(cpu.get("CPU(s)", os.cpu_count() or 0)),
        "cores_per_socket": cpu.get("Core(s) per socket"),
        "threads_per_core": cpu.get("Thread(s) per core"),
        "sockets": cpu.get("Socket(s)"),
        "usable_cpus": len(os.sched_getaffinity(0)),
        "memory_gb": round(mem_kb / 2**20, 1) if mem_kb else None,
        "platform": platform.platform(),
        "python": platform.python_version(),
    }
    for mod in ("torch", "onnxruntime", "cv2", "mediapipe", "numpy"):
        try:
            info[mod] = __import__(mod).__version__
        except ImportError:
            info[mod] = None
    return info


def load_snapshot(sample_s: float = 2.0) -> dict[str, Any]:
    """Load average, busy CPU fraction over ``sample_s`` and other jobs right now."""
    return {
        "time_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "loadavg_1m": os.getloadavg()[0],
        "cpu_busy_fraction": cpu_busy_fraction(sample_s),
        "training_jobs": other_jobs(),
        "pytest_runs": other_jobs(r"python.* -m pytest"),
    }
