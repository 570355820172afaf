#!/usr/bin/env bash
# TEST-ONLY: generate the local hri_msgs interface package (test/interfaces/hri_msgs,
# written from REP-155's field lists) into PREFIX, for tests of the ROS4HRI publishing
# path where the real hri_msgs is not installed.  Never install it into a venv or a
# workspace: PREFIX is a test cache folder (test/conftest.py, fixture hri_msgs_env).
#
# Usage: scripts/build_test_hri_msgs.sh PREFIX [VENV_DIR]   (VENV_DIR default: .venv)
#
# A process then imports it with PYTHONPATH=PREFIX/lib/pythonX.Y/site-packages,
# LD_LIBRARY_PATH=PREFIX/lib and AMENT_PREFIX_PATH=PREFIX prepended.
set -euo pipefail

here=$(cd "$(dirname "$0")/.." && pwd)
prefix=$1
venv=${2:-$here/.venv}
case "$(cd "$venv" && pwd)" in
  "$(mkdir -p "$prefix" && cd "$prefix" && pwd)") echo "refusing to build into the venv" >&2; exit 2;;
esac
"$here/scripts/build_interfaces.sh" "$here/test/interfaces/hri_msgs" "$prefix" "$venv" \
  "$prefix/build"
rm -rf "$prefix/build"
