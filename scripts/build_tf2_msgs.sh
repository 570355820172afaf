#!/usr/bin/env bash
# Generate tf2_msgs into a virtual environment whose ROS 2 comes from PyPI wheels.
#
# Usage: scripts/build_tf2_msgs.sh VENV_DIR
#
# Does nothing when tf2_msgs is already importable (a sourced ROS 2
# distribution, or an earlier run).  Otherwise it uses the wheels' own
# rosidl/ament_cmake toolchain and the system cmake to build the message
# package from ros_deps/tf2_msgs and installs it into the venv prefix, so the
# venv's interpreter imports it with no further environment set-up.
set -euo pipefail

venv=$(cd "$1" && pwd)
py="$venv/bin/python"
here=$(cd "$(dirname "$0")/.." && pwd)

if "$py" -c 'import tf2_msgs.msg' 2>/dev/null; then
  echo "tf2_msgs: already importable, nothing to build"
  exit 0
fi

# The wheels' exported CMake files name the interpreter paths of the machine
# that built them; point them at this venv's own include and numpy dirs.
py_inc=$("$py" -c 'import sysconfig; print(sysconfig.get_paths()["include"])')
np_inc=$("$py" -c 'import numpy; print(numpy.get_include())')
site=$("$py" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
foreign=/opt/python/cp311-cp311
{ grep -rlI --include='*.cmake' "$foreign" "$venv/share" "$venv/lib/cmake" 2>/dev/null || true; } | while read -r f; do
  sed -i \
    -e "s#$foreign/lib/python3.11/site-packages/numpy/_core/include#$np_inc#g" \
    -e "s#$foreign/lib/python3.11/site-packages#$site#g" \
    -e "s#$foreign/include/python3.11#$py_inc#g" \
    -e "s#$foreign#$venv#g" "$f"
done

build="$here/build/tf2_msgs"
rm -rf "$build"; mkdir -p "$build"
export AMENT_PREFIX_PATH="$venv" CMAKE_PREFIX_PATH="$venv"
export PATH="$venv/bin:$PATH"
cmake -S "$here/ros_deps/tf2_msgs" -B "$build" \
  -DCMAKE_BUILD_TYPE=Release \
  -DCMAKE_INSTALL_PREFIX="$venv" \
  -DPython3_EXECUTABLE="$py" \
  -DBUILD_TESTING=OFF >"$build/../tf2_msgs.log" 2>&1 || { cat "$build/../tf2_msgs.log"; exit 1; }
cmake --build "$build" -j 2 >>"$build/../tf2_msgs.log" 2>&1 || { tail -50 "$build/../tf2_msgs.log"; exit 1; }
cmake --install "$build" >>"$build/../tf2_msgs.log" 2>&1 || { tail -50 "$build/../tf2_msgs.log"; exit 1; }

"$py" -c 'from tf2_msgs.msg import TFMessage; TFMessage()' 
echo "tf2_msgs: generated into $venv"
