#!/usr/bin/env bash
# Train the default model on a lent GPU machine in one command, within a wall-clock budget.
#
# Usage: training/accelerator_train.sh [--out DIR] [--minutes M] [--config YAML] [--rehearse]
#                                      [-- TRAIN_OPTIONS...]
#
#   --out DIR    where the run goes (default $OUT, else out/accelerator): best.ckpt,
#                best.onnx, last.ckpt (resume with --resume DIR/last.ckpt), metrics.csv,
#                summary.json, config.yaml and train.log (7 files)
#   --minutes M  wall-clock for the whole command, set-up included (default 7.5); the
#                trainer gets what is left and fits its schedule into it
#   --config     training config (default training/configs/default_model_gpu.yaml, which
#                reads the packed cache in cache/: training/accelerator_prepare.sh)
#   --rehearse   the same on this machine's CPU, small: 1 thread, 2 loader workers,
#                batch 16, 2 epochs, 1.5 minutes unless --minutes is given
#   after --      more options for python -m training.train (e.g. --resume, --seed)
#
# Interpreter: scripts/gpu_python.sh (python3 of the machine when it has a CUDA torch and
# every module training needs; else a venv over it with the wheels carried in
# $LDL_POSE_WHEELS, default .whl/train).  Without CUDA only --rehearse runs; the line
# "SKIP cuda: ..." says so.  The exact device call is in training/README.md.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
cd "$here"
start=$(date +%s.%N)

out=${OUT:-out/accelerator}
minutes=""
config=training/configs/default_model_gpu.yaml
rehearse=0
extra=()
while [ $# -gt 0 ]; do
  case $1 in
    --out) out=$2; shift 2 ;;
    --minutes) minutes=$2; shift 2 ;;
    --config) config=$2; shift 2 ;;
    --rehearse) rehearse=1; shift ;;
    --) shift; extra+=("$@"); break ;;
    *) echo "error: unknown option $1 (see the header of $0)" >&2; exit 2 ;;
  esac
done
if [ "$rehearse" = 1 ]; then
  minutes=${minutes:-1.5}
  extra=(--device cpu --threads 1 --num-workers 2 --batch-size 16 --epochs 2 "${extra[@]}")
fi
minutes=${minutes:-7.5}

py=$(LDL_POSE_WHEELS=${LDL_POSE_WHEELS:-.whl/train} scripts/gpu_python.sh torch cv2 numpy yaml scipy tqdm)
export PYTHONUNBUFFERED=1
gpu=$("$py" -c 'import torch; print(torch.cuda.get_device_name(0) if torch.cuda.is_available() else "")')
if [ -z "$gpu" ]; then
  echo "SKIP cuda: no CUDA device here; training on the CPU (a rehearsal)"
  if [ "$rehearse" = 0 ]; then
    echo "error: no CUDA device: use --rehearse for the CPU rehearsal" >&2
    exit 2
  fi
fi
mkdir -p "$out"
# Loader workers hand batches over in /dev/shm (2 batches in flight each, about 40 MB at
# batch 256): where it is small, fewer workers rather than a crash in the middle.
workers=$("$py" -c '
import shutil, sys
try:
    free = shutil.disk_usage("/dev/shm").free
except OSError:
    sys.exit()
if free < 2 * 2**30:
    print(max(2, int(free / (80 * 2**20))))' 2>/dev/null || true)
if [ -n "$workers" ] && [ "$rehearse" = 0 ]; then
  echo "accelerator_train: /dev/shm is small: $workers loader workers"
  extra=(--num-workers "$workers" "${extra[@]}")
fi
# What is left of the budget, less the interpreter's start (torch, CUDA) and the report.
left=$("$py" -c 'import sys, time; print(max(0.1, (float(sys.argv[1]) * 60 - (time.time() - float(sys.argv[2])) - 15) / 60))' "$minutes" "$start")
{
  echo "accelerator_train: $(date -u +%FT%TZ) on ${gpu:-CPU}, $(nproc) CPU cores; $("$py" -c 'import torch, sys; print(f"python {sys.version.split()[0]}, torch {torch.__version__}")')"
  echo "accelerator_train: $config, ${left:0:5} minutes for the trainer, out $out"
} | tee "$out/train.log"
rc=0
# A hard stop a little after the budget (the trainer plans to end before it): the
# checkpoints of the finished epochs are in $out whatever happens.
hard=$("$py" -c 'import sys; print(int(float(sys.argv[1]) * 60 + 10))' "$left")
set +e
timeout --signal=INT --kill-after=10 "$hard" "$py" -m training.train --config "$config" \
  --out "$out" --max-minutes "$left" "${extra[@]}" 2>&1 | tee -a "$out/train.log"
rc=${PIPESTATUS[0]}
set -e
rm -rf "$out/tb"  # TensorBoard events repeat metrics.csv (and the device returns 8 files)
"$py" -m training.run_report "$out" | tee -a "$out/train.log" || true
echo "accelerator_train: exit $rc after $("$py" -c 'import sys, time; print(round(time.time() - float(sys.argv[1])))' "$start") s" | tee -a "$out/train.log"
exit "$rc"
