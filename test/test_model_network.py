# Copyright 2026 The ldl_pose_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""Backbones, the LDL network, the loss and a training step."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from ldl_pose_ros.model import (
    LDLHeadPoseNet,
    LDLMultiLoss,
    ModelConfig,
    bin_centers,
    build_backbone,
    count_parameters,
    gaussian_labels,
    load_pretrained,
)


@pytest.mark.parametrize(
    ("name", "size", "feat"),
    [("resnet18", 32, 512), ("resnet50", 32, 2048), ("mobilenetv3_small", 112, 1024)],
)
def test_backbone_feature_shapes(name: str, size: int, feat: int) -> None:
    bb = build_backbone(name).eval()
    assert bb.out_features == feat
    with torch.no_grad():
        out = bb(torch.randn(2, 3, size, size))
    assert out.shape == (2, feat)


@pytest.mark.parametrize("size", [112, 128, 224])
def test_mobilenet_input_sizes(size: int) -> None:
    net = LDLHeadPoseNet(ModelConfig(input_size=size, width_mult=0.5)).eval()
    with torch.no_grad():
        assert net(torch.randn(1, 3, size, size)).shape == (1, 3, 66)


def test_parameter_counts_match_reference_architectures() -> None:
    # torchvision figures minus the ImageNet classifier layer.
    assert count_parameters(build_backbone("resnet18")) == 11_176_512
    assert count_parameters(build_backbone("mobilenetv3_small")) == 1_517_856
    small = count_parameters(build_backbone("mobilenetv3_small", 0.5))
    assert small < 1_517_856 / 2


def test_unknown_backbone() -> None:
    with pytest.raises(ValueError):
        build_backbone("vgg")
    with pytest.raises(ValueError):
        LDLHeadPoseNet(ModelConfig(backbone="vgg"))


def test_network_logits_and_predict() -> None:
    torch.manual_seed(0)
    cfg = ModelConfig(input_size=64, width_mult=0.5)
    net = LDLHeadPoseNet(cfg).eval()
    x = torch.randn(3, 3, 64, 64)
    logits = net(x)
    assert logits.shape == (3, 3, cfg.num_bins)
    angles, std = net.predict(x)
    assert angles.shape == (3, 3) and std.shape == (3, 3)
    assert bool((angles.abs() <= 99).all()) and bool((std > 0).all())
    # Untrained heads give near-uniform outputs: mean ~0, std ~ that of a uniform.
    assert float(angles.abs().max()) < 5
    assert float(std.mean()) == pytest.approx(198 / 12**0.5, rel=0.05)


def test_loss_zero_kl_at_target() -> None:
    cfg = ModelConfig(reg_weight=1.0, ce_weight=0.5)
    angles = torch.tensor([[10.0, -20.0, 5.0], [0.0, 33.3, -70.0]])
    labels = gaussian_labels(angles, bin_centers(cfg), cfg.sigma)
    logits = labels.clamp_min(1e-30).log()  # softmax(logits) == labels
    total, parts = LDLMultiLoss(cfg)(logits, angles)
    assert float(parts["kl"]) == pytest.approx(0.0, abs=1e-5)
    assert float(parts["reg"]) == pytest.approx(0.0, abs=1e-3)
    assert float(parts["mae"]) < 0.05
    assert set(parts) == {"kl", "reg", "ce", "mae"}
    assert float(total) == pytest.approx(0.5 * float(parts["ce"]), abs=1e-3)


def test_loss_positive_and_finite_gradients() -> None:
    torch.manual_seed(0)
    cfg = ModelConfig(ce_weight=0.2)
    logits = (5 * torch.randn(4, 3, cfg.num_bins)).requires_grad_()
    angles = torch.tensor([[0.0, 0, 0], [98.0, -98.0, 0.0], [150.0, -150.0, 3.0], [1, 2, 3]])
    total, parts = LDLMultiLoss(cfg)(logits, angles)
    assert float(parts["kl"]) > 0
    total.backward()
    assert bool(torch.isfinite(logits.grad).all())
    assert float(logits.grad.abs().sum()) > 0


