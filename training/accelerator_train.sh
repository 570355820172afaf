#!/usr/bin/env bash
# Train the default model on a lent GPU machine in one command, within a wall-clock budget.
#
# Usage: training/accelerator_train.sh [--out DIR] [--minutes M] [--config YAML] [--rehearse]
#                                      [--average-share F] [-- TRAIN_OPTIONS...]
#
#   --out DIR    where the run goes (default $OUT, else out/accelerator): best.ckpt,
#                best.onnx, last.ckpt (resume with --resume DIR/last.ckpt), metrics.csv,
#                summary.json, config.yaml and train.log of the first stage, and
#                average.ckpt of the second (8 files: what the device returns at most)
#   --minutes M  wall-clock for the whole command, set-up included (default 7.5); the
#                trainers get what is left and fit their schedules into it
#   --average-share F
#                the second stage's share of the trainers' time (default 0.3; 0: first
#                stage only).  As training/configs/default_model_swa.yaml does on the
#                CPU, the first stage's last network is trained on at a constant half
#                of the peak learning rate, one network kept per epoch
#                (\$AVERAGE_EPOCHS, default 5), and their uniform mean is average.ckpt:
#                the network to ship (python -m training.ship_model --ckpt ...)
#   --config     training config (default training/configs/default_model_gpu.yaml, which
#                reads the packed cache in cache/: training/accelerator_prepare.sh)
#   --rehearse   the same on this machine's CPU, small: 1 thread, 2 loader workers,
#                batch 16, 2 epochs, 1.5 minutes unless --minutes is given
#   after --      more options for the first stage's python -m training.train (e.g.
#                --resume, --seed)
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
share=0.3
extra=()  # the trainer options of both stages (the rehearsal's, loader workers)
user=()   # after --: the first stage's only (e.g. --resume, --seed)
while [ $# -gt 0 ]; do
  case $1 in
    --out) out=$2; shift 2 ;;
    --minutes) minutes=$2; shift 2 ;;
    --config) config=$2; shift 2 ;;
    --rehearse) rehearse=1; shift ;;
    --average-share) share=$2; shift 2 ;;
    --) shift; user+=("$@"); break ;;
    *) echo "error: unknown option $1 (see the header of $0)" >&2; exit 2 ;;
  esac
done
if [ "$rehearse" = 1 ]; then
  minutes=${minutes:-1.5}
  extra=(--device cpu --threads 1 --num-workers 2 --batch-size 16 --epochs 2)
fi
minutes=${minutes:-7.5}
if ! [[ $share =~ ^(0(\.[0-9]+)?|\.[0-9]+)$ ]]; then
  echo "error: --average-share must be a number in [0, 1), got '$share'" >&2
  exit 2
fi

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
# What is left of the budget, less the interpreter's start (torch, CUDA) and the report;
# with a second stage also less its two starts and the averaging (about 20 s more).
left=$("$py" -c '
import sys, time
minutes, start, share = (float(a) for a in sys.argv[1:])
left = minutes * 60 - (time.time() - start) - 15 - (20 if share > 0 else 0)
print(max(0.1, left / 60))' "$minutes" "$start" "$share")
first=$("$py" -c 'import sys; print(float(sys.argv[1]) * (1 - float(sys.argv[2])))' "$left" "$share")
{
  echo "accelerator_train: $(date -u +%FT%TZ) on ${gpu:-CPU}, $(nproc) CPU cores; $("$py" -c 'import torch, sys; print(f"python {sys.version.split()[0]}, torch {torch.__version__}")')"
  echo "accelerator_train: $config, ${left:0:5} minutes for the trainers (first stage ${first:0:5}), out $out"
} | tee "$out/train.log"

# One trainer under a hard stop a little after its budget (it plans to end before it):
# the checkpoints of the finished epochs are in its folder whatever happens.
train() {  # train MINUTES OUT_DIR TRAIN_OPTIONS...
  local budget=$1 dir=$2 hard
  shift 2
  hard=$("$py" -c 'import sys; print(int(float(sys.argv[1]) * 60 + 10))' "$budget")
  set +e
  timeout --signal=INT --kill-after=10 "$hard" "$py" -m training.train \
    --out "$dir" --max-minutes "$budget" "$@" 2>&1 | tee -a "$out/train.log"
  local rc=${PIPESTATUS[0]}
  set -e
  rm -rf "$dir/tb"  # TensorBoard events repeat metrics.csv (and the device returns 8 files)
  return "$rc"
}

rc=0
train "$first" "$out" --config "$config" "${extra[@]}" "${user[@]}" || rc=$?
"$py" -m training.run_report "$out" | tee -a "$out/train.log" || true

if [ "$rc" = 0 ] && "$py" -c 'import sys; sys.exit(not float(sys.argv[1]) > 0)' "$share"; then
  stage2=$(mktemp -d "${TMPDIR:-/tmp}/accelerator_average.XXXXXX")
  trap 'rm -rf "$stage2"' EXIT
  # The continuation's config: the first stage's, from its last network, at a constant
  # half of its peak rate, keeping every epoch's network (no other file changes).
  "$py" - "$out/config.yaml" "$out/last.ckpt" "$stage2/config.yaml" "${AVERAGE_EPOCHS:-5}" <<'PY'
import sys
import yaml
src, last, dst, epochs = sys.argv[1:]
cfg = yaml.safe_load(open(src))
cfg.update(name=f"{cfg['name']}_average", pretrained=None, init=last,
           finetune={"replay_sources": [], "l2sp_weight": 0.0, "freeze_bn": False})
cfg["optimizer"]["lr"] = cfg["optimizer"]["lr"] / 2
cfg["schedule"] = {"name": "constant", "warmup_epochs": 0.2}
cfg["train"].update(epochs=int(epochs), keep_epochs=True, export_onnx=False)
yaml.safe_dump(cfg, open(dst, "w"))
PY
  left2=$("$py" -c '
import sys, time
minutes, start = (float(a) for a in sys.argv[1:])
print(max(0.1, (minutes * 60 - (time.time() - start) - 25) / 60))' "$minutes" "$start")
  echo "accelerator_train: second stage (weight averaging), ${left2:0:5} minutes" \
    | tee -a "$out/train.log"
  train "$left2" "$stage2/run" --config "$stage2/config.yaml" "${extra[@]}" || rc=$?
  snaps=("$stage2"/run/epoch_*.ckpt)
  if [ "${#snaps[@]}" -ge 2 ] && [ -f "${snaps[0]}" ]; then
    "$py" -m training.average_checkpoints --out "$out/average.ckpt" "${snaps[@]}" \
      | tee -a "$out/train.log" || rc=$?
  else
    echo "accelerator_train: second stage kept fewer than 2 epoch networks: no average.ckpt" \
      | tee -a "$out/train.log"
  fi
  "$py" -m training.run_report "$stage2/run" | tee -a "$out/train.log" || true
fi
echo "accelerator_train: exit $rc after $("$py" -c 'import sys, time; print(round(time.time() - float(sys.argv[1])))' "$start") s" | tee -a "$out/train.log"
exit "$rc"
