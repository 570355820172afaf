#!/usr/bin/env bash
# Generate tf2_msgs into a virtual environment whose ROS 2 comes from PyPI wheels.
#
# Usage: scripts/build_tf2_msgs.sh VENV_DIR
#
# Does nothing when tf2_msgs is already importable (a sourced ROS 2
# distribution, or an earlier run).  Otherwise it builds ros_deps/tf2_msgs with
# the wheels' own rosidl/ament_cmake toolchain and the system cmake
# (scripts/build_interfaces.sh) and installs it into the venv prefix, so the
# venv's interpreter imports it with no further environment set-up.
set -euo pipefail

venv=$(cd "$1" && pwd)
here=$(cd "$(dirname "$0")/.." && pwd)

if "$venv/bin/python" -c 'import tf2_msgs.msg' 2>/dev/null; then
  echo "tf2_msgs: already importable, nothing to build"
  exit 0
fi
"$here/scripts/build_interfaces.sh" "$here/ros_deps/tf2_msgs" "$venv" "$venv"
"$venv/bin/python" -c 'from tf2_msgs.msg import TFMessage; TFMessage()'
