#!/usr/bin/env bash
# The Python interpreter for a job on a lent GPU machine: prints its path on stdout
# (progress goes to stderr).  Used by bench/gpu_check.sh and training/accelerator_train.sh.
#
# Usage: py=$(scripts/gpu_python.sh [--venv] [MODULE...])
#        scripts/gpu_python.sh --make-venv BASE_PYTHON VENV_DIR
#
# Where `python3` (or $PYTHON) has a CUDA torch: that interpreter itself when every MODULE
# imports and no wheels are carried; else (and always with --venv) the venv .venv-gpu
# made over it (--make-venv), which gets, without network, every wheel found in the
# folders of $LDL_POSE_WHEELS (colon-separated; default .whl/ if present: fetched
# beforehand on a machine with PyPI, see bench/gpu_wheelhouse.sh) and this package
# (editable, no dependencies).  Without CUDA: the project's .venv (scripts/setup_env.sh
# makes it if missing), where the callers skip their CUDA parts.
#
# The venv sees the base interpreter's packages (torch, numpy, OpenCV, ONNX Runtime of
# the machine's image) through a .pth file naming their folders: --system-site-packages
# alone is not enough when the base interpreter is itself a venv (as python3 on the lent
# machines is), since a venv made from a venv sees only the system Python's packages.
# Its own packages (the carried wheels) come first.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
cd "$here"

make_venv() {  # BASE_PYTHON VENV_DIR
  local base=$1 venv=$2
  if [ ! -x "$venv/bin/python" ]; then
    "$base" -m venv --system-site-packages "$venv" >&2
  fi
  local site
  site=$("$venv/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
  "$base" -c 'import site; print("\n".join(site.getsitepackages()))' >"$site/_ldl_pose_base.pth"
  local pip=("$venv/bin/python" -m pip --disable-pip-version-check -q)
  local dirs wheels
  IFS=: read -r -a dirs <<<"${LDL_POSE_WHEELS:-.whl}"
  for wheels in "${dirs[@]}"; do
    if [ -d "$wheels" ] && ls "$wheels"/*.whl >/dev/null 2>&1; then
      echo "gpu_python: installing $(ls "$wheels"/*.whl | wc -l) wheels from $wheels" >&2
      "${pip[@]}" install --no-index --no-deps "$wheels"/*.whl >&2 \
        || echo "gpu_python: some wheels of $wheels did not install" >&2
    fi
  done
  "${pip[@]}" install --no-index --no-deps --no-build-isolation -e . >/dev/null 2>&1 \
    || "${pip[@]}" install --no-deps --no-build-isolation -e . >/dev/null 2>&1 \
    || echo "gpu_python: this package not installed in $venv (python -m from the checkout still works)" >&2
}

if [ "${1:-}" = "--make-venv" ]; then
  make_venv "$2" "$3"
  echo "$3/bin/python"
  exit 0
fi
force_venv=0
if [ "${1:-}" = "--venv" ]; then
  force_venv=1
  shift
fi

base=${PYTHON:-python3}
if command -v "$base" >/dev/null \
   && "$base" -c 'import torch, sys; sys.exit(0 if torch.cuda.is_available() else 1)' 2>/dev/null; then
  carried=0
  IFS=: read -r -a dirs <<<"${LDL_POSE_WHEELS:-.whl}"
  for wheels in "${dirs[@]}"; do
    if ls "$wheels"/*.whl >/dev/null 2>&1; then carried=1; fi
  done
  if [ "$force_venv" = 0 ] && [ "$carried" = 0 ] \
     && "$base" -c "import importlib, sys; [importlib.import_module(m) for m in sys.argv[1:]]" "$@" 2>/dev/null; then
    command -v "$base"
    exit 0
  fi
  make_venv "$base" .venv-gpu
  echo .venv-gpu/bin/python
else
  [ -x .venv/bin/python ] || scripts/setup_env.sh .venv >&2
  echo .venv/bin/python
fi