@pytest.mark.parametrize("reg_loss", ["mse", "l1", "smooth_l1"])
def test_loss_regression_variants(reg_loss: str) -> None:
    cfg = ModelConfig(kl_weight=0.0, reg_weight=1.0, reg_loss=reg_loss)
    logits = torch.zeros(1, 3, cfg.num_bins)  # uniform -> expectation 0
    total, parts = LDLMultiLoss(cfg)(logits, torch.tensor([[4.0, 4.0, 4.0]]))
    expected = {"mse": 16.0, "l1": 4.0, "smooth_l1": 3.5}[reg_loss]
    assert float(total) == pytest.approx(expected, abs=1e-4)


def test_loss_shape_errors() -> None:
    loss = LDLMultiLoss(ModelConfig())
    with pytest.raises(ValueError):
        loss(torch.zeros(2, 3, 10), torch.zeros(2, 3))
    with pytest.raises(ValueError):
        loss(torch.zeros(2, 3, 66), torch.zeros(3, 3))


def test_training_step_lowers_loss() -> None:
    torch.manual_seed(0)
    cfg = ModelConfig(input_size=32, width_mult=0.5, reg_weight=0.05)
    net = LDLHeadPoseNet(cfg).train()
    loss_fn = LDLMultiLoss(cfg)
    x = torch.randn(8, 3, 32, 32)
    y = torch.empty(8, 3).uniform_(-60, 60)
    opt = torch.optim.Adam(net.parameters(), lr=3e-3)
    losses = []
    for _ in range(6):
        opt.zero_grad()
        total, _ = loss_fn(net(x), y)
        total.backward()
        opt.step()
        losses.append(float(total.detach()))
    assert all(torch.isfinite(torch.tensor(losses)))
    assert losses[-1] < 0.8 * losses[0]  # ~4.45 -> ~2.1 with this seed


def test_load_pretrained_torchvision_style(tmp_path: Path) -> None:
    src = build_backbone("resnet18")
    sd = {f"module.{k}": v for k, v in src.state_dict().items()}
    sd["fc.weight"] = torch.zeros(1000, 512)  # classifier is ignored
    sd["fc.bias"] = torch.zeros(1000)
    path = tmp_path / "resnet18_imagenet.pth"
    torch.save(sd, path)
    dst = build_backbone("resnet18")
    assert load_pretrained(dst, path) == []
    for k, v in src.state_dict().items():
        torch.testing.assert_close(dst.state_dict()[k], v)


def test_load_pretrained_errors(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        load_pretrained(build_backbone("resnet18"), tmp_path / "missing.pth")
    path = tmp_path / "mbv3.pth"
    torch.save(build_backbone("mobilenetv3_small").state_dict(), path)
    with pytest.raises(ValueError, match="shape mismatch"):
        load_pretrained(build_backbone("mobilenetv3_small", 0.5), path)
    with pytest.raises(ValueError, match="missing"):
        load_pretrained(build_backbone("resnet18"), path)


def test_model_config_is_frozen_and_checked_when_made() -> None:
    import dataclasses

    cfg = ModelConfig.from_dict({"input_size": 64, "mean": [0.5, 0.5, 0.5]})
    assert cfg.mean == (0.5, 0.5, 0.5) and cfg.input_size == 64
    with pytest.raises(dataclasses.FrozenInstanceError):
        cfg.input_size = 16  # type: ignore[misc]
    with pytest.raises(ValueError, match="input_size"):
        dataclasses.replace(cfg, input_size=16)  # a derived config is checked again
    with pytest.raises(ValueError, match="mean"):
        ModelConfig(mean=(0.5, 0.5))  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="unknown model config keys"):
        ModelConfig.from_dict({"input_size": 64, "colour": "red"})
    assert dataclasses.replace(cfg, meta={"a": 1}).meta == {"a": 1} and cfg.meta == {}
