# Copyright 2026 The ldl_pose_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""``torchrun`` + DDP: disjoint deterministic shards, synchronised weights, resume.

The integration test starts two real processes with ``torchrun`` (gloo backend,
CPU) on a tiny generated dataset and compares them with one process that uses
the doubled batch: exactly, when that process takes batch-norm statistics per
half-batch as the two processes do, and closely with statistics over the whole
batch.
"""

from __future__ import annotations

import csv
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml
from _training_fixtures import make_csv_folder, make_pointing04
from torch.utils.data import default_collate

from ldl_pose_ros.model import read_checkpoint
from training import distributed as ddp
from training.config import load_config
from training.train import Trainer

REPO = Path(__file__).resolve().parents[1]
TINY = {"backbone": "mobilenetv3_small", "input_size": 32, "width_mult": 0.5}


def _sampler(world: int, rank: int, batch: int, probs: np.ndarray | None = None,
             epoch: int = 0) -> ddp.EpochSampler:
    ctx = ddp.DistContext(rank=rank, world_size=world, backend="gloo" if world > 1 else None)
    s = ddp.EpochSampler(12, steps=3, batch=batch, seed=7, probs=probs, ctx=ctx)
    s.set_epoch(epoch)
    return s


@pytest.mark.parametrize("weighted", [False, True])
def test_shards_are_disjoint_and_make_up_the_doubled_batch(weighted: bool) -> None:
    probs = np.linspace(1, 2, 12) / np.linspace(1, 2, 12).sum() if weighted else None
    single = _sampler(1, 0, 4, probs).shard()  # one process, batch 4
    a, b = (_sampler(2, r, 2, probs).shard() for r in (0, 1))  # two processes, batch 2
    assert len(a) == len(b) == 6 and len(single) == 12
    for step in range(3):  # step i of both ranks = step i of the single process
        assert a[2 * step:2 * step + 2] + b[2 * step:2 * step + 2] == \
            single[4 * step:4 * step + 4]
    if not weighted:  # 12 positions of a permutation of 12: no sample in both shards
        assert not set(a) & set(b) and sorted(a + b) == list(range(12))
    # deterministic per (seed, epoch): a resumed run draws the same; epochs differ
    assert _sampler(2, 0, 2, probs).shard() == a
    assert _sampler(2, 0, 2, probs, epoch=1).shard() != a


def test_single_process_draws_are_unchanged() -> None:
    """The weighted draw equals torch's WeightedRandomSampler with the trainer's seed."""
    probs = np.linspace(1, 3, 12) / np.linspace(1, 3, 12).sum()
    g = torch.Generator().manual_seed(7 * 100003 + 2)
    ref = list(torch.utils.data.WeightedRandomSampler(
        torch.as_tensor(probs, dtype=torch.float64), 12, replacement=True, generator=g))
    assert _sampler(1, 0, 4, probs, epoch=2).shard() == ref


def _config(tmp_path: Path, batch: int) -> Path:
    make_pointing04(tmp_path / "p04")
    make_csv_folder(tmp_path / "faces", n=16)
    cfg = {
        "name": "ddp", "seed": 3, "model": TINY,
        "optimizer": {"name": "sgd", "lr": 0.05, "momentum": 0.0, "nesterov": False},
        "schedule": {"name": "constant", "warmup_epochs": 0},
        "train": {"epochs": 2, "batch_size": batch, "threads": 1, "samples_per_epoch": 16,
                  "val_batch_size": 2, "cache_images": True, "device": "cpu"},
        "augment": {"flip": 0.5},
        "data": {"train": [{"type": "csv", "root": str(tmp_path / "faces" / "labels.csv")}],
                 "val": [{"type": "pointing04", "root": str(tmp_path / "p04"), "persons": [3]}]},
    }
    path = tmp_path / f"ddp_b{batch}.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return path


def _torchrun(args: list[str], cwd: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(REPO),
           "PYTHONUNBUFFERED": "1"}
    for key in ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT"):
        env.pop(key, None)
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
           *args]
    return subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=240)


def _update_cosine(a: dict, b: dict, start: dict) -> float:
    """Cosine similarity of the weight changes ``a - start`` and ``b - start``."""
    da = torch.cat([(a[k] - start[k]).flatten() for k in start if start[k].is_floating_point()])
    db = torch.cat([(b[k] - start[k]).flatten() for k in start if start[k].is_floating_point()])
    return float(torch.nn.functional.cosine_similarity(da, db, dim=0))


def test_two_processes_with_gloo_match_one_process_with_the_doubled_batch(tmp_path) -> None:
    two, one = _config(tmp_path, 8), _config(tmp_path, 16)
    out = tmp_path / "ddp"
    # Epoch 1 under torchrun, probing each rank.
    res = _torchrun([str(REPO / "test" / "_ddp_probe.py"), str(two), str(out), "1"], tmp_path)
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]
    r0, r1 = (torch.load(out / "probe" / f"rank{r}.pt", weights_only=True) for r in (0, 1))
    assert r0["world"] == r1["world"] == 2 and r0["backend"] == "gloo"
    # disjoint shards: 16 positions of a permutation of the 16 training samples
    assert len(r0["shards"][0]) == len(r1["shards"][0]) == 8
    assert sorted(r0["shards"][0] + r1["shards"][0]) == list(range(16))
    # gradients were averaged: both ranks hold the same weights after the step
    for k in r0["state"]:
        torch.testing.assert_close(r0["state"][k], r1["state"][k], rtol=0, atol=1e-6)
    # only rank 0 wrote: one header + one row
    with open(out / "metrics.csv") as f:
        assert [r["epoch"] for r in csv.DictReader(f)] == ["1"]

    # One process with the doubled batch, from the same initial weights.
    ref = tmp_path / "one"
    torch.manual_seed(0)
    trainer = Trainer(load_config(one), ref, log=lambda m: None)
    start = {k: v.clone() for k, v in trainer.model.state_dict().items()}
    assert trainer.sampler.shard() == r0["shards"][0] + r1["shards"][0]
    trainer.fit(until_epoch=1)
    single = trainer.model.state_dict()
    # Batch-norm statistics come from 2 samples per process instead of 4, so the
    # step differs slightly; it must point the same way and be about as long.
    assert _update_cosine(r0["state"], single, start) > 0.9
    delta_ddp = sum(float((r0["state"][k] - start[k]).norm()) for k in start
                    if start[k].is_floating_point())
    delta_one = sum(float((single[k] - start[k]).norm()) for k in start
                    if start[k].is_floating_point())
    assert delta_ddp == pytest.approx(delta_one, rel=0.1)

    # Exactly: the step of two processes is the SGD step on the mean of the two shards'
    # gradients, each computed with its own batch statistics.
    ghost = Trainer(load_config(two), tmp_path / "ghost", log=lambda m: None)
    ghost.model.train()
    ghost.train_set.set_epoch(0)
    grads = []
    for shard in (r0["shards"][0], r1["shards"][0]):
        x, angles, mask, weight = default_collate([ghost.train_set[i] for i in shard])
        ghost.optimizer.zero_grad()
        ghost.loss_fn(ghost.model(x), angles, mask, weight)[0].backward()
        grads.append([p.grad.clone() for p in ghost.model.parameters()])
    for p, ga, gb in zip(ghost.model.parameters(), *grads, strict=True):
        p.grad = (ga + gb) / 2
    ghost.optimizer.step()
    for name, p in ghost.model.named_parameters():
        torch.testing.assert_close(p.detach(), r0["state"][name], rtol=1e-4, atol=1e-6)

    # Resume the two-process run with the real command line to the end (epoch 2).
    res = _torchrun(["-m", "training.train", "--config", str(two), "--out", str(out),
                     "--resume", str(out / "last.ckpt")], REPO)
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]
    assert "resumed at epoch 1" in res.stdout and res.stdout.count("epoch 2/2") == 1
    with open(out / "metrics.csv") as f:
        assert [r["epoch"] for r in csv.DictReader(f)] == ["1", "2"]
    last = read_checkpoint(out / "last.ckpt")
    assert last["extra"]["epoch"] == 1
    assert last["config"].meta["training"]["processes"] == 2
    Trainer(load_config(one), ref, resume=ref / "last.ckpt", log=lambda m: None).fit()
    single2 = read_checkpoint(ref / "last.ckpt")["state_dict"]
    assert _update_cosine(last["state_dict"], single2, start) > 0.9
