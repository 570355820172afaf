# Copyright 2026 The ldl_pose_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""Weight averaging of one run's checkpoints (training.average_checkpoints, keep_epochs)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
import torch

from ldl_pose_ros.model import LDLHeadPoseNet, ModelConfig, load_checkpoint, save_checkpoint
from ldl_pose_ros.model.checkpoint import read_checkpoint
from training.average_checkpoints import average_checkpoints, main

CFG = ModelConfig(backbone="facemesh", input_size=64)


def _saved(tmp_path: Path, name: str, seed: int, cfg: ModelConfig = CFG) -> Path:
    torch.manual_seed(seed)
    model = LDLHeadPoseNet(cfg)
    cfg = dataclasses.replace(cfg, meta={"training": {"epoch": seed}})
    return save_checkpoint(tmp_path / name, model, cfg)


def test_average_is_the_weighted_mean_and_records_its_sources(tmp_path: Path) -> None:
    a, b = _saved(tmp_path, "a.ckpt", 1), _saved(tmp_path, "b.ckpt", 2)
    out = average_checkpoints([a, b], tmp_path / "avg.ckpt", weights=[3, 1])
    sa, sb = (read_checkpoint(p)["state_dict"] for p in (a, b))
    avg = read_checkpoint(out)
    for k, v in avg["state_dict"].items():
        torch.testing.assert_close(v, 0.75 * sa[k] + 0.25 * sb[k], atol=1e-6, rtol=1e-5)
    assert not torch.equal(sa["backbone.stem.weight"], sb["backbone.stem.weight"])
    meta = avg["config"].meta
    assert meta["averaged"] == {"checkpoints": [str(a), str(b)], "weights": [3.0, 1.0]}
    assert meta["training"] == {"epoch": 1}  # the first input's provenance is kept
    model, cfg = load_checkpoint(out)  # a valid package checkpoint (digest checked)
    assert cfg.input_size == 64 and isinstance(model, LDLHeadPoseNet)
    # The uniform mean of a network with itself is that network.
    same = average_checkpoints([a, a], tmp_path / "same.ckpt")
    for k, v in read_checkpoint(same)["state_dict"].items():
        torch.testing.assert_close(v, sa[k])


def test_refusals(tmp_path: Path) -> None:
    a, b = _saved(tmp_path, "a.ckpt", 1), _saved(tmp_path, "b.ckpt", 2)
    other = _saved(tmp_path, "other.ckpt", 3, dataclasses.replace(CFG, sigma=6.0))
    with pytest.raises(ValueError, match="configuration differs"):
        average_checkpoints([a, other], tmp_path / "x.ckpt")
    with pytest.raises(ValueError, match="at least two"):
        average_checkpoints([a], tmp_path / "x.ckpt")
    with pytest.raises(ValueError, match="one of the inputs"):
        average_checkpoints([a, b], a)
    for bad in ([1.0], [-1.0, 2.0], [0.0, 0.0], [float("nan"), 1.0], [float("inf"), 1.0]):
        with pytest.raises(ValueError, match="weights"):
            average_checkpoints([a, b], tmp_path / "x.ckpt", weights=bad)
    bn_cfg = ModelConfig(backbone="mobilenetv3_small", input_size=32, width_mult=0.5)
    c, d = _saved(tmp_path, "c.ckpt", 1, bn_cfg), _saved(tmp_path, "d.ckpt", 2, bn_cfg)
    with pytest.raises(ValueError, match="batch-norm"):
        average_checkpoints([c, d], tmp_path / "x.ckpt")
    assert not (tmp_path / "x.ckpt").exists()


def test_command_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    a, b = _saved(tmp_path, "a.ckpt", 1), _saved(tmp_path, "b.ckpt", 2)
    assert main([str(a), str(b), "--out", str(tmp_path / "avg.ckpt")]) == 0
    assert (tmp_path / "avg.ckpt").is_file()
    garbage = tmp_path / "garbage.ckpt"
    garbage.write_bytes(b"not a checkpoint")
    assert main([str(a), str(garbage), "--out", str(tmp_path / "y.ckpt")]) == 2
    assert main([str(a), str(b), "--weights", "1,x", "--out", str(tmp_path / "y.ckpt")]) == 2
    err = capsys.readouterr().err
    assert err.count("average_checkpoints: ") == 2 and "Traceback" not in err
    assert not (tmp_path / "y.ckpt").exists()
