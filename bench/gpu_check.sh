#!/usr/bin/env bash
# The GPU check: one command for a session lent an accelerator (about 5-8 minutes on a
# 16-core H200 machine, set-up included).  Details: bench/gpu_check.py.
#
# Usage: bench/gpu_check.sh [--setup-only] [--quick] [--rehearse] [--models M...]
#                            [--out DIR] [--budget-s S]
#
# Interpreter: where `python3` (or $PYTHON) has a CUDA torch, a venv .venv-gpu that sees
# its packages (--system-site-packages: torch, numpy, OpenCV, ONNX Runtime of the image)
# gets this package (editable, no dependencies) and, without network, every wheel found
# in the folders of $LDL_POSE_WHEELS (colon-separated; default .whl/ if present): the
# ROS 2 wheels, mediapipe and numpy for that Python, fetched beforehand on a machine
# with PyPI by bench/gpu_wheelhouse.sh.  The device tool carries at most 64 MiB per
# call, so the wheelhouse comes in two parts: `--setup-only` with the first installs it
# into .venv-gpu (kept while the machine stays warm), the second call runs the check.
# Else the project's .venv (made by scripts/setup_env.sh if missing): a CPU machine,
# where every CUDA part prints "SKIP <section>: <reason>" and the check exits 0.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
cd "$here"

base=${PYTHON:-python3}
if command -v "$base" >/dev/null && "$base" -c 'import torch, sys; sys.exit(0 if torch.cuda.is_available() else 1)' 2>/dev/null; then
  venv=.venv-gpu
  if [ ! -x "$venv/bin/python" ]; then
    "$base" -m venv --system-site-packages "$venv"
  fi
  pip=("$venv/bin/python" -m pip --disable-pip-version-check -q)
  IFS=: read -r -a wheel_dirs <<<"${LDL_POSE_WHEELS:-.whl}"
  for wheels in "${wheel_dirs[@]}"; do
    if [ -d "$wheels" ] && ls "$wheels"/*.whl >/dev/null 2>&1; then
      echo "gpu_check: installing $(ls "$wheels"/*.whl | wc -l) wheels from $wheels"
      "${pip[@]}" install --no-index --no-deps "$wheels"/*.whl \
        || echo "gpu_check: some wheels of $wheels did not install"
    fi
  done
  "${pip[@]}" install --no-index --no-deps --no-build-isolation -e . >/dev/null \
    || "${pip[@]}" install --no-deps --no-build-isolation -e . >/dev/null
  if ! "$venv/bin/python" -c 'import tf2_msgs.msg, rclpy' 2>/dev/null \
     && "$venv/bin/python" -c 'import rosidl_generator_py, rclpy' 2>/dev/null; then
    scripts/build_tf2_msgs.sh "$venv" || echo "gpu_check: tf2_msgs not generated (the node runs with publish_tf:=false)"
  fi
  py="$venv/bin/python"
else
  [ -x .venv/bin/python ] || scripts/setup_env.sh .venv
  py=.venv/bin/python
fi
echo "gpu_check: interpreter $py"
if [ "${1:-}" = "--setup-only" ]; then
  exit 0
fi
exec timeout --signal=INT 460 "$py" -m bench.gpu_check "$@"
