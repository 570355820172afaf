# Copyright 2026 The ldl_pose_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""Packaging: colcon builds the ament_python package and its entry points run."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
PACKAGE_FILES = ["package.xml", "setup.py", "setup.cfg", "LICENSE", "resource", "ldl_pose_ros",
                 "launch", "config"]


def _colcon() -> str | None:
    local = Path(sys.executable).parent / "colcon"
    return str(local) if local.exists() else shutil.which("colcon")


def test_package_xml_declares_runtime_dependencies() -> None:
    root = ET.parse(REPO / "package.xml").getroot()
    assert root.get("format") == "3"
    assert root.findtext("name") == "ldl_pose_ros"
    assert root.findtext("license") == "Apache-2.0"
    deps = {e.text for e in root.iter("exec_depend")}
    for dep in ("rclpy", "sensor_msgs", "geometry_msgs", "visualization_msgs",
                "diagnostic_msgs", "std_msgs", "tf2_ros", "tf2_msgs"):
        assert dep in deps, dep
    assert root.find("export/build_type").text == "ament_python"


@pytest.mark.timeout(600)
def test_colcon_build_and_installed_entry_point(tmp_path: Path) -> None:
    colcon = _colcon()
    if colcon is None:
        pytest.skip("colcon is not installed")
    src = tmp_path / "src" / "ldl_pose_ros"
    src.mkdir(parents=True)
    for name in PACKAGE_FILES:
        path = REPO / name
        if path.is_dir():
            shutil.copytree(path, src / name,
                            ignore=shutil.ignore_patterns("__pycache__", "*.onnx"))
        else:
            shutil.copy2(path, src / name)
    env = dict(os.environ, PATH=f"{Path(sys.executable).parent}:{os.environ['PATH']}")
    build = subprocess.run(
        [colcon, "build", "--base-paths", "src", "--event-handlers", "console_direct+"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=540,
    )
    assert build.returncode == 0, build.stdout[-3000:] + build.stderr[-3000:]

    prefix = tmp_path / "install" / "ldl_pose_ros"
    share = prefix / "share" / "ldl_pose_ros"
    assert (share / "package.xml").is_file()
    assert (share / "launch" / "pose.launch.py").is_file()
    assert (share / "config" / "pose.yaml").is_file()
    assert (prefix / "share" / "ament_index" / "resource_index" / "packages"
            / "ldl_pose_ros").is_file()
    exe_dir = prefix / "lib" / "ldl_pose_ros"
    for exe in ("ldl-pose", "pose_node"):
        assert (exe_dir / exe).is_file(), sorted(p.name for p in exe_dir.iterdir())

    site = next(prefix.glob("lib/python3*/site-packages"))
    run_env = dict(env, PYTHONPATH=f"{site}:{env.get('PYTHONPATH', '')}",
                   AMENT_PREFIX_PATH=f"{prefix}:{env.get('AMENT_PREFIX_PATH', '')}")
    out = subprocess.run([str(exe_dir / "ldl-pose"), "--help"], cwd=tmp_path, env=run_env,
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert "predict" in out.stdout
    # The installed copy is imported, not the checkout.
    probe = subprocess.run(
        [sys.executable, "-c", "import ldl_pose_ros; print(ldl_pose_ros.__file__)"],
        cwd=tmp_path, env=run_env, capture_output=True, text=True, timeout=120,
    )
    assert str(site) in probe.stdout or str(tmp_path / "build") in probe.stdout, probe.stdout
