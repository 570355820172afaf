#!/usr/bin/env bash
# Build a ROS 2 interface package (msg files, ament_cmake) with the rosidl/ament_cmake
# toolchain of the PyPI ROS wheels in a venv, and install it into a prefix.
#
# Usage: scripts/build_interfaces.sh SOURCE_DIR PREFIX VENV_DIR [BUILD_DIR]
#
# PREFIX may be the venv itself (then its interpreter imports the package with no
# further set-up, as for tf2_msgs) or any other folder (then a process needs
# PYTHONPATH=PREFIX/lib/pythonX.Y/site-packages, LD_LIBRARY_PATH=PREFIX/lib and
# AMENT_PREFIX_PATH=PREFIX, as for the test-only hri_msgs).  With a ROS 2 distribution
# sourced, its toolchain is found first through AMENT_PREFIX_PATH/CMAKE_PREFIX_PATH.
set -euo pipefail

src=$(cd "$1" && pwd)
mkdir -p "$2"
prefix=$(cd "$2" && pwd)
venv=$(cd "$3" && pwd)
py="$venv/bin/python"
name=$(basename "$src")
build=${4:-$(cd "$(dirname "$0")/.." && pwd)/build/$name}

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

rm -rf "$build"; mkdir -p "$build"
log="$build.log"
export AMENT_PREFIX_PATH="${AMENT_PREFIX_PATH:+$AMENT_PREFIX_PATH:}$venv"
export CMAKE_PREFIX_PATH="${CMAKE_PREFIX_PATH:+$CMAKE_PREFIX_PATH:}$venv"
export PATH="$venv/bin:$PATH"
cmake -S "$src" -B "$build" \
  -DCMAKE_BUILD_TYPE=Release \
  -DCMAKE_INSTALL_PREFIX="$prefix" \
  -DPython3_EXECUTABLE="$py" \
  -DBUILD_TESTING=OFF >"$log" 2>&1 || { cat "$log"; exit 1; }
cmake --build "$build" -j 2 >>"$log" 2>&1 || { tail -50 "$log"; exit 1; }
cmake --install "$build" >>"$log" 2>&1 || { tail -50 "$log"; exit 1; }
echo "$name: generated into $prefix"
