# Copyright 2026 The ldl_pose_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""What the launch file's decisions do to a real node process (no ``launch`` here).

``launch``/``launch_ros`` are not installable from PyPI, so ``ros2 launch`` itself is not
run.  The node is started the way ``launch_ros.actions.Node`` starts it (documented
behaviour, Humble to Rolling): ``[prefix...] <executable> --ros-args -r __node:=<name>
-r __ns:=<ns> --params-file <file>... -r <from>:=<to>``, where each dict in
``parameters`` becomes a temporary YAML file keyed by the fully qualified node name,
passed after the user's file.  A stand-in parent process plays the launch process.

Checked for real: rcl's precedence (a typed argument overrides the file, an untyped one
leaves the file's value), and the parent-death prefix (the node shuts down cleanly when
its launch process is killed, which is what happens on SIGTERM to ``ros2 launch``).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import yaml

rclpy = pytest.importorskip("rclpy")

from _dds_profile import probe_node  # noqa: E402
from rcl_interfaces.srv import GetParameters  # noqa: E402

from ldl_pose_ros.ros.launch_support import (  # noqa: E402
    exit_with_launch_prefix,
    parameter_overrides,
)

REPO = Path(__file__).resolve().parents[1]
POSE_NODE = Path(sys.executable).parent / "pose_node"
NAMESPACE = "/launch_semantics"
NODE = f"{NAMESPACE}/ldl_pose_node"
LAUNCHER = ("import subprocess, sys\n"
            "child = subprocess.Popen(sys.argv[1:])\n"
            "print(child.pid, flush=True)\n"
            "child.wait()\n")


def launch_ros_command(params_files: list[Path], overrides: dict[str, Any],
                       tmp: Path, prefix: str) -> list[str]:
    """The command line launch_ros builds for our Node action."""
    files = [str(p) for p in params_files]
    if overrides:
        generated = tmp / "launch_params_overrides.yaml"
        generated.write_text(yaml.safe_dump({NODE: {"ros__parameters": overrides}}))
        files.append(str(generated))
    args = [str(POSE_NODE), "--ros-args", "-r", "__node:=ldl_pose_node", "-r",
            f"__ns:={NAMESPACE}"]
    for f in files:
        args += ["--params-file", f]
    args += ["-r", "image:=/launch_semantics_cam/image", "-r",
             "camera_info:=/launch_semantics_cam/camera_info"]
    return prefix.split() + args


def _get_parameters(names: list[str], timeout: float) -> dict[str, Any]:
    ctx, node = probe_node("launch_semantics_probe")
    try:
        client = node.create_client(GetParameters, f"{NODE}/get_parameters")
        assert client.wait_for_service(timeout_sec=timeout), "node never offered its services"
        future = client.call_async(GetParameters.Request(names=names))
        executor = rclpy.executors.SingleThreadedExecutor(context=ctx)
        executor.add_node(node)
        executor.spin_until_future_complete(future, timeout_sec=30.0)
        values = future.result().values
        return {n: (v.string_value if v.type == 4 else v.bool_value if v.type == 1
                    else v.integer_value) for n, v in zip(names, values, strict=True)}
    finally:
        rclpy.shutdown(context=ctx)


def _gone(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return True
    return state in ("Z", "X")


@pytest.mark.skipif(not POSE_NODE.is_file(), reason="pose_node console script not installed")
@pytest.mark.skipif(not exit_with_launch_prefix(), reason="setpriv --pdeathsig unavailable")
@pytest.mark.timeout(240)
def test_params_file_precedence_and_exit_with_launch(tmp_path: Path) -> None:
    params = yaml.safe_load((REPO / "config" / "pose.yaml").read_text())
    user = params["/**"]["ros__parameters"]
    user.update(device="cpu", use_compressed=True, qos_depth=3)
    user_file = tmp_path / "my_params.yaml"
    user_file.write_text(yaml.safe_dump(params))
    # The user typed use_compressed:=false, not device: the file's device must survive.
    overrides = parameter_overrides({"device": "", "use_compressed": "false"})
    cmd = launch_ros_command([user_file], overrides, tmp_path, exit_with_launch_prefix())

    env = dict(os.environ, ROS_AUTOMATIC_DISCOVERY_RANGE="LOCALHOST", PYTHONUNBUFFERED="1",
               OMP_NUM_THREADS="1")
    log = tmp_path / "node.log"
    with open(log, "w") as fh:
        launcher = subprocess.Popen([sys.executable, "-c", LAUNCHER, *cmd], env=env,
                                    stdout=subprocess.PIPE, stderr=fh, text=True)
    node_pid = int(launcher.stdout.readline())
    try:
        got = _get_parameters(["device", "use_compressed", "qos_depth"], timeout=120.0)
        assert got == {"device": "cpu", "use_compressed": False, "qos_depth": 3}, \
            log.read_text()[-3000:]
        # The launch process dies (SIGKILL: no chance to pass anything on).
        launcher.send_signal(signal.SIGKILL)
        launcher.wait(10)
        deadline = time.monotonic() + 20.0
        while not _gone(node_pid) and time.monotonic() < deadline:
            time.sleep(0.1)
        out = log.read_text(errors="replace")
        assert _gone(node_pid), f"node {node_pid} outlived its launch process:\n{out[-3000:]}"
        assert "Traceback" not in out, out[-3000:]
    finally:
        if not _gone(node_pid):
            os.kill(node_pid, signal.SIGKILL)
        if launcher.poll() is None:
            launcher.kill()
