# Copyright 2026 The ldl_pose_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""What ``launch/pose.launch.py`` decides, as plain functions (testable without ``launch``).

- :func:`parameter_overrides`: only the launch arguments the user typed become node
  parameters.  ``launch_ros`` passes ``parameters=[params_file, {...}]`` to the node
  as ``--params-file`` arguments in that order, and rcl lets a later file win, so a
  dict built from untyped defaults would silently override the user's parameter file.
- :func:`dds_profile_env`: the Fast DDS profile for the node, ``none`` for none.
- :func:`rviz_executable`: where ``launch_ros`` would find ``rviz2``, or ``None``.
- :func:`exit_with_launch_prefix`: a launch prefix that makes the kernel send the node
  SIGINT when the launch process dies (``setpriv --pdeathsig``), and
  :func:`user_launch_prefix`: ``ros2 launch --launch-prefix`` and its filter after it.
- :func:`route_sigterm_to_shutdown`: SIGTERM to ``ros2 launch`` becomes the same
  orderly shutdown as ``LaunchService.shutdown()`` (SIGINT to the node, then SIGTERM
  after ``sigterm_timeout``, SIGKILL after ``sigkill_timeout``) instead of launch's
  default, which ends the launch process and leaves its children running.
- :func:`parse_camera_list`: the value of a ``cameras:=[front,left]`` argument, checked
  as the node checks its ``cameras`` parameter (``ldl_pose_ros.core.face_ids``), and
  :func:`camera_remappings`: each camera's inputs from ``image:=/{camera}/...`` templates.

Only the standard library is imported at module level (``ament_index_python``,
``launch`` and the standard-library-only ``ldl_pose_ros.core.face_ids`` where needed):
the launch process is the distribution's ``ros2`` interpreter, which need not see this
package's venv.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import sys
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

DEVICE_RE = re.compile(r"^(auto|cpu|cuda(:\d+)?)$")
BOOL_WORDS = {"true": True, "false": False}
NO_PROFILE = ("", "none")
PROFILE_VARIABLES = ("FASTDDS_DEFAULT_PROFILES_FILE", "FASTRTPS_DEFAULT_PROFILES_FILE")
#: Distributions whose Fast DDS is 2.x (package ``fastrtps``): it reads only
#: ``FASTRTPS_DEFAULT_PROFILES_FILE``.  Kilted and later ship Fast DDS 3 (package
#: ``fastdds``), which reads ``FASTDDS_DEFAULT_PROFILES_FILE``.
FAST_DDS_2_DISTROS = frozenset({"foxy", "galactic", "humble", "iron", "jazzy"})
CAMERA_PLACEHOLDER = "{camera}"


class LaunchArgumentError(ValueError):
    """A launch argument with a value the node cannot use; the message says which and why."""


def parameter_overrides(typed: Mapping[str, str]) -> dict[str, Any]:
    """Node parameters for the device, use_compressed, use_sim_time, lifecycle arguments.

    ``typed`` maps argument name to its value; an empty value means "not typed" (the
    arguments' default), and such an argument leaves the parameter to ``params_file``.
    ``lifecycle`` ``true`` sets ``autostart: false`` (the launch file then drives the
    transitions); ``false`` leaves ``autostart`` to ``params_file``.
    Raises :class:`LaunchArgumentError` for a value the node would refuse.
    """
    out: dict[str, Any] = {}
    device = typed.get("device", "").strip()
    if device:
        if not DEVICE_RE.match(device):
            raise LaunchArgumentError(
                f"device:={device!r}: expected auto, cpu, cuda or cuda:N")
        out["device"] = device
    if typed.get("lifecycle", "").strip().lower() == "true":
        out["autostart"] = False  # the launch file drives the transitions
    for name in ("use_compressed", "use_sim_time"):
        word = typed.get(name, "").strip().lower()
        if word:
            if word not in BOOL_WORDS:
                raise LaunchArgumentError(f"{name}:={typed[name]!r}: expected true or false")
            out[name] = BOOL_WORDS[word]
    return out


