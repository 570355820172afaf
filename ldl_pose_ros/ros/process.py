# Copyright 2026 The ldl_pose_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""The node as a child process: the one harness of the demo, the bench and the tests.

:class:`NodeProcess` starts ``python -m ldl_pose_ros.ros.node`` with parameters and
remappings (``--ros-args``), writes its output to a log file, waits for its ready
line, finds the process that runs it (the ROS wheels' bootstrap may start a second
interpreter), reads its memory and stops it with a signal.  Nothing here imports
rclpy; the environment comes from :func:`ldl_pose_ros.ros.dds.node_environment`.
"""

from __future__ import annotations

import re
import signal
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import TracebackType

from ldl_pose_ros.ros.dds import node_environment

#: The node logs this (with its input, model and detector) once it serves (activated).
READY = "ready:"
#: The node logs this when it waits for lifecycle transitions (``autostart: false``).
WAITING = "unconfigured: waiting for lifecycle transitions"
MODULE = "ldl_pose_ros.ros.node"


def ros_args(params: Mapping[str, bool | int | float | str] | None = None,
             remap: Mapping[str, str] | None = None, params_file: Path | None = None,
             namespace: str | None = None) -> list[str]:
    """``--ros-args`` of a node: parameter file first, then ``-p`` values and ``-r`` remaps."""
    args = ["--ros-args"]
    if params_file is not None:
        args += ["--params-file", str(params_file)]
    for k, v in (params or {}).items():
        args += ["-p", f"{k}:={str(v).lower() if isinstance(v, bool) else v}"]
    if namespace is not None:
        args += ["-r", f"__ns:={namespace}"]
    for src, dst in (remap or {}).items():
        args += ["-r", f"{src}:={dst}"]
    return args


def descendants(pid: int) -> list[int]:
    """``pid`` and all its descendant process ids (depth first)."""
    out = [pid]
    try:
        for task in Path(f"/proc/{pid}/task").iterdir():
            for c in (task / "children").read_text().split():
                out.extend(descendants(int(c)))
    except OSError:
        pass
    return out


def proc_memory(pid: int) -> dict[str, float | None]:
    """``VmRSS`` and ``VmHWM`` (peak) of a process in MB, from ``/proc/<pid>/status``."""
    out: dict[str, float | None] = {"rss_mb": None, "hwm_mb": None}
    try:
        text = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return out
    for key, name in (("VmRSS", "rss_mb"), ("VmHWM", "hwm_mb")):
        m = re.search(rf"{key}:\s+(\d+)\s+kB", text)
        if m:
            out[name] = round(int(m.group(1)) / 1024, 1)
    return out


class NodeProcess:
    """``python -m ldl_pose_ros.ros.node`` as a child process, its output in ``log``.

    Args:
        log: file that receives the node's stdout and stderr.
        params, remap, params_file, namespace: its ``--ros-args`` (:func:`ros_args`).
        env: environment (default: :func:`~ldl_pose_ros.ros.dds.node_environment`).
        extra_args: more arguments after those.
        cwd: working directory.
    """

    def __init__(self, log: Path, *, params: Mapping[str, bool | int | float | str] | None = None,
                 remap: Mapping[str, str] | None = None, params_file: Path | None = None,
                 namespace: str | None = None, env: Mapping[str, str] | None = None,
                 extra_args: Sequence[str] = (), cwd: Path | None = None) -> None:
        self.log = Path(log)
        self._fh = open(self.log, "w")  # noqa: SIM115 - closed in stop()
        cmd = [sys.executable, "-m", MODULE,
               *ros_args(params, remap, params_file, namespace), *extra_args]
        self.started = time.monotonic()
        self.proc = subprocess.Popen(cmd, cwd=cwd, env=dict(env or node_environment()),
                                     stdout=self._fh, stderr=subprocess.STDOUT)

    def output(self) -> str:
        """The node's output so far."""
        if not self._fh.closed:
            self._fh.flush()
        return self.log.read_text(errors="replace")

    def tail(self, lines: int = 15) -> str:
        """The last lines of the output, without the DDS libraries' chatter."""
        keep = [ln for ln in self.output().splitlines() if not ln.startswith(("W0000", "I0000"))]
        return "\n".join(keep[-lines:])

    def running(self) -> bool:
        """True while the process lives."""
        return self.proc.poll() is None

    def wait_ready(self, timeout: float = 60.0, marker: str = READY) -> float:
        """Seconds until the node logs ``marker`` (default: its ready line).

        ``RuntimeError`` if it exits or times out first.
        """
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if marker in self.output():
                return time.monotonic() - self.started
            if not self.running():
                raise RuntimeError(f"the node exited ({self.proc.returncode}):\n{self.tail()}")
            time.sleep(0.05)
        raise RuntimeError(f"the node was not ready after {timeout:g} s:\n{self.tail()}")

    def pid(self) -> int:
        """Pid of the process running the node: the started one or a descendant it began."""
        for pid in reversed(descendants(self.proc.pid)):
            try:
                if MODULE.encode() in Path(f"/proc/{pid}/cmdline").read_bytes():
                    return pid
            except OSError:
                continue
        return self.proc.pid

    def memory(self) -> dict[str, float | None]:
        """``rss_mb`` and ``hwm_mb`` (peak) of the node process."""
        return proc_memory(self.pid())

    def stop(self, sig: int = signal.SIGINT, timeout: float = 20.0) -> int:
        """Send ``sig`` (SIGKILL after ``timeout`` s); returns the exit code."""
        if self.running():
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if not self._fh.closed:
            self._fh.close()
        return int(self.proc.returncode)

    def __enter__(self) -> NodeProcess:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()
