# Copyright 2026 The ldl_pose_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""Fine-tuning from a checkpoint: its model, replay of its own data, L2-SP, ONNX for the node."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
import yaml
from _training_fixtures import make_csv_folder, make_pointing04

from ldl_pose_ros.model import PoseNetRunner, read_checkpoint
from ldl_pose_ros.model.onnx_cache import cached_onnx_path
from training.config import ConfigError, TrainConfig, load_config
from training.finetune import DEFAULT_L2SP, init_model_config, mix_weights
from training.train import Trainer, main

#: A base model whose bins, crop and normalisation all differ from the defaults.
BASE_MODEL = {"backbone": "mobilenetv3_small", "input_size": 32, "width_mult": 0.5,
              "bin_min": -90.0, "bin_max": 90.0, "bin_step": 5.0, "crop_scale": 1.25,
              "crop_shift_y": 0.05, "mean": [0.5, 0.5, 0.5], "std": [0.25, 0.25, 0.25]}


def _write(path: Path, cfg: dict) -> Path:
    path.write_text(yaml.safe_dump(cfg))
    return path


@pytest.fixture(scope="module")
def base(tmp_path_factory) -> Path:
    """A tiny 'shipped' model trained for one epoch on a CSV folder (recorded in its meta)."""
    root = tmp_path_factory.mktemp("base")
    make_csv_folder(root / "original", n=8)
    cfg = {"name": "base", "seed": 0, "model": BASE_MODEL,
           "train": {"epochs": 1, "batch_size": 4, "threads": 1, "cache_images": True},
           "data": {"train": [{"type": "csv", "root": str(root / "original" / "labels.csv")}]}}
    assert main(["--config", str(_write(root / "base.yaml", cfg)), "--out", str(root / "run"),
                 "--device", "cpu"]) == 0
    return root / "run" / "best.ckpt"


def _finetune_cfg(tmp_path: Path, **extra) -> dict:
    make_pointing04(tmp_path / "p04")
    return {"name": "ft", "seed": 1,
            "optimizer": {"name": "adamw", "lr": 0.01, "weight_decay": 0.0},
            "schedule": {"name": "constant", "warmup_epochs": 0},
            "train": {"epochs": 2, "batch_size": 4, "threads": 1, "samples_per_epoch": 8,
                      "cache_images": True, "device": "cpu"},
            "data": {"train": [{"type": "pointing04", "root": str(tmp_path / "p04"),
                                "persons": [1, 2]}],
                     "val": [{"type": "pointing04", "root": str(tmp_path / "p04"),
                              "persons": [3]}]},
            **extra}


def _distance(state: dict, ref: dict) -> float:
    return float(sum(((state[k] - ref[k]) ** 2).sum() for k in ref
                     if ref[k].is_floating_point() and "running" not in k) ** 0.5)


def test_finetune_keeps_the_checkpoints_model_and_writes_onnx(base: Path, tmp_path) -> None:
    cfg_path = _write(tmp_path / "ft.yaml", _finetune_cfg(tmp_path))
    out = tmp_path / "ft"
    assert main(["--config", str(cfg_path), "--init", str(base), "--out", str(out)]) == 0
    start = read_checkpoint(base)
    got = read_checkpoint(out / "best.ckpt")
    for key in BASE_MODEL:  # bins, crop, normalisation and network of the start model
        assert getattr(got["config"], key) == getattr(start["config"], key), key
    meta = got["config"].meta["training"]
    assert meta["init"]["checkpoint"] == str(base)
    # its own training data was found through its meta and replayed (30 % of the draws)
    roles = {d["role"]: d for d in meta["data"]["train"]}
    assert roles["replay"]["type"] == "csv" and roles["replay"]["weight"] == pytest.approx(0.3)
    assert roles["train"]["weight"] == pytest.approx(0.7)
    assert meta["init"]["l2sp_weight"] == 0.0  # replay data, so no L2-SP by default
    summary = json.loads((out / "summary.json").read_text())
    assert summary["start_val"]["mae"]["yaw"] > 0  # the start model, validated before training
    # the ONNX file the node and bag tools pick up for weights:=best.ckpt
    assert (out / "best.onnx").is_file() and cached_onnx_path(out / "best.ckpt") == \
        out / "best.onnx"
    runner = PoseNetRunner(out / "best.ckpt", device="cpu", backend="onnx")
    angles, stds = runner.predict(torch.zeros(2, 3, 32, 32).numpy())
    assert angles.shape == (2, 3) and stds.shape == (2, 3)


