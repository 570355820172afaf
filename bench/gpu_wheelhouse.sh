#!/usr/bin/env bash
# Fetch, on a machine with PyPI, the wheels bench/gpu_check.sh installs on the lent GPU
# machine (which has no network; its python3 is CPython 3.12 with a CUDA torch).
#
# Usage: bench/gpu_wheelhouse.sh DIR [PYTHON_VERSION [REQUIREMENT...]]   (default 3.12)
#
# With REQUIREMENTs (NAME==VERSION): only those wheels, into DIR (no dependencies: name
# each one needed; training/accelerator_prepare.sh --wheel uses this).  Without:
# DIR/a: the ROS 2 runtime wheels of requirements/ros-wheels.txt (the node over DDS,
# 44 MB for 3.12); DIR/b: mediapipe (the detector) and its import-time pins (35 MB);
# DIR/c: numpy at the project's pin (18 MB; mediapipe 0.10.21 wants numpy < 2).  The
# device tool carries at most 64 MiB per call, this checkout (~12 MB) included: carry
# one part per call, `LDL_POSE_WHEELS=DIR/a bench/gpu_check.sh --setup-only`, the same
# with DIR/c, then DIR/b with the check itself (.venv-gpu stays while the machine is warm).
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
out=$1
pyver=${2:-3.12}
shift $(( $# < 2 ? $# : 2 ))
dl=(python3 -m pip download -q --no-deps --only-binary=:all: --python-version "$pyver"
    --implementation cp --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64
    --platform manylinux_2_27_x86_64 --platform manylinux_2_28_x86_64
    --platform manylinux_2_34_x86_64 --platform manylinux_2_35_x86_64 --platform any)
if [ $# -gt 0 ]; then
  mkdir -p "$out"
  "${dl[@]}" -d "$out" "$@"
  du -sh "$out"
  exit 0
fi
mkdir -p "$out/a" "$out/b" "$out/c"
# The runtime closure of the ROS wheels (what the project's venv resolved), without the
# build toolchain (ament_cmake, rosidl generators): tf2_msgs is then not generated and
# the node runs with publish_tf:=false.
"$here/.venv/bin/python" -m pip freeze 2>/dev/null | grep -iE '^ros-' \
  | grep -viE 'ament-cmake|cmake-module|gtest|gmock|ament-(lint|flake8|pep257|cppcheck|cpplint|uncrustify|package)|uncrustify|rosidl-(cmake|generator|adapter|cli|parser|pycommon|default-generators|core-generators)' \
  >"$out/ros.txt"
"${dl[@]}" -d "$out/a" -r "$out/ros.txt"
{ grep -E '^(absl-py|attrs|flatbuffers|protobuf)==' "$here/requirements/base.txt"
  grep -E '^mediapipe==' "$here/requirements/mediapipe.txt"; } >"$out/b.txt"
"${dl[@]}" -d "$out/b" -r "$out/b.txt"
grep -E '^numpy==' "$here/requirements/base.txt" >"$out/c.txt"
"${dl[@]}" -d "$out/c" -r "$out/c.txt"
du -sh "$out/a" "$out/b" "$out/c"
