# Copyright 2026 The ldl_pose_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""The ROS boundary is a fact: nothing outside ``ldl_pose_ros.ros`` loads rclpy or ROS messages.

Two checks, each able to fail: a fresh interpreter imports every module outside the
ROS layer and reports which ROS packages got loaded (at import time, directly or
through any dependency); and a scan of the sources finds ROS imports that would
only run later, inside functions.
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
import textwrap
from pathlib import Path

import ldl_pose_ros

PACKAGE_DIR = Path(ldl_pose_ros.__file__).parent
ROS_LAYER = "ldl_pose_ros.ros"
#: Python packages of a ROS installation: the client library and message packages.
ROS_PACKAGES = ("rclpy", "rcl_interfaces", "builtin_interfaces", "std_msgs", "sensor_msgs",
                "geometry_msgs", "visualization_msgs", "diagnostic_msgs", "tf2_msgs",
                "tf2_ros", "rosgraph_msgs", "ament_index_python", "launch", "launch_ros")

_PROBE = textwrap.dedent("""
    import importlib, json, sys
    modules, ros = json.loads(sys.argv[1]), json.loads(sys.argv[2])
    loaded = {}
    for name in modules:
        before = set(sys.modules)
        importlib.import_module(name)
        new = {m.split(".")[0] for m in set(sys.modules) - before}
        hits = sorted(new & set(ros))
        if hits:
            loaded[name] = hits
    print(json.dumps(loaded))
""")


def core_modules(package_dir: Path = PACKAGE_DIR) -> list[str]:
    """Every module of the package outside its ``ros`` layer (no ``__main__`` scripts)."""
    names = []
    for path in package_dir.rglob("*.py"):
        parts = (package_dir.name, *path.relative_to(package_dir).with_suffix("").parts)
        if parts[-1] == "__main__" or (len(parts) > 1 and parts[1] == "ros"):
            continue
        names.append(".".join(parts[:-1] if parts[-1] == "__init__" else parts))
    return sorted(names)


def ros_loaded_by(modules: list[str], path: Path | None = None) -> dict[str, list[str]]:
    """Import ``modules`` one after the other in a fresh interpreter; ROS packages each loaded."""
    env_path = [str(path)] if path is not None else []
    cmd = [sys.executable, "-c", _PROBE, json.dumps(modules), json.dumps(ROS_PACKAGES)]
    env = None
    if env_path:
        import os

        env = dict(os.environ, PYTHONPATH=os.pathsep.join(env_path + [os.environ.get(
            "PYTHONPATH", "")]))
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=300, env=env)
    assert out.returncode == 0, out.stderr
    result: dict[str, list[str]] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def ros_imports_in_source(path: Path) -> list[str]:
    """``file:line module`` of every import of a ROS package in a source file (any scope)."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module]
        found += [f"{path.name}:{node.lineno} {n}" for n in names
                  if n.split(".")[0] in ROS_PACKAGES]
    return found


def test_no_module_outside_the_ros_layer_loads_ros() -> None:
    modules = core_modules()
    assert "ldl_pose_ros.core.pipeline" in modules and "ldl_pose_ros.bag.evaluate" in modules
    assert not any(m.startswith(ROS_LAYER) for m in modules)
    assert len(modules) > 40
    assert ros_loaded_by(modules) == {}


def test_no_ros_import_hides_in_a_function() -> None:
    offenders = []
    for path in sorted(PACKAGE_DIR.rglob("*.py")):
        if (PACKAGE_DIR / "ros") in path.parents:
            continue
        offenders += ros_imports_in_source(path)
    assert offenders == []


def test_the_checks_catch_a_core_module_that_imports_rclpy(tmp_path: Path) -> None:
    """Both checks report a planted ``import rclpy`` (so their silence above means something)."""
    pkg = tmp_path / "fakepkg"
    (pkg / "core").mkdir(parents=True)
    (pkg / "ros").mkdir()
    for d in (pkg, pkg / "core", pkg / "ros"):
        (d / "__init__.py").write_text("")
    (pkg / "core" / "clean.py").write_text("import json\n")
    (pkg / "core" / "leaky.py").write_text("import rclpy  # the boundary broken\n")
    (pkg / "core" / "lazy.py").write_text("def f():\n    from sensor_msgs.msg import Image\n")
    (pkg / "ros" / "node.py").write_text("import rclpy\n")
    modules = core_modules(pkg)
    assert modules == ["fakepkg", "fakepkg.core", "fakepkg.core.clean", "fakepkg.core.lazy",
                       "fakepkg.core.leaky"]
    try:
        import rclpy  # noqa: F401
    except ImportError:
        pass  # without ROS the runtime check has nothing to see; the source scan still does
    else:
        loaded = ros_loaded_by(modules, tmp_path)
        assert list(loaded) == ["fakepkg.core.leaky"] and "rclpy" in loaded["fakepkg.core.leaky"]
    assert ros_imports_in_source(pkg / "core" / "leaky.py") == ["leaky.py:1 rclpy"]
    assert ros_imports_in_source(pkg / "core" / "lazy.py") == ["lazy.py:2 sensor_msgs.msg"]
    assert ros_imports_in_source(pkg / "core" / "clean.py") == []