def test_model_section_must_agree_with_the_checkpoint(base: Path, tmp_path) -> None:
    start = read_checkpoint(base)["config"]
    cfg = TrainConfig.parse_config(_finetune_cfg(
        tmp_path, init=str(base), model={"input_size": 64, "crop_scale": 1.25, "sigma": 2.0}))
    with pytest.raises(ConfigError, match="input_size: config 64, checkpoint 32"):
        init_model_config(cfg, start)
    # loss terms may change, the rest is the checkpoint's
    ok = TrainConfig.parse_config(_finetune_cfg(
        tmp_path, init=str(base), model={"crop_scale": 1.25, "sigma": 2.0, "kl_weight": 0.5}))
    mc = init_model_config(ok, start)
    assert (mc.sigma, mc.kl_weight, mc.bin_step, mc.mean) == (2.0, 0.5, 5.0, (0.5, 0.5, 0.5))
    assert mc.meta == {}
    # the command line refuses it before training
    path = _write(tmp_path / "bad.yaml", _finetune_cfg(tmp_path, model={"input_size": 64}))
    assert main(["--config", str(path), "--init", str(base), "--out", str(tmp_path / "x")]) == 1


def test_without_replay_data_l2sp_holds_the_weights_near_the_start(base: Path, tmp_path) -> None:
    start = read_checkpoint(base)["state_dict"]
    moved = {}
    for strength in (0.0, 50.0):
        ft = {"replay_sources": [], "l2sp_weight": strength}
        cfg = load_config(_write(tmp_path / f"l{strength}.yaml",
                                 _finetune_cfg(tmp_path, init=str(base), finetune=ft)))
        trainer = Trainer(cfg, tmp_path / f"l{strength}", log=lambda m: None)
        assert (trainer.l2sp is None) == (strength == 0.0) and not trainer.replay_sources
        if trainer.l2sp is not None:  # zero at the start weights
            assert float(trainer.l2sp(trainer.model).detach()) == 0.0
        trainer.fit()
        moved[strength] = _distance(trainer.model.state_dict(), start)
    assert 0 < moved[50.0] < 0.5 * moved[0.0]
    # replay left to "auto" but the recorded data is gone: L2-SP with the default strength
    logs: list[str] = []
    gone = _finetune_cfg(tmp_path, init=str(base))
    gone["finetune"] = {"replay_sources": [{"type": "csv", "root": str(tmp_path / "nowhere.csv")}]}
    with pytest.raises(OSError):
        Trainer(TrainConfig.parse_config(gone), tmp_path / "g", log=logs.append)
    (base.parent.parent / "original" / "labels.csv").rename(tmp_path / "moved.csv")
    try:
        trainer = Trainer(TrainConfig.parse_config(_finetune_cfg(tmp_path, init=str(base))),
                          tmp_path / "auto", log=logs.append)
    finally:
        (tmp_path / "moved.csv").rename(base.parent.parent / "original" / "labels.csv")
    assert trainer.l2sp is not None and trainer.l2sp.weight == DEFAULT_L2SP
    assert any("not on this machine" in m for m in logs)


def test_mix_weights() -> None:
    assert mix_weights([1.0, 3.0], [2.0], 0.2) == pytest.approx([0.2, 0.6, 0.2])
    assert mix_weights([1.0], [], 0.3) == [1.0]


def test_freeze_bn_keeps_the_start_statistics(base: Path, tmp_path) -> None:
    start = read_checkpoint(base)["state_dict"]
    ft = {"replay_sources": [], "l2sp_weight": 0.0, "freeze_bn": True}
    cfg = load_config(_write(tmp_path / "f.yaml", _finetune_cfg(tmp_path, init=str(base),
                                                                finetune=ft)))
    trainer = Trainer(cfg, tmp_path / "f", log=lambda m: None)
    trainer.fit(until_epoch=1)
    state = trainer.model.state_dict()
    stats = [k for k in start if "running_" in k]
    assert stats and all(torch.equal(state[k], start[k]) for k in stats)
    assert _distance(state, start) > 0  # the weights (and the norms' scale/shift) did learn
