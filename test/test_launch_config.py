# Copyright 2026 The ldl_pose_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""Launch file, parameter file and RViz configuration, checked without a ROS distribution.

Where ``launch``/``launch_ros`` are importable the launch description is built for real;
elsewhere (the PyPI-wheel route: neither is on PyPI) the launch file runs against
recording stand-ins of those modules, so its arguments, node, remappings, parameters,
prefix and RViz choice are still checked.  What the node does with the command line
launch_ros builds from them is tested for real in ``test_launch_semantics.py``.
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
ARGS = {"image", "camera_info", "namespace", "device", "use_compressed", "use_sim_time",
        "params_file", "rviz", "dds_profile", "lifecycle", "cameras"}


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
        return context.get(self.args[0], self.kwargs.get("default", ""))


class FakeLifecycleNode(Rec):
    """Stand-in of launch_ros.actions.LifecycleNode."""


class FakeLogger:
    def __init__(self) -> None:
        self.lines: list[tuple[str, str]] = []

    def warning(self, msg: str) -> None:
        self.lines.append(("warning", msg))

    def info(self, msg: str) -> None:
        self.lines.append(("info", msg))


LOGGER = FakeLogger()


def _stub_modules() -> dict[str, types.ModuleType]:
    mods = {}
    for name, attrs in {
        "launch": {"LaunchDescription": Rec},
        "launch.actions": {"DeclareLaunchArgument": Rec, "OpaqueFunction": Rec,
                           "EmitEvent": Rec, "RegisterEventHandler": Rec},
        "launch.events": {"matches_action": lambda action: ("matches", action)},
        "launch.logging": {"get_logger": lambda name: LOGGER},
        "launch.substitutions": {"LaunchConfiguration": FakeConfig,
                                 "PathJoinSubstitution": Rec},
        "launch_ros": {},
        "launch_ros.actions": {"Node": Rec, "LifecycleNode": FakeLifecycleNode},
        "launch_ros.event_handlers": {"OnStateTransition": Rec},
        "launch_ros.events": {},
        "launch_ros.events.lifecycle": {"ChangeState": Rec},
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
    assert imported <= {"launch", "launch_ros", "ldl_pose_ros", "pathlib", "lifecycle_msgs"}
    # The executable is a console script of the package, and the files are installed.
    setup = (REPO / "setup.py").read_text()
    assert re.search(r"pose_node\s*=\s*ldl_pose_ros\.ros\.node:main", setup)
    assert "config/*.yaml" in setup and "config/*.rviz" in setup and "config/*.xml" in setup
    assert "launch/*.launch.py" in setup
    for name in ("pose.yaml", "pose.rviz", "fastdds_large_images.xml"):
        assert (REPO / "config" / name).is_file()


@pytest.fixture()
def stand_in_launch(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Any:
    """The launch file loaded against recording stand-ins; returns (declared, setup, ctx)."""
    module = _load_launch_module(monkeypatch, stub=True)
    ld = module.generate_launch_description()
    actions = ld.args[0]
    declared = {a.args[0]: a.kwargs for a in actions if a.kwargs.get("description")}
    setup = next(a for a in actions if "function" in a.kwargs).kwargs["function"]
    for var in ("FASTDDS_DEFAULT_PROFILES_FILE", "FASTRTPS_DEFAULT_PROFILES_FILE"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("ROS_DISTRO", "kilted")
    monkeypatch.setenv("AMENT_PREFIX_PATH", str(tmp_path / "no_rviz_here"))
    profile = tmp_path / "profile.xml"
    profile.write_text("<dds/>")
    ctx = {"image": "/cam/image", "camera_info": "/cam/info", "namespace": "",
           "params_file": str(REPO / "config" / "pose.yaml"), "device": "",
           "use_compressed": "", "use_sim_time": "", "rviz": "false",
           "dds_profile": str(profile),
           "lifecycle": "false", "cameras": ""}
    LOGGER.lines.clear()
    return declared, setup, ctx


def test_launch_arguments_and_node_with_stand_ins(stand_in_launch: Any) -> None:
    declared, setup, ctx = stand_in_launch
    assert set(declared) == ARGS
    # device/use_compressed default to "not given": the parameter file decides.
    assert declared["device"]["default_value"] == ""
    assert declared["use_compressed"]["default_value"] == ""
    assert declared["use_compressed"]["choices"] == ["", "true", "false"]
    assert declared["rviz"]["default_value"] == "false"
    assert declared["lifecycle"]["default_value"] == "false"
    assert declared["lifecycle"]["choices"] == ["true", "false"]

    (node,) = setup(ctx)
    assert type(node) is Rec  # a plain Node action: the node starts itself
    kw = node.kwargs
    assert (kw["package"], kw["executable"], kw["name"]) == (
        "ldl_pose_ros", "pose_node", "ldl_pose_node")
    assert kw["namespace"].args == ("namespace",)
    remaps = {k: v for k, v in kw["remappings"]}
    assert remaps["image"].args == ("image",)
    assert remaps["image/compressed"][1] == "/compressed"
    assert remaps["camera_info"].args == ("camera_info",)
    # Nothing typed: only the parameter file reaches the node.
    assert kw["parameters"] == [ctx["params_file"]]
    assert kw["additional_env"] == {"FASTDDS_DEFAULT_PROFILES_FILE": ctx["dds_profile"]}
    assert kw["prefix"].split()[1:] == ["--pdeathsig", "INT", "--"]
    # ros2 launch --launch-prefix: after the exit prefix, unless its filter excludes the
    # node (launch itself ignores the filter for an action with an explicit prefix).
    gdb = "gdb -ex run --args"
    (node,) = setup(dict(ctx, **{"launch-prefix": gdb}))
    assert node.kwargs["prefix"].split()[1:] == ["--pdeathsig", "INT", "--", *gdb.split()]
    (node,) = setup(dict(ctx, **{"launch-prefix": gdb, "launch-prefix-filter": "pose_"}))
    assert node.kwargs["prefix"].endswith(gdb)
    (node,) = setup(dict(ctx, **{"launch-prefix": gdb, "launch-prefix-filter": "rviz2"}))
    assert node.kwargs["prefix"].split()[1:] == ["--pdeathsig", "INT", "--"]

    (node,) = setup(dict(ctx, device="cpu", use_compressed="true"))
    assert node.kwargs["parameters"] == [ctx["params_file"],
                                         {"device": "cpu", "use_compressed": True}]
    (node,) = setup(dict(ctx, dds_profile="none"))
    assert node.kwargs["additional_env"] == {}
    assert declared["use_sim_time"]["choices"] == ["", "true", "false"]
    (node,) = setup(dict(ctx, use_sim_time="true"))
    assert node.kwargs["parameters"] == [ctx["params_file"], {"use_sim_time": True}]


def test_lifecycle_true_makes_a_managed_node_that_launch_configures_and_activates(
    stand_in_launch: Any,
) -> None:
    pytest.importorskip("lifecycle_msgs")
    from lifecycle_msgs.msg import Transition

    _, setup, ctx = stand_in_launch
    node, on_inactive, configure = setup(dict(ctx, lifecycle="true"))
    assert isinstance(node, FakeLifecycleNode)
    kw = node.kwargs
    assert (kw["package"], kw["executable"], kw["name"]) == (
        "ldl_pose_ros", "pose_node", "ldl_pose_node")
    # The node waits for the transitions instead of starting itself ...
    assert kw["parameters"] == [ctx["params_file"], {"autostart": False}]
    # ... launch asks for configure at once ...
    event = configure.kwargs["event"]
    assert event.kwargs["transition_id"] == Transition.TRANSITION_CONFIGURE
    assert event.kwargs["lifecycle_node_matcher"] == ("matches", node)
    # ... and for activate when the node has gone from configuring to inactive (not after
    # a later deactivate: a supervisor that deactivates it is not overruled).
    (handler,) = on_inactive.args
    assert handler.kwargs["target_lifecycle_node"] is node
    assert (handler.kwargs["start_state"], handler.kwargs["goal_state"]) == (
        "configuring", "inactive")
    (activate,) = handler.kwargs["entities"]
    assert activate.kwargs["event"].kwargs["transition_id"] == Transition.TRANSITION_ACTIVATE
    # Typed device arguments still apply, after the file, with autostart.
    node, *_ = setup(dict(ctx, lifecycle="true", device="cpu"))
    assert node.kwargs["parameters"] == [ctx["params_file"],
                                         {"device": "cpu", "autostart": False}]


def test_cameras_argument(stand_in_launch: Any) -> None:
    """cameras:=[front,left]: the parameter, and each camera's remaps from {camera} templates."""
    declared, setup, ctx = stand_in_launch
    assert declared["cameras"]["default_value"] == ""
    (node,) = setup(dict(ctx, cameras="[front, robot/left]", device="cpu",
                         image="/{camera}/color/image_raw",
                         camera_info="/{camera}/color/camera_info"))
    kw = node.kwargs
    assert kw["parameters"] == [ctx["params_file"], {"device": "cpu",
                                                     "cameras": ["front", "robot/left"]}]
    assert dict(kw["remappings"]) == {
        "front/image": "/front/color/image_raw",
        "front/image/compressed": "/front/color/image_raw/compressed",
        "front/camera_info": "/front/color/camera_info",
        "robot/left/image": "/robot/left/color/image_raw",
        "robot/left/image/compressed": "/robot/left/color/image_raw/compressed",
        "robot/left/camera_info": "/robot/left/color/camera_info",
    }
    # A plain topic cannot serve every camera: not remapped, and the log says so.
    LOGGER.lines.clear()
    (node,) = setup(dict(ctx, cameras="front,left"))
    assert node.kwargs["remappings"] == []
    assert node.kwargs["parameters"][1] == {"cameras": ["front", "left"]}
    assert sum("{camera}" in msg for _, msg in LOGGER.lines) == 2, LOGGER.lines


@pytest.mark.parametrize("change,needle", [
    ({"cameras": "[front, front]"}, "cameras"),
    ({"cameras": "[robot/left, robot_left]"}, "same face ids"),
    ({"device": "gpu"}, "device"),
    ({"use_compressed": "yes"}, "use_compressed"),
    ({"dds_profile": "/nonexistent/profile.xml"}, "dds_profile"),
    ({"params_file": "/nonexistent/params.yaml"}, "params_file"),
])
def test_bad_arguments_stop_before_anything_starts(stand_in_launch: Any, change: dict,
                                                   needle: str) -> None:
    _, setup, ctx = stand_in_launch
    with pytest.raises(RuntimeError, match=needle):
        setup(dict(ctx, **change))


def test_rviz_only_when_installed(stand_in_launch: Any, monkeypatch: pytest.MonkeyPatch,
                                  tmp_path: Path) -> None:
    _, setup, ctx = stand_in_launch
    actions = setup(dict(ctx, rviz="true"))  # AMENT_PREFIX_PATH has no rviz2
    assert [a.kwargs["package"] for a in actions] == ["ldl_pose_ros"]
    assert any(level == "warning" and "rviz2 is not installed" in msg
               for level, msg in LOGGER.lines), LOGGER.lines
    prefix = tmp_path / "opt_ros"
    (prefix / "share/ament_index/resource_index/packages").mkdir(parents=True)
    (prefix / "share/ament_index/resource_index/packages/rviz2").write_text("")
    exe = prefix / "lib/rviz2/rviz2"
    exe.parent.mkdir(parents=True)
    exe.write_text("#!/bin/sh\n")
    exe.chmod(0o755)
    monkeypatch.setenv("AMENT_PREFIX_PATH", str(prefix))
    actions = setup(dict(ctx, rviz="true"))
    rviz = actions[1].kwargs
    assert rviz["package"] == "rviz2" and rviz["arguments"][0] == "-d"
    assert rviz["arguments"][1].args[0][1:] == ["config", "pose.rviz"]
    assert rviz["parameters"] == []
    rviz = setup(dict(ctx, rviz="true", use_sim_time="true"))[1].kwargs
    assert rviz["parameters"] == [{"use_sim_time": True}]


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
