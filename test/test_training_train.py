# Copyright 2026 The ldl_pose_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""Masked loss, one optimisation step, the training loop, checkpoints and resume."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
import torch
import yaml
from _training_fixtures import make_csv_folder, make_pointing04

from ldl_pose_ros.model import LDLHeadPoseNet, LDLMultiLoss, ModelConfig, read_checkpoint
from ldl_pose_ros.model.checkpoint import load_checkpoint
from training.config import ScheduleConfig
from training.loss import MaskedLDLLoss
from training.train import Trainer, load_config, lr_factor, main

TINY = {"backbone": "mobilenetv3_small", "input_size": 32, "width_mult": 0.5}


@pytest.mark.parametrize("weights", [(1.0, 0.1, 0.0), (0.0, 1.0, 0.0), (0.0, 0.1, 1.0)])
def test_masked_loss_equals_package_loss_without_mask(weights) -> None:
    kl, reg, ce = weights
    cfg = ModelConfig(kl_weight=kl, reg_weight=reg, ce_weight=ce)
    torch.manual_seed(0)
    logits = torch.randn(5, 3, cfg.num_bins)
    angles = torch.rand(5, 3) * 120 - 60
    ref, ref_parts = LDLMultiLoss(cfg)(logits, angles)
    got, parts = MaskedLDLLoss(cfg)(logits, angles, torch.ones(5, 3), torch.ones(5))
    torch.testing.assert_close(got, ref)
    for k in ("kl", "reg", "ce", "mae"):
        torch.testing.assert_close(parts[k], ref_parts[k])


def test_masked_angles_get_no_gradient() -> None:
    cfg = ModelConfig(ce_weight=0.5)
    logits = torch.randn(4, 3, cfg.num_bins, requires_grad=True)
    angles = torch.tensor([[10.0, 5.0, float("nan")]] * 4)  # roll unknown (any value)
    mask = torch.tensor([[1.0, 1.0, 0.0]] * 4)
    loss, parts = MaskedLDLLoss(cfg)(logits, angles, mask)
    loss.backward()
    assert torch.isfinite(loss) and torch.isfinite(parts["mae"])
    assert logits.grad[:, 2].abs().max() == 0 and logits.grad[:, :2].abs().max() > 0


def test_sample_weights_scale_the_loss() -> None:
    cfg = ModelConfig()
    logits = torch.randn(2, 3, cfg.num_bins)
    angles = torch.zeros(2, 3)
    loss_fn = MaskedLDLLoss(cfg)
    full, _ = loss_fn(logits, angles, None, torch.tensor([1.0, 1.0]))
    first, _ = loss_fn(logits[:1], angles[:1])
    half, _ = loss_fn(logits, angles, None, torch.tensor([1.0, 0.0]))
    torch.testing.assert_close(half, first / 2)
    assert not torch.isclose(full, half)


def test_one_optimisation_step_lowers_the_loss() -> None:
    torch.manual_seed(0)
    cfg = ModelConfig(**TINY)
    model = LDLHeadPoseNet(cfg).train()
    loss_fn = MaskedLDLLoss(cfg)
    x = torch.randn(4, 3, 32, 32)
    angles = torch.tensor([[30.0, -10.0, 5.0], [-45.0, 0.0, 0.0], [0.0, 20.0, -8.0],
                           [60.0, 5.0, 0.0]])
    mask = torch.tensor([[1.0, 1, 1], [1, 1, 0], [1, 1, 1], [1, 1, 0]])
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
    before, _ = loss_fn(model(x), angles, mask)
    opt.zero_grad()
    before.backward()
    opt.step()
    with torch.no_grad():
        after, _ = loss_fn(model(x), angles, mask)
    assert float(after) < float(before.detach())


