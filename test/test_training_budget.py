# Copyright 2026 The ldl_pose_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""The wall-clock budget of a training run, and crops normalised on the training device."""

from __future__ import annotations

import copy
import csv
import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml
from _training_fixtures import face_sources_data, make_face_sources

from training import pack_cache as pc
from training.config import ScheduleConfig, load_config
from training.datasets.torch_dataset import PoseDataset, network_input_lut, normalise_uint8
from training.optim import lr_factor
from training.time_budget import TimeBudget, progress_lr_factor
from training.train import Trainer, main

TINY = {"backbone": "mobilenetv3_small", "input_size": 32, "width_mult": 0.5,
        "crop_scale": 1.5, "mean": [0.5, 0.4, 0.3], "std": [0.2, 0.25, 0.3]}
COSINE = ScheduleConfig(name="cosine", warmup_epochs=0.5, min_lr_ratio=0.01)


def test_progress_schedule_does_not_depend_on_the_steps_of_an_epoch() -> None:
    for epoch in range(4):  # epoch starts: the step schedule's values, whatever the steps
        for steps in (1, 7, 300):
            assert progress_lr_factor(epoch, 0, steps, 4, COSINE) == pytest.approx(
                lr_factor(epoch * 300, 300, 4, COSINE), abs=1e-5)
    # mid-epoch, with different step counts: the same progress gives the same factor
    assert progress_lr_factor(2, 5, 10, 4, COSINE) == pytest.approx(
        progress_lr_factor(2, 50, 100, 4, COSINE))
    # steps start at their progress (as the step schedule's do): the last step of a long
    # last epoch is at the floor
    assert progress_lr_factor(3, 999, 1000, 4, COSINE) == pytest.approx(0.01, abs=1e-4)
    values = [progress_lr_factor(e, i, 5, 4, COSINE) for e in range(4) for i in range(5)]
    peak = int(np.argmax(values))
    assert all(a >= b for a, b in zip(values[peak:], values[peak + 1:], strict=False))


def test_plan_shares_the_time_left_among_the_epochs_left() -> None:
    b = TimeBudget(100.0, epochs=4, start=0.0, reserve_s=10.0, safety=1.0)
    with pytest.raises(RuntimeError, match="measured"):
        b.plan(0, now=0.0)
    b.measured(0.1, 2.0)
    # (100 - 10 s used - 10 s reserve) / 4 epochs = 20 s, less 2 s fixed: 180 steps of 0.1 s
    assert b.plan(0, now=10.0) == 180
    b.measured(0.2, 2.0)  # slower than measured: the later epochs get fewer steps
    assert b.plan(1, now=30.0) == int((60 / 3 - 2) / 0.2)
    b.max_steps = 40
    assert b.plan(2, now=50.0) == 40
    b.max_steps = None
    assert b.plan(3, now=99.0) == 1  # nothing left: one step, never zero
    assert b.planned == [180, 90, 40, 1]
    nan = TimeBudget(100.0, epochs=2, start=0.0)
    nan.measured(math.nan, -1.0)  # nothing usable measured: ignored
    assert math.isnan(nan.step_s) and nan.overhead_s == 0.0


def test_hard_limit_keeps_room_for_the_later_epochs() -> None:
    b = TimeBudget(100.0, epochs=4, start=0.0, reserve_s=10.0, safety=0.9)
    b.measured(0.1, 2.0)
    b.plan(1, now=20.0)
    # the epoch's validation and checkpoint (2 s), and 2 later epochs of one step and 2 s
    assert b.steps_until == pytest.approx(100 - 10 - 2 - 2 * 2.1)
    assert not b.overran(1, now=b.steps_until - 0.01)
    assert b.overran(1, now=b.steps_until + 0.01) and b.cut_epochs == [1]
    assert b.summary()["cut_epochs"] == [2]


def _config(tmp_path: Path, **train) -> Path:
    csvs = make_face_sources(tmp_path / "data", n_images=8, n_val=3, ext=".jpg")
    raw = {
        "name": "tiny_budget", "seed": 2, "model": TINY,
        "optimizer": {"name": "adamw", "lr": 0.002},
        "schedule": {"name": "cosine", "warmup_epochs": 0.5, "min_lr_ratio": 0.01},
        "augment": {"rotate_p": 0.5, "rotate_deg": 30.0},
        "train": {"epochs": 3, "batch_size": 4, "threads": 1, "val_batch_size": 8,
                  "allow_identity_overlap": True, **train},
        "data": face_sources_data(csvs),
    }
    src = tmp_path / "src.yaml"
    src.write_text(yaml.safe_dump(raw))
    pc.pack_cache(load_config(src), tmp_path / "cache", log=lambda m: None)
    raw["data"] = {part: [{"type": "cache", "name": s["name"], "root": str(tmp_path / "cache"),
                           "source": s["name"], **({"weight": s["weight"]} if "weight" in s
                                                   else {})}
                          for s in raw["data"][part]] for part in ("train", "val")}
    path = tmp_path / "cached.yaml"
    path.write_text(yaml.safe_dump(raw))
    return path


