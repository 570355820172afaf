#!/usr/bin/env bash
# Prepare here, where the data is, what training/accelerator_train.sh needs on a lent GPU
# machine, in folders git ignores and the device call carries: the packed data cache in
# cache/ and, only for packages that machine lacks, wheels in .whl/train.  Prints the
# size that would travel (this checkout + the carried folders; the limit is 64 MiB).
#
# Usage: training/accelerator_prepare.sh [--config YAML] [--max-mb 45] [--wheel NAME==VER]...
#                                        [--check-only]
#
#   --config      the config whose data is packed (default training/configs/default_model.yaml;
#                 its sources must be built: see the commands at the top of that file)
#   --max-mb      size of cache/ in MiB (default 45: with the ~12 MiB checkout, under 64)
#   --wheel       fetch this wheel for the machine's CPython 3.12 (bench/gpu_wheelhouse.sh;
#                 none is needed today: the image has torch, numpy, OpenCV, PyYAML, SciPy,
#                 tqdm, onnx and ONNX Runtime)
#   --check-only  pack nothing; only measure what would travel
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
cd "$here"
config=training/configs/default_model.yaml
max_mb=45
pack=1
wheels=()
while [ $# -gt 0 ]; do
  case $1 in
    --config) config=$2; shift 2 ;;
    --max-mb) max_mb=$2; shift 2 ;;
    --wheel) wheels+=("$2"); shift 2 ;;
    --check-only) pack=0; shift ;;
    *) echo "error: unknown option $1 (see the header of $0)" >&2; exit 2 ;;
  esac
done
[ -x .venv/bin/python ] || scripts/setup_env.sh .venv
if [ "$pack" = 1 ]; then
  if [ -L cache ]; then
    echo "error: cache is a symbolic link, which travels as a link: remove it first" >&2
    exit 2
  fi
  .venv/bin/python -m training.pack_cache --config "$config" --out cache --max-mb "$max_mb" --force
fi
if [ ${#wheels[@]} -gt 0 ]; then
  bench/gpu_wheelhouse.sh .whl/train 3.12 "${wheels[@]}"
fi

# What travels: tracked files, untracked files git does not ignore, the carried folders.
bytes() { du -cb --files0-from=- 2>/dev/null | tail -1 | cut -f1; }
tree=$( (git ls-files -z; git ls-files -z -o --exclude-standard) | bytes)
carry=(cache)
[ -d .whl/train ] && carry+=(.whl/train)
carried=0
for d in "${carry[@]}"; do
  if [ -L "$d" ]; then echo "warning: $d is a symbolic link: it would travel as a link" >&2; fi
  if [ -d "$d" ]; then carried=$((carried + $(du -sb "$d" | cut -f1))); fi
done
total=$((tree + carried))
mib() { awk -v b="$1" 'BEGIN { printf "%.1f MiB", b / 1048576 }'; }
echo "travels: checkout $(mib "$tree") + carried ${carry[*]} $(mib "$carried") = $(mib "$total") (limit 64 MiB)"
if [ "$total" -gt $((64 * 1048576)) ]; then
  echo "error: over the device tool's 64 MiB: pack with a smaller --max-mb" >&2
  exit 1
fi
echo "carry: [$(printf '"%s", ' "${carry[@]}" | sed 's/, $//')]"