def test_lr_schedule() -> None:
    cos = ScheduleConfig(name="cosine", warmup_epochs=1, warmup_start=0.1, min_lr_ratio=0.0)
    assert lr_factor(0, 10, 5, cos) == pytest.approx(0.1)
    assert lr_factor(5, 10, 5, cos) == pytest.approx(0.55)
    assert lr_factor(10, 10, 5, cos) == pytest.approx(1.0)
    assert lr_factor(30, 10, 5, cos) == pytest.approx(0.5)
    assert lr_factor(50, 10, 5, cos) == pytest.approx(0.0, abs=1e-9)
    step = ScheduleConfig(name="step", warmup_epochs=0, milestones=(2, 4), gamma=0.1)
    assert [lr_factor(s, 10, 6, step) for s in (0, 19, 20, 45)] == pytest.approx(
        [1, 1, 0.1, 0.01])


def _config(tmp_path: Path, **train) -> Path:
    make_pointing04(tmp_path / "p04")
    make_csv_folder(tmp_path / "custom")
    cfg = {
        "name": "tiny", "seed": 3, "model": TINY,
        "optimizer": {"name": "adamw", "lr": 0.001},
        "schedule": {"name": "cosine", "warmup_epochs": 0.5},
        "train": {"epochs": 2, "batch_size": 2, "threads": 1, "val_batch_size": 4,
                  "cache_images": True, "bn_momentum": 0.1, **train},
        "augment": {"flip": 0.5, "erase_p": 0.5},
        "data": {
            "train": [
                {"type": "pointing04", "root": str(tmp_path / "p04"), "persons": [1, 2],
                 "weight": 1.0},
                {"type": "csv", "root": str(tmp_path / "custom" / "labels.csv"), "weight": 1.0},
            ],
            "val": [{"type": "pointing04", "root": str(tmp_path / "p04"), "persons": [3]}],
        },
    }
    path = tmp_path / "tiny.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return path


def test_train_end_to_end_and_resume(tmp_path) -> None:
    path = _config(tmp_path)
    out = tmp_path / "run"
    # An uninterrupted 2-epoch run through the command line.
    straight = tmp_path / "straight"
    assert main(["--config", str(path), "--out", str(straight), "--device", "cpu"]) == 0
    for name in ("best.ckpt", "last.ckpt", "metrics.csv", "config.yaml", "summary.json"):
        assert (straight / name).is_file(), name
    assert not list(straight.glob("epoch_*.ckpt"))  # only with train.keep_epochs
    best = read_checkpoint(straight / "best.ckpt")
    assert "optimizer" not in best["extra"]
    meta = best["config"].meta["training"]
    assert meta["data"]["train"][0]["type"] == "pointing04"
    assert meta["data"]["train"][0]["n_samples"] == 6
    assert meta["config"]["model"]["input_size"] == 32
    assert "mae" in meta["val_metrics"] and "git_commit" in meta
    model, cfg = load_checkpoint(straight / "best.ckpt")
    assert cfg.input_size == 32 and isinstance(model, LDLHeadPoseNet)

    # The same run interrupted after epoch 1 ...
    cfg2 = load_config(path, {"train": {"device": "cpu"}})
    Trainer(cfg2, out, log=lambda m: None).fit(until_epoch=1)
    last = read_checkpoint(out / "last.ckpt")
    assert last["extra"]["epoch"] == 0 and "optimizer" in last["extra"]
    # ... and resumed: epoch and optimiser state are restored.
    trainer = Trainer(cfg2, out, resume=out / "last.ckpt", log=lambda m: None)
    assert trainer.start_epoch == 1
    saved = last["extra"]["optimizer"]
    state = trainer.optimizer.state_dict()
    assert state["state"].keys() == saved["state"].keys()
    k = next(iter(saved["state"]))
    torch.testing.assert_close(state["state"][k]["exp_avg"], saved["state"][k]["exp_avg"])
    assert float(state["state"][k]["step"]) == float(saved["state"][k]["step"]) > 0
    trainer.fit()
    with open(out / "metrics.csv") as f:
        rows = list(csv.DictReader(f))
    assert [r["epoch"] for r in rows] == ["1", "2"]
    assert read_checkpoint(out / "last.ckpt")["extra"]["epoch"] == 1
    # The resumed run ends with the same weights as the uninterrupted one.
    a = read_checkpoint(out / "last.ckpt")["state_dict"]
    b = read_checkpoint(straight / "last.ckpt")["state_dict"]
    for name in a:
        torch.testing.assert_close(a[name], b[name], atol=1e-5, rtol=1e-4)


