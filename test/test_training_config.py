# Copyright 2026 The ldl_pose_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""The typed training config: every shipped config loads; unknown keys and bad values fail."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import yaml

from training.config import ConfigError, TrainConfig, load_config

CONFIGS = sorted((Path(__file__).resolve().parents[1] / "training" / "configs").glob("*.yaml"))

BASE = {
    "name": "t", "seed": 1,
    "model": {"backbone": "mobilenetv3_small", "input_size": 32, "width_mult": 0.5},
    "optimizer": {"name": "adamw", "lr": 0.001},
    "schedule": {"name": "cosine", "warmup_epochs": 1},
    "train": {"epochs": 2, "batch_size": 4},
    "augment": {"flip": 0.5, "erase_area": [0.1, 0.2]},
    "data": {"train": [{"type": "pointing04", "root": "p04", "persons": [1, 2],
                        "box_scale": 1.2, "split": {"fraction": 0.5, "seed": 0, "part": "train"}},
                       {"type": "csv", "root": "x/labels.csv", "image_root": "x", "weight": 0.5}],
             "val": [{"type": "pointing04", "root": "p04", "persons": [3]}]},
}


def _with(path: str, value: object) -> dict:
    """BASE with the dotted ``path`` (list indices as numbers) set to ``value``."""
    cfg = copy.deepcopy(BASE)
    node: object = cfg
    keys = path.split(".")
    for k in keys[:-1]:
        node = node[int(k)] if isinstance(node, list) else node.setdefault(k, {})
    node[keys[-1]] = value  # type: ignore[index]
    return cfg


@pytest.mark.parametrize("path", CONFIGS, ids=[p.stem for p in CONFIGS])
def test_every_shipped_config_loads_and_round_trips(path: Path) -> None:
    cfg = load_config(path)
    assert isinstance(cfg, TrainConfig) and cfg.data.train
    raw = yaml.safe_load(path.read_text())
    assert cfg.train.epochs == raw["train"]["epochs"]
    if "model" in raw:
        assert cfg.model_config().input_size == raw["model"]["input_size"]
    elif "base" in raw:  # the model of the config it extends
        assert cfg.model == load_config(path.parent / raw["base"]).model
    else:  # fine-tuning: the model is the init checkpoint's
        assert cfg.init
    # to_dict (what config.yaml and the checkpoints' meta hold) reads back to the same config
    assert TrainConfig.parse_config(cfg.to_dict()) == cfg
    assert TrainConfig.parse_config(yaml.safe_load(yaml.safe_dump(cfg.to_dict()))) == cfg


def test_base_parses_with_types_and_defaults() -> None:
    cfg = TrainConfig.parse_config(BASE)
    assert cfg.schedule.warmup_epochs == 1.0 and isinstance(cfg.schedule.warmup_epochs, float)
    assert cfg.augment.erase_area == (0.1, 0.2)
    src = cfg.data.train[0]
    assert src.persons == (1, 2) and src.split is not None and src.split.part == "train"
    assert src.options == {"box_scale": 1.2}
    assert src.to_spec()["box_scale"] == 1.2 and src.to_spec()["persons"] == [1, 2]
    assert cfg.data.train[1].weight == 0.5 and cfg.train.num_workers == 0
    with pytest.raises(AttributeError):
        cfg.seed = 3  # type: ignore[misc]  # frozen


@pytest.mark.parametrize("path, match", [
    ("bogus", "unknown key bogus"),
    ("optimizer.lrr", "optimizer: unknown key lrr"),
    ("schedule.warmup", "schedule: unknown key warmup"),
    ("train.batchsize", "train: unknown key batchsize"),
    ("augment.flipp", "augment: unknown key flipp"),
    ("model.bins", "model: unknown key bins"),
    ("data.test", "data: unknown key test"),
    ("data.train.0.max_abs_deg", "unknown key max_abs_deg for a pointing04 source"),
    ("data.train.0.split.parts", "split: unknown key parts"),
    ("data.val.0.box_scal", "unknown key box_scal"),
    ("finetune.replay", "finetune: unknown key replay"),
])
def test_unknown_keys_are_refused_at_every_level(path: str, match: str) -> None:
    cfg = _with(path, 1)
    if path.startswith("finetune"):
        cfg["init"] = "default"
    with pytest.raises(ConfigError, match=match):
        TrainConfig.parse_config(cfg)


@pytest.mark.parametrize("path, value, match", [
    ("train.batch_size", "64", "train.batch_size: expected an integer"),
    ("train.batch_size", 0, "train.batch_size must be >= 1"),
    ("train.epochs", 2.5, "expected an integer"),
    ("train.amp", "yes", "train.amp: expected true or false"),
    ("train.device", "gpu", "train.device: must be one of"),
    ("optimizer.lr", "fast", "optimizer.lr: expected a number"),
    ("optimizer.name", "adam", "optimizer.name: must be one of"),
    ("schedule.name", "linear", "schedule.name: must be one of"),
    ("schedule.milestones", 3, "schedule.milestones: expected a list"),
    ("augment.flip", True, "augment.flip: expected a number"),
    ("augment.flip", 1.5, "augment.flip is a probability"),
    ("augment.erase_area", [0.1], "expected 2 values"),
    ("model.input_size", "big", "model.input_size: expected an integer"),
    ("model.bin_step", 0.0, "bin_step"),
    ("model.backbone", "vgg", "backbone"),
    ("data.train.0.type", "coco", "type: must be one of"),
    ("data.train.0.box_scale", "wide", "box_scale: expected a number"),
    ("data.train.0.split.part", "val", "part: must be one of"),
    ("data.train.1.weight", -1, "weight must be >= 0"),
    ("data.train", [], "data.train must list at least one source"),
    ("data", [1], "data: expected a mapping"),
    ("pretrained", 5, "pretrained: expected a string"),
])
def test_wrong_types_and_ranges_are_refused(path: str, value: object, match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        TrainConfig.parse_config(_with(path, value))


def test_missing_source_keys_and_finetune_rules() -> None:
    cfg = copy.deepcopy(BASE)
    del cfg["data"]["train"][0]["root"]
    with pytest.raises(ConfigError, match="missing required key root"):
        TrainConfig.parse_config(cfg)
    with pytest.raises(ConfigError, match="finetune section needs init"):
        TrainConfig.parse_config(_with("finetune", {"replay_share": 0.2}))
    with pytest.raises(ConfigError, match="exclude each other"):
        TrainConfig.parse_config({**_with("init", "default"), "pretrained": "x.pth"})
    with pytest.raises(ConfigError, match="replay_share must be in"):
        TrainConfig.parse_config({**_with("finetune", {"replay_share": 1.0}), "init": "a.ckpt"})
    ok = TrainConfig.parse_config({**_with("finetune", {"replay_sources": [], "l2sp_weight": 0.1}),
                                   "init": "a.ckpt"})
    assert ok.finetune is not None and ok.finetune.replay_sources == ()
    assert ok.export_onnx  # fine-tuning runs end with an ONNX file by default


def test_load_config_names_the_file_and_applies_overrides(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump(_with("train.batchsize", 3)))
    with pytest.raises(ConfigError, match=r"c\.yaml: train: unknown key batchsize"):
        load_config(path)
    path.write_text(yaml.safe_dump(BASE))
    cfg = load_config(path, {"train": {"epochs": 7}, "seed": 5})
    assert cfg.train.epochs == 7 and cfg.seed == 5 and cfg.train.batch_size == 4
    path.write_text("- a list\n")
    with pytest.raises(ConfigError, match="top level must be a mapping"):
        load_config(path)
