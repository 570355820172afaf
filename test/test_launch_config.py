# Copyright 2026 The ldl_pose_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""Launch file, parameter file and RViz configuration, checked without a ROS distribution.

Where ``launch``/``launch_ros`` are importable the launch description is built for real;
elsewhere the launch file runs against recording stand-ins of those modules, so its
arguments, node, remappings and parameters are still checked.
"""

from __future__ import annotations

import ast
import importlib.util
import re
import sys
import types
from pathlib import Path
from typing import Any

import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]
LAUNCH_FILE = REPO / "launch" / "pose.launch.py"
ARGS = {"image", "camera_info", "namespace", "device", "use_compressed", "params_file", "rviz",
        "dds_profile"}


def _have(name: str) -> bool:
    try:
        return importlib.util.find_spec(name) is not None
    except (ImportError, ValueError):
        return False


HAVE_LAUNCH = _have("launch") and _have("launch_ros")


class Rec:
    """Records its constructor arguments (stand-in for launch classes)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.args, self.kwargs = args, kwargs


class FakeConfig(Rec):
    def perform(self, context: dict[str, str]) -> str:
        return context[self.args[0]]


def _stub_modules() -> dict[str, types.ModuleType]:
    mods = {}
    for name, attrs in {
        "launch": {"LaunchDescription": Rec},
        "launch.actions": {"DeclareLaunchArgument": Rec, "OpaqueFunction": Rec},
        "launch.conditions": {"IfCondition": Rec},
        "launch.substitutions": {"LaunchConfiguration": FakeConfig,
                                 "PathJoinSubstitution": Rec},
        "launch_ros": {},
        "launch_ros.actions": {"Node": Rec},
        "launch_ros.parameter_descriptions": {"ParameterValue": Rec},
        "launch_ros.substitutions": {"FindPackageShare": Rec},
    }.items():
        m = types.ModuleType(name)
        m.__dict__.update(attrs)
        mods[name] = m
    return mods


