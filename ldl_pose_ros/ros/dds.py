# Copyright 2026 The ldl_pose_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""The DDS environment of the node's processes: the large-image profile, an own domain.

With Fast DDS's default settings, frames over 512 KiB mostly do not reach a
best-effort subscriber in another process; ``config/fastdds_large_images.xml``
enlarges the shared-memory transport.  :func:`use_dds_profile` exports it for this
process, :func:`node_environment` builds the environment of a node process and its
peers (demo, bench, tests): the profile, a ``ROS_DOMAIN_ID`` of their own and
localhost discovery.  Nothing here imports rclpy.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from pathlib import Path

from ldl_pose_ros.ros.launch_support import PROFILE_VARIABLES as PROFILE_VARS
from ldl_pose_ros.ros.launch_support import profile_variable

PROFILE_NAME = "fastdds_large_images.xml"


def find_config(name: str) -> Path | None:
    """A file of the package's ``config/`` folder (source tree or installed share)."""
    candidates = [Path(__file__).resolve().parents[2] / "config" / name,
                  Path(sys.prefix) / "share" / "ldl_pose_ros" / "config" / name]
    try:
        from ament_index_python.packages import get_package_share_directory

        candidates.append(Path(get_package_share_directory("ldl_pose_ros")) / "config" / name)
    except Exception:  # noqa: BLE001, S110 - no ament index: source tree or prefix
        pass
    return next((c for c in candidates if c.is_file()), None)


def find_dds_profile() -> Path | None:
    """The package's Fast DDS large-image profile."""
    return find_config(PROFILE_NAME)


def use_dds_profile() -> None:
    """Export the large-image profile for this process unless one is set (before rclpy.init)."""
    if any(os.environ.get(v) for v in PROFILE_VARS):
        return
    profile = find_dds_profile()
    if profile is not None:
        os.environ[profile_variable(os.environ)] = str(profile)


def node_environment(domain_id: int | None = None, base: Mapping[str, str] | None = None,
                     cache_dir: Path | None = None, force_profile: bool = False
                     ) -> dict[str, str]:
    """Environment for a node process and its peers on this machine only.

    ``ROS_DOMAIN_ID``: ``domain_id``, else the environment's, else one derived from
    this process id; discovery on localhost only; the large-image profile unless
    one is exported (or always, with ``force_profile``: measurements); unbuffered
    output; ``LDL_POSE_CACHE_DIR`` if ``cache_dir``.
    """
    env = dict(os.environ if base is None else base)
    if domain_id is not None:
        env["ROS_DOMAIN_ID"] = str(domain_id)
    env.setdefault("ROS_DOMAIN_ID", str(1 + os.getpid() % 100))
    env["ROS_AUTOMATIC_DISCOVERY_RANGE"] = "LOCALHOST"
    env.pop("ROS_LOCALHOST_ONLY", None)
    env["PYTHONUNBUFFERED"] = "1"
    if force_profile or not any(env.get(v) for v in PROFILE_VARS):
        profile = find_dds_profile()
        if profile is not None:
            for var in PROFILE_VARS:
                env.pop(var, None)
            env[profile_variable(env)] = str(profile)
    if cache_dir is not None:
        env["LDL_POSE_CACHE_DIR"] = str(cache_dir)
    return env
