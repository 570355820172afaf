# Copyright 2026 The ldl_pose_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""Packaging: colcon builds the ament_python package and its entry points run."""

from __future__ import annotations

import ast
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
PACKAGE_FILES = ["package.xml", "setup.py", "setup.cfg", "LICENSE", "resource", "ldl_pose_ros",
                 "launch", "config"]


def _colcon() -> str | None:
    local = Path(sys.executable).parent / "colcon"
    return str(local) if local.exists() else shutil.which("colcon")


# Python import -> rosdep key, for what the installed package imports.
ROSDEP_KEYS = {"numpy": "python3-numpy", "cv2": "python3-opencv", "scipy": "python3-scipy",
               "yaml": "python3-yaml", "matplotlib": "python3-matplotlib",
               "tf2_ros": "tf2_ros_py"}
# Pip-only (no live rosdep key, or one that would break the pins): requirement names.
PIP_ONLY = {"torch": "torch", "onnx": "onnx", "onnxruntime": "onnxruntime",
            "rosbags": "rosbags", "mediapipe": "mediapipe", "lz4": "rosbags",
            "backports": "rosbags"}  # backports.zstd, a dependency of rosbags
NEWER_STDLIB = {"compression"}  # compression.zstd: Python 3.14
# Optional at run time, so no dependency: imported only under ``except ImportError``.
OPTIONAL = {"hri_msgs": "ROS4HRI outputs with hri_enabled (ldl_pose_ros/ros/hri.py)"}


def _imported_modules(paths: list[Path]) -> set[str]:
    names: set[str] = set()
    for path in paths:
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                names.update(a.name.split(".")[0] for a in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names.add(node.module.split(".")[0])
    return names


def _unguarded_imports(paths: list[Path], modules: set[str]) -> list[str]:
    """Imports of ``modules`` that are not inside ``try: ... except ImportError``."""
    found = []
    for path in paths:
        tree = ast.parse(path.read_text(), str(path))
        guarded: set[int] = set()
        for node in ast.walk(tree):
            if isinstance(node, ast.Try) and any(
                    isinstance(h.type, ast.Name) and h.type.id in ("ImportError",
                                                                   "ModuleNotFoundError")
                    for h in node.handlers):
                guarded.update(id(n) for stmt in node.body for n in ast.walk(stmt))
        for node in ast.walk(tree):
            names = ([a.name for a in node.names] if isinstance(node, ast.Import) else
                     [node.module] if isinstance(node, ast.ImportFrom) and node.module else [])
            if any(n.split(".")[0] in modules for n in names) and id(node) not in guarded:
                found.append(f"{path.name}:{node.lineno}")
    return found


def test_package_xml_declares_every_runtime_dependency() -> None:
    from catkin_pkg.package import parse_package

    pkg = parse_package(str(REPO / "package.xml"))  # validates format 3
    assert pkg.name == "ldl_pose_ros" and pkg.package_format == 3
    assert pkg.licenses == ["Apache-2.0"]
    assert pkg.get_build_type() == "ament_python"
    deps = {d.name for d in pkg.exec_depends}
    sources = sorted((REPO / "ldl_pose_ros").rglob("*.py")) + sorted(
        (REPO / "launch").glob("*.py"))
    imported = _imported_modules(sources) - set(sys.stdlib_module_names) - NEWER_STDLIB \
        - {"ldl_pose_ros"}
    requirements = "\n".join((REPO / "requirements" / f).read_text().lower()
                             for f in ("base.txt", "mediapipe.txt"))
    missing = []
    assert not _unguarded_imports(sources, set(OPTIONAL))
    for mod in sorted(imported - set(OPTIONAL)):
        if mod in PIP_ONLY:
            if f"\n{PIP_ONLY[mod]}==" not in "\n" + requirements:
                missing.append(f"{mod}: not pinned in requirements/")
        elif ROSDEP_KEYS.get(mod, mod) not in deps:
            missing.append(f"{mod}: no <exec_depend>{ROSDEP_KEYS.get(mod, mod)}</exec_depend>")
    assert not missing, missing
    # No end-of-life or pip keys that rosdep cannot install on PEP 668 systems.
    assert not {d for d in deps if d.endswith("-pip")}, deps


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
    # The README's commands, as written: select the package, then source the workspace.
    build = subprocess.run(
        [colcon, "build", "--packages-select", "ldl_pose_ros", "--event-handlers",
         "console_direct+"],
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
    # The installed console scripts run with the interpreter colcon ran with.
    shebang = (exe_dir / "pose_node").read_text().splitlines()[0]
    assert shebang == f"#!{sys.executable}", shebang

    site = next(prefix.glob("lib/python3*/site-packages"))
    sourced = subprocess.run(
        ["bash", "-c", "source install/setup.bash && echo \"AMENT=$AMENT_PREFIX_PATH\" && "
         "ros2_pkg_prefix=$(python -c 'from ament_index_python.packages import "
         "get_package_share_directory as g; print(g(\"ldl_pose_ros\"))') && "
         "echo \"SHARE=$ros2_pkg_prefix\" && "
         "python -c 'import ldl_pose_ros; print(\"FILE=\" + ldl_pose_ros.__file__)' && "
         "ldl-pose --help"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120,
    )
    assert sourced.returncode == 0, sourced.stdout[-2000:] + sourced.stderr[-2000:]
    assert f"AMENT={prefix}" in sourced.stdout
    assert f"SHARE={share}" in sourced.stdout
    # The installed copy is imported, not the checkout.
    assert f"FILE={site}" in sourced.stdout or f"FILE={tmp_path / 'build'}" in sourced.stdout, \
        sourced.stdout
    assert "predict" in sourced.stdout
