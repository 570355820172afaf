# Copyright 2026 The ldl_pose_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""The README's distribution route, run as written on an externally managed system Python.

The lines between the ``distribution-route`` markers of README.md are run by bash with
Debian 12's ``/usr/bin/python3`` (PEP 668) and a stand-in for ``/opt/ros``
(``scripts/ros_standin.sh``: the PyPI ROS wheels, tf2_msgs generated, colcon; cached
between runs).  Substituted: the workspace folder (a temporary one), ``git clone`` (a copy
of this checkout), ``/opt/ros/$ROS_DISTRO/setup.bash`` (the stand-in's).  Skipped: the
``sudo apt``/``rosdep`` lines, whose packages the stand-in provides.  ``ros2 launch`` is
replaced by what launch_ros would exec: the installed ``pose_node``, which must then run
with the venv's interpreter (the system Python has no torch) and answer over DDS.
Slow (about a minute: a venv with torch is installed from the local pip cache).
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from _build_cache import cached_build
from _dds_profile import probe_node

rclpy = pytest.importorskip("rclpy")

from rcl_interfaces.srv import GetParameters  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
SYSTEM_PYTHON = Path("/usr/bin/python3")
NAMESPACE = "/distro_route"
SKIPPED = ("sudo apt install", "sudo rosdep init", "rosdep install")


def _externally_managed() -> bool:
    if not SYSTEM_PYTHON.is_file():
        return False
    out = subprocess.run([str(SYSTEM_PYTHON), "-c", "import sysconfig, venv; "
                          "print(sysconfig.get_paths()['stdlib'])"],
                         capture_output=True, text=True)
    return out.returncode == 0 and (Path(out.stdout.strip()) / "EXTERNALLY-MANAGED").is_file()


pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not _externally_managed(),
                       reason="needs an externally managed /usr/bin/python3 with venv"),
]


def readme_route() -> list[str]:
    """The README's distribution-route commands, continuation lines joined."""
    text = (REPO / "README.md").read_text()
    block = re.search(r"<!-- distribution-route[^>]*-->\s*```bash\n(.*?)```", text, re.S)
    assert block, "README.md has no distribution-route block"
    joined = re.sub(r"\\\n\s*", "", block.group(1))
    return [line.split("  #")[0].strip() for line in joined.splitlines() if line.strip()]


def route_script(lines: list[str], ws: Path, checkout: Path, standin: Path) -> str:
    """The README lines with the substitutions of the module docstring."""
    out = ["set -eo pipefail", "set -x"]
    seen_launch = False
    for line in lines:
        if line.startswith(SKIPPED):
            continue
        line = line.replace("~/ws", str(ws))
        line = line.replace("git clone <this repository> ldl_pose_ros",
                            f"cp -a {checkout} ldl_pose_ros")
        line = line.replace("/opt/ros/$ROS_DISTRO/setup.bash", str(standin / "setup.bash"))
        if line.startswith("ros2 launch ldl_pose_ros pose.launch.py"):
            seen_launch = True
            line = ("exec install/ldl_pose_ros/lib/ldl_pose_ros/pose_node --ros-args "
                    f"-r __node:=ldl_pose_node -r __ns:={NAMESPACE} --params-file "
                    "install/ldl_pose_ros/share/ldl_pose_ros/config/pose.yaml "
                    "-p device:=cpu -r image:=/distro_route_cam/image")
        assert "<" not in line and "/opt/ros" not in line, f"unhandled README line: {line}"
        out.append(line)
    assert seen_launch, "README route does not end with ros2 launch"
    return "\n".join(out) + "\n"


def _copy_checkout(dest: Path) -> None:
    files = subprocess.run(["git", "ls-files", "-z", "--cached", "--others",
                            "--exclude-standard"], cwd=REPO, capture_output=True,
                           check=True).stdout.decode().split("\0")
    for rel in filter(None, files):
        src = REPO / rel
        if src.is_file():
            (dest / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dest / rel)


