# Copyright 2026 The ldl_pose_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""Checkpoint round trips, fp16 storage, weights_only loading and error cases."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from ldl_pose_ros.model import (
    CheckpointError,
    LDLHeadPoseNet,
    ModelConfig,
    load_checkpoint,
    read_checkpoint,
    save_checkpoint,
)
from ldl_pose_ros.model.checkpoint import FORMAT_TAG, FORMAT_VERSION


def _small(seed: int = 0, **kw: object) -> tuple[LDLHeadPoseNet, ModelConfig]:
    torch.manual_seed(seed)
    cfg = ModelConfig(input_size=32, width_mult=0.5, **kw)  # type: ignore[arg-type]
    net = LDLHeadPoseNet(cfg)
    with torch.no_grad():  # non-trivial heads and BN statistics
        for head in net.heads:
            head.weight.normal_(0, 0.5)
        for m in net.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.running_mean.normal_(0, 0.1)
                m.running_var.uniform_(0.5, 1.5)
    return net.eval(), cfg


@pytest.fixture(scope="module")
def saved(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, LDLHeadPoseNet, ModelConfig]:
    net, cfg = _small(meta={"dataset": "synthetic"})
    path = tmp_path_factory.mktemp("ckpt") / "model.ckpt"
    save_checkpoint(path, net, cfg, extra={"epoch": 7, "val_mae": np.float32(4.5)})
    return path, net, cfg


def test_round_trip(saved: tuple[Path, LDLHeadPoseNet, ModelConfig]) -> None:
    path, net, cfg = saved
    model, cfg2 = load_checkpoint(path)
    assert cfg2 == cfg and cfg2.meta == {"dataset": "synthetic"}
    assert not model.training
    x = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        torch.testing.assert_close(model(x), net(x))
    data = read_checkpoint(path)
    assert data["extra"]["epoch"] == 7
    assert data["extra"]["val_mae"] == pytest.approx(4.5)
    assert data["version"] == FORMAT_VERSION and data["dtype"] == "float32"


def test_loads_with_weights_only(saved: tuple[Path, LDLHeadPoseNet, ModelConfig]) -> None:
    path, _, cfg = saved
    raw = torch.load(path, map_location="cpu", weights_only=True)
    assert raw["format"] == FORMAT_TAG and raw["version"] == FORMAT_VERSION
    assert ModelConfig.from_dict(json.loads(raw["config"])) == cfg
    assert all(isinstance(v, torch.Tensor) for v in raw["state_dict"].values())


def test_extra_with_tensors_and_nested_values(tmp_path: Path) -> None:
    net, cfg = _small()
    opt = torch.optim.SGD(net.parameters(), lr=0.1, momentum=0.9)
    net(torch.randn(2, 3, 32, 32)).sum().backward()
    opt.step()
    extra = {"optimizer": opt.state_dict(), "hist": [1.0, 2.0], "arr": np.arange(3), "p": tmp_path}
    save_checkpoint(tmp_path / "a.ckpt", net, cfg, extra=extra)
    data = read_checkpoint(tmp_path / "a.ckpt")
    assert data["extra"]["hist"] == [1.0, 2.0]
    assert data["extra"]["arr"].tolist() == [0, 1, 2]
    assert data["extra"]["p"] == str(tmp_path)
    opt.load_state_dict(data["extra"]["optimizer"])


def test_extra_rejects_unsupported_types(tmp_path: Path) -> None:
    net, cfg = _small()
    with pytest.raises(TypeError):
        save_checkpoint(tmp_path / "a.ckpt", net, cfg, extra={"bad": object()})
    assert not (tmp_path / "a.ckpt").exists()


def test_fp16_storage(tmp_path: Path, saved: tuple[Path, LDLHeadPoseNet, ModelConfig]) -> None:
    path, net, cfg = saved
    half = tmp_path / "half.ckpt"
    save_checkpoint(half, net, cfg, half=True)
    raw = torch.load(half, weights_only=True)
    assert raw["dtype"] == "float16"
    floats = [v for v in raw["state_dict"].values() if v.is_floating_point()]
    assert floats and all(v.dtype == torch.float16 for v in floats)
    assert half.stat().st_size < 0.6 * path.stat().st_size
    model, _ = load_checkpoint(half)
    assert all(p.dtype == torch.float32 for p in model.parameters())
    x = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        a, _ = model.predict(x)
        b, _ = net.predict(x)
    assert float((a - b).abs().max()) < 0.5


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(CheckpointError, match="not found"):
        load_checkpoint(tmp_path / "nope.ckpt")
    with pytest.raises(CheckpointError, match="not a file"):
        load_checkpoint(tmp_path)


def test_truncated_file(tmp_path: Path, saved: tuple[Path, LDLHeadPoseNet, ModelConfig]) -> None:
    data = saved[0].read_bytes()
    bad = tmp_path / "trunc.ckpt"
    bad.write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointError, match="truncated"):
        load_checkpoint(bad)


def test_corrupt_file(tmp_path: Path) -> None:
    bad = tmp_path / "junk.ckpt"
    bad.write_bytes(b"\x00garbage" * 100)
    with pytest.raises(CheckpointError):
        load_checkpoint(bad)
    empty = tmp_path / "empty.ckpt"
    empty.write_bytes(b"")
    with pytest.raises(CheckpointError):
        load_checkpoint(empty)


def test_pickled_objects_are_refused(tmp_path: Path) -> None:
    bad = tmp_path / "obj.ckpt"
    torch.save({"format": FORMAT_TAG, "obj": ModelConfig()}, bad)
    with pytest.raises(CheckpointError):
        load_checkpoint(bad)


def test_not_our_format(tmp_path: Path) -> None:
    net, _ = _small()
    plain = tmp_path / "plain.pth"
    torch.save(net.state_dict(), plain)
    with pytest.raises(CheckpointError, match="not an ldl_pose_ros checkpoint"):
        load_checkpoint(plain)
    torch.save([1, 2, 3], plain)
    with pytest.raises(CheckpointError, match="not an ldl_pose_ros checkpoint"):
        load_checkpoint(plain)


def test_future_version_and_bad_config(
    tmp_path: Path, saved: tuple[Path, LDLHeadPoseNet, ModelConfig]
) -> None:
    raw = torch.load(saved[0], weights_only=True)
    raw["version"] = FORMAT_VERSION + 1
    torch.save(raw, tmp_path / "v.ckpt")
    with pytest.raises(CheckpointError, match="version"):
        load_checkpoint(tmp_path / "v.ckpt")
    raw["version"] = FORMAT_VERSION
    raw["config"] = json.dumps({"backbone": "resnet18", "bogus": 1})
    torch.save(raw, tmp_path / "c.ckpt")
    with pytest.raises(CheckpointError, match="config"):
        load_checkpoint(tmp_path / "c.ckpt")


def test_state_dict_mismatch(tmp_path: Path) -> None:
    net, cfg = _small()
    other = ModelConfig(input_size=32, width_mult=0.5, bin_step=1.0)  # 198 bins
    save_checkpoint(tmp_path / "m.ckpt", net, other)
    with pytest.raises(CheckpointError, match="do not match"):
        load_checkpoint(tmp_path / "m.ckpt")
    save_checkpoint(tmp_path / "b.ckpt", net, ModelConfig(backbone="resnet18", input_size=32))
    with pytest.raises(CheckpointError, match="do not match"):
        load_checkpoint(tmp_path / "b.ckpt")


def test_checkpoint_error_is_value_error() -> None:
    assert issubclass(CheckpointError, ValueError)