def _rows(out: Path) -> list[dict[str, str]]:
    with open(out / "metrics.csv", newline="") as f:
        return list(csv.DictReader(f))


def test_a_budgeted_run_from_the_cache_finishes_its_schedule_in_time(tmp_path: Path) -> None:
    path = _config(tmp_path)
    out = tmp_path / "run"
    budget_s = 15.0
    assert main(["--config", str(path), "--out", str(out), "--device", "cpu",
                 "--max-minutes", str(budget_s / 60)]) == 0
    summary = json.loads((out / "summary.json").read_text())
    budget = summary["budget"]
    # The whole run -- data, measurement, 3 epochs with validation and checkpoints --
    # within the budget (plus a little: the last checkpoint and summary after the plan).
    assert budget["seconds"] <= budget_s + 2.0, budget
    assert len(budget["steps_done"]) == 3
    assert sum(budget["steps_done"]) > 3 * 3  # the time was used, not one step per epoch
    rows = _rows(out)
    assert [r["epoch"] for r in rows] == ["1", "2", "3"]
    if not budget["cut_epochs"]:  # a machine slowed down by other work may cut an epoch
        assert budget["steps_done"] == budget["steps_planned"]
        # The schedule ran to its end: the last step's learning rate is at the cosine floor.
        assert float(rows[-1]["lr"]) == pytest.approx(0.002 * 0.01, rel=0.2)
    else:  # the hard limit kept the deadline; the cut epoch took fewer steps than planned
        cut = budget["cut_epochs"][0] - 1
        assert budget["steps_done"][cut] < budget["steps_planned"][cut]
    for name in ("best.ckpt", "last.ckpt", "config.yaml"):
        assert (out / name).is_file()
    assert budget["calibration"]["step_seconds"] > 0 and budget["calibration"]["val_seconds"] > 0


def test_a_budgeted_run_resumes_where_its_schedule_stopped(tmp_path: Path) -> None:
    path = _config(tmp_path)
    out = tmp_path / "run"
    cfg = load_config(path, {"train": {"device": "cpu", "max_minutes": 0.2}})
    Trainer(cfg, out, log=lambda m: None).fit(until_epoch=1)
    first = _rows(out)
    assert len(first) == 1
    trainer = Trainer(load_config(path, {"train": {"device": "cpu", "max_minutes": 0.15}}),
                      out, resume=out / "last.ckpt", log=lambda m: None)
    assert trainer.start_epoch == 1
    trainer.fit()
    rows = _rows(out)
    assert [r["epoch"] for r in rows] == ["1", "2", "3"]
    # epoch 2 started where epoch 1's progress ended: its lr is below epoch 1's last one,
    # and the schedule went on falling (to its floor unless a loaded machine cut a step)
    assert float(rows[-1]["lr"]) < float(rows[1]["lr"]) < float(first[0]["lr"])
    assert float(rows[-1]["lr"]) <= 0.002 * 0.05


def test_calibration_leaves_the_run_as_it_was(tmp_path: Path) -> None:
    trainer = Trainer(load_config(_config(tmp_path), {"train": {"device": "cpu"}}),
                      tmp_path / "run", log=lambda m: None)
    before = copy.deepcopy(trainer.model.state_dict()), copy.deepcopy(
        trainer.optimizer.state_dict())
    measured = trainer.calibrate()
    assert measured["step_seconds"] > 0 and measured["probe_steps"] >= 3
    for k, v in before[0].items():
        torch.testing.assert_close(trainer.model.state_dict()[k], v, rtol=0, atol=0)
    assert trainer.optimizer.state_dict()["state"] == before[1]["state"] == {}


def test_crops_normalised_on_the_device_are_the_same_values(tmp_path: Path) -> None:
    path = _config(tmp_path)
    cfg = load_config(path)
    model = cfg.model_config()
    samples = Trainer(load_config(path, {"train": {"device": "cpu"}}),
                      tmp_path / "r", log=lambda m: None).train_set.samples
    a = PoseDataset(samples, model, cfg.augment, seed=3)
    b = PoseDataset(samples, model, cfg.augment, seed=3, uint8=True)
    lut = network_input_lut(model)
    for i in range(len(samples)):
        xa, xb = a[i][0], b[i][0]
        assert xb.dtype == torch.uint8 and xb.shape == xa.shape
        torch.testing.assert_close(normalise_uint8(xb[None], lut)[0], xa, rtol=0, atol=0)
    # and a whole step of the trainer gives the same loss either way
    losses = []
    for flag in (False, True):
        c = load_config(path, {"train": {"device": "cpu", "normalise_on_device": flag}})
        torch.manual_seed(0)
        t = Trainer(c, tmp_path / f"n{flag}", log=lambda m: None)
        x, angles, mask, weight = next(iter(t._train_loader(0)))
        assert x.dtype == (torch.uint8 if flag else torch.float32)
        losses.append(float(t._step(x, angles, mask, weight)[0].detach()))
    assert losses[0] == losses[1]