def _standin() -> Path:
    inputs = [REPO / "requirements" / "ros-wheels.txt", REPO / "requirements" / "base.txt",
              REPO / "scripts" / "ros_standin.sh", REPO / "scripts" / "build_interfaces.sh",
              REPO / "ros_deps" / "tf2_msgs"]
    version = subprocess.run([str(SYSTEM_PYTHON), "--version"], capture_output=True,
                             text=True).stdout

    def build(prefix: Path) -> None:
        subprocess.run([str(REPO / "scripts" / "ros_standin.sh"), str(prefix),
                        str(SYSTEM_PYTHON)], check=True, capture_output=True, timeout=900)

    return cached_build("ros_standin", inputs, build, extra=version)


@pytest.mark.timeout(1200)
def test_readme_distribution_route(tmp_path: Path) -> None:
    # What the route is for: pip into the system Python is refused (PEP 668).
    refused = subprocess.run([str(SYSTEM_PYTHON), "-m", "pip", "install", "--dry-run", "-r",
                              str(REPO / "requirements" / "base.txt")],
                             capture_output=True, text=True, timeout=120)
    if "No module named pip" not in refused.stderr:
        assert refused.returncode != 0
        assert "externally-managed-environment" in refused.stdout + refused.stderr
    # The node cannot run on the system Python: only the venv has torch.
    assert subprocess.run([str(SYSTEM_PYTHON), "-c", "import torch"],
                          capture_output=True).returncode != 0

    standin = _standin()
    checkout = tmp_path / "checkout"
    _copy_checkout(checkout)
    ws = tmp_path / "ws"
    script = tmp_path / "route.sh"
    script.write_text(route_script(readme_route(), ws, checkout, standin))
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("PYTHON", "VIRTUAL_ENV", "AMENT", "CMAKE_PREFIX", "COLCON",
                                "LD_LIBRARY_PATH", "_ROS_WHEELS"))}
    env.update(PATH="/usr/bin:/bin", ROS_AUTOMATIC_DISCOVERY_RANGE="LOCALHOST",
               PYTHONUNBUFFERED="1", OMP_NUM_THREADS="1")
    log = tmp_path / "route.log"
    with open(log, "w") as fh:
        proc = subprocess.Popen(["bash", str(script)], cwd=tmp_path, env=env, stdout=fh,
                                stderr=subprocess.STDOUT)
    try:
        ctx, probe = probe_node("distribution_route_probe")
        try:
            client = probe.create_client(GetParameters,
                                         f"{NAMESPACE}/ldl_pose_node/get_parameters")
            up = False
            while proc.poll() is None and not up:
                up = client.wait_for_service(timeout_sec=2.0)
            assert up, f"route failed (exit {proc.returncode}):\n{log.read_text()[-5000:]}"
            future = client.call_async(GetParameters.Request(names=["device"]))
            executor = rclpy.executors.SingleThreadedExecutor(context=ctx)
            executor.add_node(probe)
            executor.spin_until_future_complete(future, timeout_sec=30.0)
            assert future.result().values[0].string_value == "cpu"
        finally:
            rclpy.shutdown(context=ctx)
        node = ws / "install" / "ldl_pose_ros" / "lib" / "ldl_pose_ros" / "pose_node"
        assert node.read_text().splitlines()[0] == f"#!{ws / '.venv' / 'bin' / 'python'}"
        proc.send_signal(signal.SIGINT)
        assert proc.wait(30) == 0, log.read_text()[-3000:]
        assert "Traceback" not in log.read_text()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        shutil.rmtree(ws, ignore_errors=True)  # ~1.6 GB of venv


def test_route_script_substitutions(tmp_path: Path) -> None:
    """The README block parses into the expected steps (fast; no install)."""
    lines = readme_route()
    assert sum(line.startswith(SKIPPED) for line in lines) == 3
    script = route_script(lines, tmp_path / "ws", tmp_path / "co", tmp_path / "standin")
    assert "python3 -m venv --system-site-packages .venv" in script
    assert ".venv/bin/python -m colcon build --packages-select ldl_pose_ros" in script
    assert "source install/setup.bash" in script
    assert f"source {tmp_path / 'standin' / 'setup.bash'}" in script
    assert sys.executable not in script
