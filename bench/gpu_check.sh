#!/usr/bin/env bash
# The GPU check: one command for a session lent an accelerator (about 5-8 minutes on a
# 16-core H200 machine, set-up included).  Details: bench/gpu_check.py.
#
# Usage: bench/gpu_check.sh [--setup-only] [--quick] [--rehearse] [--models M...]
#                            [--out DIR] [--budget-s S]
#
# Interpreter (scripts/gpu_python.sh --venv): where `python3` (or $PYTHON) has a CUDA
# torch, a venv .venv-gpu that sees its packages (torch, numpy, OpenCV, ONNX Runtime of
# the image) gets this package (editable, no dependencies) and, without network, every
# wheel found in the folders of $LDL_POSE_WHEELS (colon-separated; default .whl/ if
# present): the ROS 2 wheels, mediapipe and numpy for that Python, fetched beforehand on a
# machine with PyPI by bench/gpu_wheelhouse.sh.  The device tool carries at most 64 MiB per
# call, so the wheelhouse comes in two parts: `--setup-only` with the first installs it
# into .venv-gpu (kept while the machine stays warm), the second call runs the check.
# Else the project's .venv (made by scripts/setup_env.sh if missing): a CPU machine,
# where every CUDA part prints "SKIP <section>: <reason>" and the check exits 0.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
cd "$here"

py=$(scripts/gpu_python.sh --venv)
if [ "$py" = .venv-gpu/bin/python ] && ! "$py" -c 'import tf2_msgs.msg, rclpy' 2>/dev/null \
   && "$py" -c 'import rosidl_generator_py, rclpy' 2>/dev/null; then
  scripts/build_tf2_msgs.sh .venv-gpu || echo "gpu_check: tf2_msgs not generated (the node runs with publish_tf:=false)"
fi
echo "gpu_check: interpreter $py"
if [ "${1:-}" = "--setup-only" ]; then
  exit 0
fi
exec timeout --signal=INT 460 "$py" -m bench.gpu_check "$@"
