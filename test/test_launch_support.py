# Copyright 2026 The ldl_pose_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""The launch file's decisions (ldl_pose_ros.ros.launch_support), without ``launch``."""

from __future__ import annotations

import signal
import sys
import types
from pathlib import Path
from typing import Any

import pytest

from ldl_pose_ros.ros.launch_support import (
    LaunchArgumentError,
    dds_profile_env,
    exit_with_launch_prefix,
    package_prefix,
    parameter_overrides,
    parse_camera_list,
    route_sigterm_to_shutdown,
    rviz_executable,
    user_launch_prefix,
)


def test_only_typed_arguments_become_parameters() -> None:
    assert parameter_overrides({"device": "", "use_compressed": ""}) == {}
    assert parameter_overrides({}) == {}
    assert parameter_overrides({"device": "cuda:1", "use_compressed": ""}) == {"device": "cuda:1"}
    assert parameter_overrides({"use_compressed": "False"}) == {"use_compressed": False}
    assert parameter_overrides({"use_sim_time": "true"}) == {"use_sim_time": True}
    for bad in ({"device": "gpu"}, {"device": "cuda:x"}, {"use_compressed": "1"},
                {"use_sim_time": "yes"}):
        with pytest.raises(LaunchArgumentError):
            parameter_overrides(bad)


def test_dds_profile(tmp_path: Path) -> None:
    profile = tmp_path / "p.xml"
    profile.write_text("<dds/>")
    env = {"ROS_DISTRO": "kilted"}
    assert dds_profile_env(str(profile), env) == {"FASTDDS_DEFAULT_PROFILES_FILE": str(profile)}
    # Humble and Jazzy ship Fast DDS 2.x, which reads only FASTRTPS_...; Kilted and
    # later (and an unknown distribution) Fast DDS 3, which reads FASTDDS_...
    for distro in ("humble", "jazzy", "Jazzy"):
        assert dds_profile_env(str(profile), {"ROS_DISTRO": distro}) == {
            "FASTRTPS_DEFAULT_PROFILES_FILE": str(profile)}
    for distro in ("rolling", ""):
        assert dds_profile_env(str(profile), {"ROS_DISTRO": distro}) == {
            "FASTDDS_DEFAULT_PROFILES_FILE": str(profile)}
    for none in ("none", "None", "", "  "):
        assert dds_profile_env(none, env) == {}
    # An exported profile is the user's choice: inherited, not replaced.
    assert dds_profile_env(str(profile), {**env, "FASTDDS_DEFAULT_PROFILES_FILE": "/x"}) == {}
    with pytest.raises(LaunchArgumentError, match="none"):
        dds_profile_env(str(tmp_path / "missing.xml"), env)


def test_rviz_lookup_follows_the_ament_index(tmp_path: Path,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    a, b = tmp_path / "a", tmp_path / "b"
    for prefix in (a, b):
        marker = prefix / "share/ament_index/resource_index/packages/rviz2"
        marker.parent.mkdir(parents=True)
        marker.write_text("")
    exe = b / "lib/rviz2/rviz2"
    exe.parent.mkdir(parents=True)
    exe.write_text("#!/bin/sh\n")
    exe.chmod(0o755)
    # The first prefix that registers the package is the one used (as ament_index does):
    # registered in a without the executable -> not runnable.
    monkeypatch.setenv("AMENT_PREFIX_PATH", f"{a}:{b}")
    assert package_prefix("rviz2") == a
    assert rviz_executable() is None
    monkeypatch.setenv("AMENT_PREFIX_PATH", f"{b}:{a}")
    assert rviz_executable() == exe
    monkeypatch.setenv("AMENT_PREFIX_PATH", str(tmp_path / "empty"))
    assert rviz_executable() is None and package_prefix("rviz2") is None


def test_exit_with_launch_prefix() -> None:
    if sys.platform.startswith("linux"):
        assert exit_with_launch_prefix(lambda n: "/usr/bin/setpriv") == \
            "/usr/bin/setpriv --pdeathsig INT -- "
    assert exit_with_launch_prefix(lambda n: None) == ""


def test_camera_list() -> None:
    assert parse_camera_list("[front,left]") == ["front", "left"]
    assert parse_camera_list("['front', 'robot/head']") == ["front", "robot/head"]
    assert parse_camera_list("front") == ["front"]
    assert parse_camera_list("[]") == [] and parse_camera_list("") == []
    for bad in ("[front,front]", "[/abs]", "[a b]", "[1cam]"):
        with pytest.raises(LaunchArgumentError):
            parse_camera_list(bad)


class _Manager:
    def __init__(self) -> None:
        self.handlers: dict[int, Any] = {}

    def handle(self, signum: int, handler: Any) -> None:
        self.handlers[signum] = handler


class _Context:
    def __init__(self) -> None:
        self.events: list[Any] = []

    def emit_event_sync(self, event: Any) -> None:
        self.events.append(event)


def test_sigterm_routing_against_stand_ins(monkeypatch: pytest.MonkeyPatch) -> None:
    """Logic only: the real LaunchService is not available here (see the README)."""
    assert route_sigterm_to_shutdown(_Context(), print) is False  # no launch at all

    class Shutdown:
        def __init__(self, reason: str) -> None:
            self.reason = reason

    manager = _Manager()
    signal_management = types.ModuleType("launch.utilities.signal_management")
    signal_management.AsyncSafeSignalManager = type(
        "AsyncSafeSignalManager", (), {"_AsyncSafeSignalManager__current": manager})
    for name, mod in {"launch": types.ModuleType("launch"),
                      "launch.events": types.SimpleNamespace(Shutdown=Shutdown),
                      "launch.utilities": types.ModuleType("launch.utilities"),
                      "launch.utilities.signal_management": signal_management}.items():
        monkeypatch.setitem(sys.modules, name, mod)
    previous = signal.signal(signal.SIGTERM, signal.SIG_DFL)
    try:
        ctx, logged = _Context(), []
        assert route_sigterm_to_shutdown(ctx, logged.append) is True
        # A Python-level handler now exists, so the manager's wakeup fd sees SIGTERM.
        assert signal.getsignal(signal.SIGTERM) not in (signal.SIG_DFL, None)
        manager.handlers[signal.SIGTERM](signal.SIGTERM)
        manager.handlers[signal.SIGTERM](signal.SIGTERM)
        assert [e.reason for e in ctx.events] == ["SIGTERM received"]  # once
        assert "again" in logged[-1]
    finally:
        signal.signal(signal.SIGTERM, previous)


def test_user_launch_prefix_follows_the_filter() -> None:
    assert user_launch_prefix("", "", "pose_node") == ""
    assert user_launch_prefix("valgrind", "", "pose_node") == "valgrind"
    assert user_launch_prefix("valgrind", "pose_.*", "/opt/lib/pose_node") == "valgrind"
    # re.match: anchored at the start of the executable's file name, as launch does.
    assert user_launch_prefix("valgrind", "node", "pose_node") == ""
    assert user_launch_prefix("valgrind", ".*node", "pose_node") == "valgrind"
    assert user_launch_prefix("valgrind", "rviz2", "pose_node") == ""