def user_launch_prefix(prefix: str, prefix_filter: str, executable: str) -> str:
    """The ``--launch-prefix`` of ``ros2 launch`` for ``executable``, or ``''``.

    launch applies ``--launch-prefix-filter`` (a regular expression matched at the start
    of the executable's file name) only to actions without an explicit prefix; the node
    has one (:func:`exit_with_launch_prefix`), so the launch file applies the filter.
    """
    prefix, prefix_filter = prefix.strip(), prefix_filter.strip()
    if not prefix:
        return ""
    if prefix_filter and re.match(prefix_filter, Path(executable).name) is None:
        return ""
    return prefix


def dds_profile_env(value: str, environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """Environment variables that give the node the Fast DDS profile ``value``.

    ``none`` (or an empty value) keeps the DDS defaults.  A profile the user exported
    (``FASTDDS_DEFAULT_PROFILES_FILE``/``FASTRTPS_DEFAULT_PROFILES_FILE``) wins and is
    inherited unchanged.  The variable is the one the distribution's Fast DDS reads
    (:func:`profile_variable`).  Raises :class:`LaunchArgumentError` when the file
    does not exist.
    """
    environ = os.environ if environ is None else environ
    value = value.strip()
    if value.lower() in NO_PROFILE or any(environ.get(v) for v in PROFILE_VARIABLES):
        return {}
    if not Path(value).is_file():
        raise LaunchArgumentError(
            f"dds_profile:={value!r}: no such file (use dds_profile:=none for the DDS "
            "defaults)")
    return {profile_variable(environ): value}


def profile_variable(environ: Mapping[str, str]) -> str:
    """The profile variable Fast DDS reads under ``ROS_DISTRO`` (Fast DDS 3 if unknown)."""
    distro = environ.get("ROS_DISTRO", "").strip().lower()
    return PROFILE_VARIABLES[1] if distro in FAST_DDS_2_DISTROS else PROFILE_VARIABLES[0]


def package_prefix(package: str) -> Path | None:
    """The install prefix of ``package`` in the ament index (``AMENT_PREFIX_PATH``), or None."""
    from ament_index_python.packages import PackageNotFoundError, get_package_prefix

    try:
        return Path(get_package_prefix(package))
    except PackageNotFoundError:
        return None


def rviz_executable() -> Path | None:
    """``<prefix>/lib/rviz2/rviz2`` as ``launch_ros`` resolves ``Node(package='rviz2')``."""
    prefix = package_prefix("rviz2")
    if prefix is None:
        return None
    exe = prefix / "lib" / "rviz2" / "rviz2"
    return exe if exe.is_file() and os.access(exe, os.X_OK) else None


def exit_with_launch_prefix(which: Callable[[str], str | None] = shutil.which) -> str:
    """Launch prefix under which the node gets SIGINT if the launch process dies.

    ``setpriv --pdeathsig INT --`` (util-linux, essential on Debian and Ubuntu) sets
    the kernel's parent-death signal and execs the node: same pid, so launch's own
    signals still reach the node.  Returns ``''`` where that is not available.
    """
    if not sys.platform.startswith("linux"):
        return ""
    setpriv = which("setpriv")
    return f"{setpriv} --pdeathsig INT -- " if setpriv else ""


def route_sigterm_to_shutdown(context: Any, log: Callable[[str], None]) -> bool:
    """Make SIGTERM to this launch an orderly shutdown of the launched processes.

    ``LaunchService`` handles SIGTERM by cancelling its run task, which ends
    ``ros2 launch`` and leaves the node running (its own log says "using SIGTERM can
    result in orphaned processes"); without a Python-level SIGTERM handler the signal
    even kills the launch process outright.  Here the running service's signal
    manager gets a SIGTERM handler that emits ``launch.events.Shutdown`` (what
    ``LaunchService.shutdown()`` does): launch then sends the node SIGINT, SIGTERM
    after ``sigterm_timeout`` and SIGKILL after ``sigkill_timeout``, and exits 0 once
    the node is down.  Returns ``False`` (and changes nothing) where the running
    launch does not expose that manager; the parent-death signal of
    :func:`exit_with_launch_prefix` still takes the node down then.
    """
    try:
        from launch.events import Shutdown
        from launch.utilities.signal_management import AsyncSafeSignalManager
    except ImportError:
        return False
    # The manager LaunchService.run_async() entered for this run (class attribute that
    # tracks the innermost active manager; name-mangled, hence the explicit name).
    manager = getattr(AsyncSafeSignalManager, "_AsyncSafeSignalManager__current", None)
    if manager is None or not callable(getattr(manager, "handle", None)):
        return False
    state = {"sent": False}

    def on_sigterm(signum: int) -> None:
        if state["sent"]:
            log("SIGTERM again: shutdown already under way")
            return
        state["sent"] = True
        log("SIGTERM: shutting down the launched processes (SIGINT, then SIGTERM after "
            "sigterm_timeout, SIGKILL after sigkill_timeout)")
        context.emit_event_sync(Shutdown(reason="SIGTERM received"))

    manager.handle(signal.SIGTERM, on_sigterm)
    # The manager only sees signals that have a Python-level handler (it listens on the
    # wakeup fd); with SIG_DFL the kernel would end the process before it could act.
    if signal.getsignal(signal.SIGTERM) is signal.SIG_DFL:
        signal.signal(signal.SIGTERM, _ignore_here)
    return True


def _ignore_here(signum: int, frame: Any) -> None:
    """Python-level SIGTERM handler: the launch signal manager acts on the signal."""


def parse_camera_list(value: str) -> list[str]:
    """Camera namespaces from ``cameras:=[front,left]``, ``front,left`` or a YAML list.

    Names are relative ROS namespaces (``front``, ``robot/head``) that give distinct face
    ids, as the node's ``cameras`` parameter requires (``core.face_ids``); anything else
    raises :class:`LaunchArgumentError`.  An empty value or ``[]`` is no list.
    """
    from ldl_pose_ros.core.face_ids import CameraNameError, check_camera_names

    text = value.strip()
    if text.startswith("[") and text.endswith("]"):
        text = text[1:-1]
    names = [n.strip().strip("'\"").strip() for n in text.replace("\n", ",").split(",")]
    names = [n for n in names if n]
    try:
        return list(check_camera_names(names))
    except CameraNameError as exc:
        raise LaunchArgumentError(f"cameras: {exc}") from None


def camera_remappings(cameras: list[str], image: str, camera_info: str
                      ) -> tuple[list[tuple[str, str]], list[str]]:
    """Each camera's input remappings, and notes for the log.

    Remapped: ``<camera>/image``, ``<camera>/image/compressed``, ``<camera>/camera_info``.
    ``image`` and ``camera_info`` are templates: ``{camera}`` becomes each camera's name
    (``image:=/{camera}/color/image_raw``).  Without ``{camera}`` one topic cannot serve
    every camera, so it is not remapped (a note says so) and each camera keeps its
    default topic under the node's namespace.
    """
    remaps: list[tuple[str, str]] = []
    notes: list[str] = []
    for arg, topic, suffixes in (("image", image, ("image", "image/compressed")),
                                 ("camera_info", camera_info, ("camera_info",))):
        if CAMERA_PLACEHOLDER not in topic:
            notes.append(f"{arg}:={topic} has no {CAMERA_PLACEHOLDER}: each camera uses "
                         f"<namespace>/<camera>/{arg}")
            continue
        for cam in cameras:
            target = topic.replace(CAMERA_PLACEHOLDER, cam)
            for suffix in suffixes:
                extra = suffix[len(arg):]  # "" or "/compressed"
                remaps.append((f"{cam}/{suffix}", target + extra))
    return remaps, notes