def test_config_validation(tmp_path) -> None:
    path = _config(tmp_path)
    data = yaml.safe_load(path.read_text())
    data["optimizer"]["name"] = "adam"
    path.write_text(yaml.safe_dump(data))
    with pytest.raises(ValueError, match="optimizer"):
        load_config(path)
    data["optimizer"]["name"] = "sgd"
    data["bogus"] = 1
    path.write_text(yaml.safe_dump(data))
    with pytest.raises(ValueError, match="bogus"):
        load_config(path)


def test_identity_overlap_is_refused(tmp_path) -> None:
    path = _config(tmp_path)
    data = yaml.safe_load(path.read_text())
    data["data"]["val"][0]["persons"] = [2]
    path.write_text(yaml.safe_dump(data))
    with pytest.raises(ValueError, match="identities"):
        Trainer(load_config(path), tmp_path / "o", log=lambda m: None)


def test_shipped_configs_parse() -> None:
    root = Path(__file__).resolve().parents[1] / "training" / "configs"
    names = sorted(p.stem for p in root.glob("*.yaml"))
    for required in ("paper_resnet50", "cpu_mobilenet", "hopenet_baseline", "p04_ldl",
                     "p04_regression", "p04_hopenet"):
        assert required in names
    for p in root.glob("*.yaml"):
        cfg = load_config(p)
        assert cfg.data.train
    # The default's second stage continues the first and keeps every epoch for averaging.
    swa, first = (load_config(root / f"{n}.yaml") for n in ("default_model_swa", "default_model"))
    assert swa.train.keep_epochs and swa.init and swa.pretrained is None
    assert swa.data == first.data and swa.model_config() == first.model_config()
    ab = {n: load_config(root / f"{n}.yaml").to_dict() for n in ("p04_ldl", "p04_regression",
                                                                  "p04_hopenet")}
    # the ablation configs differ only in the loss weights
    strip = [{k: v for k, v in c.items() if k != "name"} for c in ab.values()]
    for c in strip:
        for key in ("kl_weight", "reg_weight", "ce_weight"):
            c["model"] = {k: v for k, v in c["model"].items() if k != key}
    assert strip[0] == strip[1] == strip[2]


def test_mirror_consistency_term() -> None:
    from training.loss import mirror_consistency

    cfg = ModelConfig()
    net = LDLHeadPoseNet(ModelConfig(**TINY))
    centers = net.centers
    torch.manual_seed(1)
    logits = torch.randn(4, 3, cfg.num_bins)
    # The exact mirror of a distribution: yaw and roll bins reversed, pitch kept.
    mirrored = torch.stack([logits[:, 0].flip(-1), logits[:, 1], logits[:, 2].flip(-1)], 1)
    assert float(mirror_consistency(logits, mirrored, centers)) < 1e-6
    assert float(mirror_consistency(logits, logits, centers)) > 0.1


def test_mirror_pairs_and_head_convention_train(tmp_path) -> None:
    """A run with mirror-paired batches and head-convention bins trains and reports the term."""
    path = _config(tmp_path, mirror_pairs=True, mirror_weight=0.5, batch_size=4)
    raw = yaml.safe_load(path.read_text())
    raw["model"] = {**TINY, "angle_convention": "head"}
    path.write_text(yaml.safe_dump(raw))
    cfg = load_config(path, {"train": {"device": "cpu", "epochs": 1}})
    trainer = Trainer(cfg, tmp_path / "run", log=lambda m: None)
    out = trainer.train_epoch(0)
    assert out["mirror"] > 0 and torch.isfinite(torch.tensor(out["loss"]))
    trainer.fit()
    _, mcfg = load_checkpoint(tmp_path / "run" / "last.ckpt")
    assert mcfg.angle_convention == "head"
    with open(tmp_path / "run" / "metrics.csv") as f:
        assert float(next(csv.DictReader(f))["train_mirror"]) > 0