def _load_launch_module(monkeypatch: pytest.MonkeyPatch, stub: bool) -> types.ModuleType:
    if stub:
        for name, mod in _stub_modules().items():
            monkeypatch.setitem(sys.modules, name, mod)
    spec = importlib.util.spec_from_file_location("pose_launch", LAUNCH_FILE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_launch_file_parses_and_names_the_package() -> None:
    tree = ast.parse(LAUNCH_FILE.read_text(), str(LAUNCH_FILE))
    funcs = {n.name for n in ast.walk(tree) if isinstance(n, ast.FunctionDef)}
    assert "generate_launch_description" in funcs
    strings = {n.value for n in ast.walk(tree) if isinstance(n, ast.Constant)
               and isinstance(n.value, str)}
    for s in ("ldl_pose_ros", "pose_node", "ldl_pose_node", "pose.yaml", "pose.rviz", "rviz2",
              "fastdds_large_images.xml", "image/compressed", "camera_info"):
        assert s in strings, s
    imported = {n.module.split(".")[0] for n in ast.walk(tree)
                if isinstance(n, ast.ImportFrom) and n.module}
    assert imported <= {"launch", "launch_ros"}
    # The executable is a console script of the package, and the files are installed.
    setup = (REPO / "setup.py").read_text()
    assert re.search(r"pose_node\s*=\s*ldl_pose_ros\.ros\.node:main", setup)
    assert "config/*.yaml" in setup and "config/*.rviz" in setup and "config/*.xml" in setup
    assert "launch/*.launch.py" in setup
    for name in ("pose.yaml", "pose.rviz", "fastdds_large_images.xml"):
        assert (REPO / "config" / name).is_file()


def test_launch_description_with_stand_ins(monkeypatch: pytest.MonkeyPatch) -> None:
    module = _load_launch_module(monkeypatch, stub=True)
    ld = module.generate_launch_description()
    actions = ld.args[0]
    declared = {a.args[0]: a.kwargs for a in actions if a.kwargs.get("description")}
    assert set(declared) == ARGS
    assert declared["device"]["default_value"] == "auto"
    assert declared["rviz"]["default_value"] == "false"
    rviz = next(a for a in actions if a.kwargs.get("package") == "rviz2")
    assert rviz.kwargs["condition"].args[0].args == ("rviz",)
    assert rviz.kwargs["arguments"][0] == "-d"
    assert rviz.kwargs["arguments"][1].args[0][1:] == ["config", "pose.rviz"]
    opaque = next(a for a in actions if "function" in a.kwargs)

    context = {"image": "/cam/image", "camera_info": "/cam/info", "dds_profile": "/p.xml"}
    monkeypatch.delenv("FASTDDS_DEFAULT_PROFILES_FILE", raising=False)
    monkeypatch.delenv("FASTRTPS_DEFAULT_PROFILES_FILE", raising=False)
    monkeypatch.setenv("ROS_DISTRO", "jazzy")
    (node,) = opaque.kwargs["function"](context)
    kw = node.kwargs
    assert (kw["package"], kw["executable"], kw["name"]) == (
        "ldl_pose_ros", "pose_node", "ldl_pose_node")
    assert kw["namespace"].args == ("namespace",)
    remaps = {k: v for k, v in kw["remappings"]}
    assert remaps["image"].args == ("image",)
    assert remaps["image/compressed"][1] == "/compressed"
    assert remaps["camera_info"].args == ("camera_info",)
    params_file, overrides = kw["parameters"]
    assert params_file.args == ("params_file",)
    assert set(overrides) == {"device", "use_compressed"}
    assert kw["additional_env"] == {"FASTDDS_DEFAULT_PROFILES_FILE": "/p.xml"}
    monkeypatch.setenv("ROS_DISTRO", "humble")
    (node,) = opaque.kwargs["function"](context)
    assert node.kwargs["additional_env"] == {"FASTRTPS_DEFAULT_PROFILES_FILE": "/p.xml"}
    monkeypatch.setenv("FASTDDS_DEFAULT_PROFILES_FILE", "/mine.xml")  # the user's wins
    (node,) = opaque.kwargs["function"](context)
    assert node.kwargs["additional_env"] == {}
    monkeypatch.delenv("FASTDDS_DEFAULT_PROFILES_FILE")
    (node,) = opaque.kwargs["function"](dict(context, dds_profile=""))
    assert node.kwargs["additional_env"] == {}


@pytest.mark.skipif(not HAVE_LAUNCH, reason="launch/launch_ros not installed (PyPI ROS wheels)")
def test_launch_description_real(monkeypatch: pytest.MonkeyPatch) -> None:
    from launch.actions import DeclareLaunchArgument

    module = _load_launch_module(monkeypatch, stub=False)
    ld = module.generate_launch_description()
    names = {a.name for a in ld.entities if isinstance(a, DeclareLaunchArgument)}
    assert names == ARGS


def test_rviz_config_shows_the_node_outputs() -> None:
    cfg = yaml.safe_load((REPO / "config" / "pose.rviz").read_text())
    vm = cfg["Visualization Manager"]
    assert vm["Global Options"]["Fixed Frame"] == "camera_color_optical_frame"
    displays = {d["Class"]: d for d in vm["Displays"]}
    for cls in ("Image", "TF", "MarkerArray", "PoseArray"):
        assert f"rviz_default_plugins/{cls}" in displays
    topics = {d["Class"].split("/")[1]: d["Topic"]["Value"] for d in vm["Displays"]
              if "Topic" in d}
    assert topics["Image"] == "/image_annotated"
    assert topics["MarkerArray"] == "/markers"
    assert topics["PoseArray"] == "/head_poses"
    assert topics["PoseWithCovariance"] == "/primary_head_pose"
    assert vm["Views"]["Current"]["Class"] == "rviz_default_plugins/Orbit"
