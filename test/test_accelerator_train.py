# Copyright 2026 The ldl_pose_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""training/accelerator_train.sh on a machine without CUDA: the CPU rehearsal end to end.

The real run needs the lent GPU machine; here the same command, config (the GPU
config's model, augmentation, uint8 crops, ONNX export, time budget) and trainer run
on the CPU with a tiny packed cache, and the CUDA part says that it is skipped.
"""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from _training_fixtures import face_sources_data, make_face_sources

torch = pytest.importorskip("torch")

from ldl_pose_ros.model import load_checkpoint  # noqa: E402
from training import pack_cache as pc  # noqa: E402
from training.config import load_config  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
SCRIPT = REPO / "training" / "accelerator_train.sh"
GPU_CONFIG = REPO / "training" / "configs" / "default_model_gpu.yaml"

pytestmark = pytest.mark.skipif(torch.cuda.is_available(),
                                reason="a CUDA machine runs the real training, not the rehearsal")


def _run(args: list[str], timeout: float, tmp: Path | None = None
         ) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONUNBUFFERED="1", **({"TMPDIR": str(tmp)} if tmp else {}))
    env.pop("OUT", None)
    return subprocess.run([str(SCRIPT), *args], cwd=REPO, env=env, capture_output=True,
                          text=True, timeout=timeout)


def _tiny_gpu_config(tmp_path: Path) -> Path:
    """The GPU config over a tiny cache packed from generated faces (no pretrained file)."""
    csvs = make_face_sources(tmp_path / "data", n_images=10, n_val=4, ext=".jpg",
                             size=(320, 280))
    src = {"base": str(GPU_CONFIG), "pretrained": None, "data": face_sources_data(csvs)}
    (tmp_path / "src.yaml").write_text(yaml.safe_dump(src))
    pc.pack_cache(load_config(tmp_path / "src.yaml"), tmp_path / "cache", log=lambda m: None)
    cache = str(tmp_path / "cache")
    cfg = {"base": str(GPU_CONFIG), "pretrained": None, "data": {
        "train": [{"type": "cache", "name": n, "root": cache, "source": n, "weight": 0.5}
                  for n in ("det", "lm")],
        "val": [{"type": "cache", "name": "val", "root": cache, "source": "val"}]}}
    path = tmp_path / "gpu_tiny.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return path


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_rehearsal_trains_within_its_budget_and_writes_the_outputs(tmp_path: Path) -> None:
    config = _tiny_gpu_config(tmp_path)
    out = tmp_path / "out"
    proc = _run(["--rehearse", "--minutes", "1.5", "--config", str(config), "--out", str(out)],
                timeout=300, tmp=tmp_path)
    text = proc.stdout + proc.stderr
    assert proc.returncode == 0, text[-4000:]
    assert any(line.startswith("SKIP cuda: no CUDA device") for line in proc.stdout.splitlines())
    names = sorted(p.name for p in out.iterdir())
    assert names == ["average.ckpt", "best.ckpt", "best.onnx", "config.yaml", "last.ckpt",
                     "metrics.csv", "summary.json", "train.log"]  # the device returns 8 at most
    summary = json.loads((out / "summary.json").read_text())
    budget = summary["budget"]
    assert len(budget["steps_done"]) == 2
    assert budget["seconds"] <= 0.7 * 90.0  # the first stage's share of the 1.5 minutes
    with open(out / "metrics.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert [r["epoch"] for r in rows] == ["1", "2"]
    if not budget["cut_epochs"]:  # a machine slowed by other work may cut an epoch short
        # the schedule ran to its tail: the last logged rate is within the final 5% of the
        # peak (the last step depends on the measured speed, so not pinned to the floor)
        assert 0.002 * 0.01 * 0.99 <= float(rows[-1]["lr"]) <= 0.002 * 0.05
    else:  # the hard limit kept the deadline: the cut epoch took fewer steps than planned
        cut = budget["cut_epochs"][0] - 1
        assert budget["steps_done"][cut] < budget["steps_planned"][cut]
    resolved = yaml.safe_load((out / "config.yaml").read_text())
    assert resolved["model"]["backbone"] == "facemesh"  # the default model's network
    assert resolved["train"]["normalise_on_device"] and resolved["train"]["batch_size"] == 16
    first_stage = proc.stdout.split("second stage (weight averaging)")[0]
    assert ("schedule completed" in first_stage) == (not budget["cut_epochs"])
    assert "best epoch" in first_stage
    seconds = int(proc.stdout.rsplit("exit 0 after ", 1)[1].split()[0])
    assert seconds <= 90 + 10
    log = (out / "train.log").read_text()
    assert "time budget:" in log and "accelerator_train: exit 0" in log
    assert (out / "best.onnx").stat().st_size > 0
    # the second stage: a constant-rate continuation of the last network, its epoch
    # networks averaged (the 2 epochs of the rehearsal)
    assert "second stage (weight averaging)" in log
    averaged = load_checkpoint(out / "average.ckpt", "cpu")[1].meta["averaged"]
    assert len(averaged["checkpoints"]) == 2 and averaged["weights"] == [1.0, 1.0]
    assert [Path(p).name for p in averaged["checkpoints"]] == ["epoch_001.ckpt",
                                                                "epoch_002.ckpt"]
    trained = load_checkpoint(out / "average.ckpt", "cpu")[1].meta["training"]
    assert trained["init"]["checkpoint"] == str(out / "last.ckpt")
    assert trained["config"]["schedule"]["name"] == "constant"
    assert trained["config"]["optimizer"]["lr"] == resolved["optimizer"]["lr"] / 2
    assert not list(tmp_path.glob("accelerator_average.*"))  # its work folder is removed


def test_the_real_run_needs_cuda(tmp_path: Path) -> None:
    proc = _run(["--out", str(tmp_path / "o")], timeout=120)
    assert proc.returncode == 2
    assert "SKIP cuda: no CUDA device" in proc.stdout
    assert "use --rehearse" in proc.stderr
    assert _run(["--bogus"], timeout=60).returncode == 2
    bad = _run(["--rehearse", "--average-share", "1.5"], timeout=60)
    assert bad.returncode == 2 and "--average-share must be a number in [0, 1)" in bad.stderr


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_gpu_venv_sees_the_packages_of_a_base_that_is_itself_a_venv(tmp_path: Path) -> None:
    """The lent machine's python3 is a venv: a venv made over it must still see torch."""
    venv = tmp_path / "venv"
    proc = subprocess.run([str(REPO / "scripts" / "gpu_python.sh"), "--make-venv",
                           sys.executable, str(venv)], cwd=REPO, capture_output=True,
                          text=True, timeout=280)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.strip() == f"{venv}/bin/python"
    probe = subprocess.run(
        [str(venv / "bin" / "python"), "-c",
         "import sys, torch, cv2, ldl_pose_ros; print(sys.prefix); "
         "print(torch.__file__); print(ldl_pose_ros.__file__)"],
        cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert probe.returncode == 0, probe.stderr[-2000:]
    prefix, torch_file, pkg_file = probe.stdout.split()
    assert prefix == str(venv)
    assert not torch_file.startswith(str(venv))  # the base's torch, not a copy
    assert pkg_file.startswith(str(REPO))  # this checkout, installed editable


def test_prepare_measures_what_travels() -> None:
    proc = subprocess.run([str(REPO / "training" / "accelerator_prepare.sh"), "--check-only"],
                          cwd=REPO, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "travels: checkout" in proc.stdout and "(limit 64 MiB)" in proc.stdout
    assert 'carry: ["cache"' in proc.stdout