def test_head_convention_labels() -> None:
    import numpy as np

    from ldl_pose_ros.model.angles import convert_angles
    from training.datasets.torch_dataset import model_angles

    full = np.array([75.9, 44.6, 45.4])
    np.testing.assert_allclose(model_angles(full, np.ones(3), "head"),
                               convert_angles(full, "dataset", "head"))
    np.testing.assert_array_equal(model_angles(full, np.ones(3), "dataset"), full)
    # Without a roll label (Pointing'04) yaw and pitch are direction angles: kept.
    part = np.array([60.0, 30.0, np.nan])
    np.testing.assert_array_equal(model_angles(part, np.array([1, 1, 0]), "head"), part)


def test_per_sample_label_width() -> None:
    """``sigma`` per sample gives each sample the loss it would have with that cfg.sigma."""
    torch.manual_seed(0)
    logits = torch.randn(2, 3, ModelConfig().num_bins)
    angles = torch.tensor([[10.0, -5.0, 2.0], [-40.0, 20.0, 7.0]])
    got, parts = MaskedLDLLoss(ModelConfig())(logits, angles, None, None, torch.tensor([3.0, 6.0]))
    each = [MaskedLDLLoss(ModelConfig(sigma=s))(logits[i:i + 1], angles[i:i + 1])[1]["kl"]
            for i, s in enumerate((3.0, 6.0))]
    torch.testing.assert_close(parts["kl"], (each[0] + each[1]) / 2)
    fixed, _ = MaskedLDLLoss(ModelConfig())(logits, angles)
    assert not torch.isclose(got, fixed)
    with pytest.raises(ValueError, match="sigma"):
        MaskedLDLLoss(ModelConfig())(logits, angles, None, None, torch.tensor([3.0, 0.0]))


def test_label_width_from_weight(tmp_path) -> None:
    """``train.label_width: weight`` hands the loss sigma / sqrt(weight) per sample."""
    path = _config(tmp_path, label_width="weight", batch_size=4)
    cfg = load_config(path, {"train": {"device": "cpu", "epochs": 1}})
    trainer = Trainer(cfg, tmp_path / "run", log=lambda m: None)
    seen: list[torch.Tensor | None] = []
    real = trainer.loss_fn.forward

    def spy(logits, angles, mask=None, weight=None, sigma=None):
        seen.append(sigma)
        return real(logits, angles, mask, weight, sigma)

    trainer.loss_fn.forward = spy
    x = torch.rand(4, 3, 32, 32)
    weight = torch.tensor([1.0, 0.25, 0.0, 0.5])
    trainer._step(x, torch.zeros(4, 3), torch.ones(4, 3), weight)
    expect = trainer.mcfg.sigma / torch.tensor([1.0, 0.5, 0.1, 0.5 ** 0.5])
    torch.testing.assert_close(seen[0], expect)
    raw = yaml.safe_load(path.read_text())
    raw["train"]["label_width"] = "teachers"
    path.write_text(yaml.safe_dump(raw))
    with pytest.raises(ValueError, match="label_width"):
        load_config(path)


def test_keep_epochs_writes_a_model_per_epoch(tmp_path) -> None:
    path = _config(tmp_path, keep_epochs=True)
    cfg = load_config(path, {"train": {"device": "cpu"}})
    Trainer(cfg, tmp_path / "run", log=lambda m: None).fit()
    kept = sorted(p.name for p in (tmp_path / "run").glob("epoch_*.ckpt"))
    assert kept == ["epoch_001.ckpt", "epoch_002.ckpt"]
    first, last = (read_checkpoint(tmp_path / "run" / k) for k in kept)
    assert "optimizer" not in first["extra"] and first["extra"]["epoch"] == 0
    final = read_checkpoint(tmp_path / "run" / "last.ckpt")["state_dict"]
    for name, value in last["state_dict"].items():
        torch.testing.assert_close(value, final[name])
