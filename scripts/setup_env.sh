#!/usr/bin/env bash
# Create or update the project's virtual environment.
#
# Usage: scripts/setup_env.sh VENV_DIR
#
# - With a ROS 2 distribution sourced (ROS_DISTRO set and rclpy importable by
#   the system python3), the venv sees the distribution's packages
#   (--system-site-packages) and no ROS wheel or message package is installed
#   or built.
# - Otherwise ROS 2 Kilted comes from PyPI wheels (requirements/ros-wheels.txt)
#   and tf2_msgs, which has no wheel, is generated into the venv.
set -euo pipefail

venv=$1
here=$(cd "$(dirname "$0")/.." && pwd)
cd "$here"

real_ros=0
if [ -n "${ROS_DISTRO:-}" ] && python3 -c 'import rclpy' >/dev/null 2>&1; then
  real_ros=1
fi

if [ ! -x "$venv/bin/python" ]; then
  if [ "$real_ros" = 1 ]; then
    echo "setup: ROS 2 $ROS_DISTRO is sourced; the venv uses its packages"
    python3 -m venv --system-site-packages "$venv"
  else
    py=${PYTHON:-python3.11}
    command -v "$py" >/dev/null || py=python3
    "$py" -m venv "$venv"
  fi
fi

pip=("$venv/bin/python" -m pip --disable-pip-version-check)
"${pip[@]}" install -q --upgrade 'pip>=24' 'setuptools>=77.0.3,<80' wheel
if [ "$real_ros" = 0 ]; then
  "${pip[@]}" install -q -r requirements/ros-wheels.txt
fi
"${pip[@]}" install -q -r requirements/base.txt -r requirements/dev.txt
"${pip[@]}" install -q --no-deps -r requirements/mediapipe.txt

scripts/build_tf2_msgs.sh "$venv"
# colcon must not crawl into the venv: it holds the package.xml of every wheel.
touch "$venv/COLCON_IGNORE"

# The package itself, editable, with its console scripts (ldl-pose, pose_node).
"${pip[@]}" install -q --no-deps --no-build-isolation -e .
"$venv/bin/python" - <<'PY'
import cv2, numpy, torch, rclpy, tf2_msgs.msg  # noqa: F401
print(f"setup: torch {torch.__version__}, numpy {numpy.__version__}, opencv {cv2.__version__}")
PY
