#!/usr/bin/env bash
# Build a stand-in for an installed ROS 2 distribution from the PyPI ROS wheels, for the
# test of the README's distribution route (test/test_distribution_route.py).
#
# Usage: scripts/ros_standin.sh PREFIX [PYTHON]
#
# PYTHON (default /usr/bin/python3, Debian's externally managed system Python) is the
# interpreter of the "distribution".  PREFIX/setup.bash then plays
# /opt/ros/$ROS_DISTRO/setup.bash: ROS_DISTRO, AMENT_PREFIX_PATH, CMAKE_PREFIX_PATH,
# PYTHONPATH and LD_LIBRARY_PATH.  What apt would put into /usr/lib/python3/dist-packages
# (rosdep's keys, colcon) comes through the same PYTHONPATH, at the versions the project
# pins; pip and setuptools are removed from it, so a venv keeps its own, as with apt.
# Never used by the product: a test fixture only.
set -euo pipefail

prefix=$1
python=${2:-/usr/bin/python3}
here=$(cd "$(dirname "$0")/.." && pwd)
env="$prefix/env"

rm -rf "$prefix"
"$python" -m venv "$env"
pip=("$env/bin/python" -m pip --disable-pip-version-check -q)
"${pip[@]}" install 'setuptools>=77.0.3,<80' wheel
# The distribution's packages and the rosdep keys of package.xml that the wheels'
# toolchain needs too, at the project's pins.
pins=$(grep -E '^(numpy|pyyaml)==' "$here/requirements/base.txt")
# shellcheck disable=SC2086
"${pip[@]}" install -r "$here/requirements/ros-wheels.txt" $pins
"$here/scripts/build_interfaces.sh" "$here/ros_deps/tf2_msgs" "$env" "$env" \
  "$prefix/build/tf2_msgs" >/dev/null
site=$("$env/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
(cd "$site" && rm -rf pip pip-* setuptools setuptools-* wheel wheel-* _distutils_hack \
  pkg_resources distutils-precedence.pth ros_wheels_bootstrapper*)
rm -rf "$prefix/build"
libs=$(find "$site" -maxdepth 1 -type d -name 'ros_*.libs' | sort | tr '\n' ':')
distro=$(grep -m1 -oE 'ROS 2 [A-Z][a-z]+' "$here/requirements/ros-wheels.txt" \
  | awk '{print tolower($3)}')
cat >"$prefix/setup.bash" <<SETUP
# Stand-in for /opt/ros/$distro/setup.bash (scripts/ros_standin.sh).
export ROS_DISTRO=$distro ROS_VERSION=2 ROS_PYTHON_VERSION=3
export AMENT_PREFIX_PATH="$env\${AMENT_PREFIX_PATH:+:\$AMENT_PREFIX_PATH}"
export CMAKE_PREFIX_PATH="$env\${CMAKE_PREFIX_PATH:+:\$CMAKE_PREFIX_PATH}"
export PYTHONPATH="$site\${PYTHONPATH:+:\$PYTHONPATH}"
export LD_LIBRARY_PATH="$env/lib:$libs\${LD_LIBRARY_PATH:+\$LD_LIBRARY_PATH}"
SETUP
# As in /opt/ros: the prefix on AMENT_PREFIX_PATH has its local_setup script.
cp "$prefix/setup.bash" "$env/local_setup.bash"
echo "ros stand-in ($distro, $("$python" --version)): source $prefix/setup.bash"
