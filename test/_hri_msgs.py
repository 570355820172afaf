# Copyright 2026 The ldl_pose_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""The TEST-ONLY hri_msgs package (test/interfaces/hri_msgs), built once into a cache folder.

For tests of the ROS4HRI publishing path (REP-155 ``/humans/faces/...``) where the real
``hri_msgs`` is not installed.  Use in a test module::

    from _hri_msgs import load_in_process  # fixtures come from conftest.py

    def test_x(hri_msgs_env):           # env for child processes (the node under test)
        subprocess.Popen(cmd, env={**os.environ, **hri_msgs_env})

    def test_y(hri_msgs_prefix):        # or in this process (before creating publishers)
        load_in_process(hri_msgs_prefix)
        from hri_msgs.msg import IdsList

Where ``hri_msgs`` is already importable (a distribution with the real package), the
fixtures use it and build nothing.  The built package lives only under the test cache
(``_build_cache``): it is never installed into the venv or a workspace.
"""

from __future__ import annotations

import ctypes
import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pytest
from _build_cache import cached_build

REPO = Path(__file__).resolve().parents[1]
SOURCE = REPO / "test" / "interfaces" / "hri_msgs"
LIB_KINDS = ("generator_c", "typesupport_c", "typesupport_cpp", "typesupport_fastrtps_c",
             "typesupport_fastrtps_cpp", "typesupport_introspection_c",
             "typesupport_introspection_cpp", "generator_py")


def real_hri_msgs_installed() -> bool:
    """``hri_msgs`` importable without the test build (a sourced distribution)."""
    try:
        return importlib.util.find_spec("hri_msgs") is not None
    except (ImportError, ValueError):
        return False


def build_hri_msgs() -> Path:
    """Prefix of the test-only build (cached per content of the sources and scripts)."""
    inputs = [SOURCE, REPO / "scripts" / "build_test_hri_msgs.sh",
              REPO / "scripts" / "build_interfaces.sh"]

    def build(prefix: Path) -> None:
        subprocess.run([str(REPO / "scripts" / "build_test_hri_msgs.sh"), str(prefix),
                        str(Path(sys.executable).parent.parent)],
                       check=True, capture_output=True, timeout=600)

    return cached_build("hri_msgs", inputs, build, extra=sys.executable)


def site_packages(prefix: Path) -> Path:
    """``PREFIX/lib/pythonX.Y/site-packages`` of this interpreter's version."""
    return prefix / "lib" / f"python{sys.version_info.major}.{sys.version_info.minor}" \
        / "site-packages"


def env_for(prefix: Path, base: dict[str, str] | None = None) -> dict[str, str]:
    """PYTHONPATH, LD_LIBRARY_PATH and AMENT_PREFIX_PATH with ``prefix`` prepended.

    Where ``AMENT_PREFIX_PATH`` is unset (the PyPI-wheel venv), the venv's own prefix is
    kept on it: a set but partial ament index would hide the venv's packages.
    """
    base = dict(os.environ) if base is None else base
    ament = base.get("AMENT_PREFIX_PATH", "")
    if not ament and (Path(sys.prefix) / "share" / "ament_index").is_dir():
        ament = sys.prefix
    out = {}
    for var, path, rest in (
            ("PYTHONPATH", site_packages(prefix), base.get("PYTHONPATH", "")),
            ("LD_LIBRARY_PATH", prefix / "lib", base.get("LD_LIBRARY_PATH", "")),
            ("AMENT_PREFIX_PATH", prefix, ament)):
        out[var] = os.pathsep.join(filter(None, [str(path), rest]))
    return out


def load_in_process(prefix: Path) -> None:
    """Make ``import hri_msgs.msg`` work in this process (libraries are preloaded).

    Only ``LD_LIBRARY_PATH`` of this process changes (the typesupport lookup reads it at
    use time); children started later are unaffected otherwise.
    """
    os.environ["LD_LIBRARY_PATH"] = env_for(prefix)["LD_LIBRARY_PATH"]
    for kind in LIB_KINDS:
        ctypes.CDLL(str(prefix / "lib" / f"libhri_msgs__rosidl_{kind}.so"),
                    mode=ctypes.RTLD_GLOBAL)
    if str(site_packages(prefix)) not in sys.path:
        sys.path.insert(0, str(site_packages(prefix)))


@pytest.fixture(scope="session")
def hri_msgs_prefix() -> Path | None:
    """Prefix of the test build, or ``None`` where the real hri_msgs is installed."""
    pytest.importorskip("rosidl_generator_py")
    return None if real_hri_msgs_installed() else build_hri_msgs()


@pytest.fixture(scope="session")
def hri_msgs_env(hri_msgs_prefix: Path | None) -> dict[str, str]:
    """Environment variables to add for a child process that imports hri_msgs."""
    return {} if hri_msgs_prefix is None else env_for(hri_msgs_prefix)
