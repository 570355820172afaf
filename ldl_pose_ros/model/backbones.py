# Copyright 2026 The ldl_pose_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""Plain-torch feature extractors: ResNet-18, ResNet-50 and MobileNetV3-small.

Every backbone maps ``(B, 3, S, S)`` images to a ``(B, out_features)`` feature
vector via global average pooling, so any input size >= 32 works (112, 128 and
224 are the tested ones).  Module names follow the torchvision layout, so a
user-supplied torchvision (or timm, for the ResNets) ImageNet ``state_dict`` can
be loaded with :func:`load_pretrained`.  Nothing is ever downloaded.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import torch
from torch import nn


def _make_divisible(value: float, divisor: int = 8) -> int:
    """Round a channel count to a multiple of ``divisor`` (never below 90 %)."""
    new = max(divisor, int(value + divisor / 2) // divisor * divisor)
    if new < 0.9 * value:
        new += divisor
    return new


# --------------------------------------------------------------------------- ResNet


class _BasicBlock(nn.Module):
    expansion = 1

    def __init__(self, cin: int, width: int, stride: int) -> None:
        super().__init__()
        cout = width * self.expansion
        self.conv1 = nn.Conv2d(cin, width, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(width)
        self.conv2 = nn.Conv2d(width, cout, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = _shortcut(cin, cout, stride)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        idt = x if self.downsample is None else self.downsample(x)
        y = self.relu(self.bn1(self.conv1(x)))
        y = self.bn2(self.conv2(y))
        return self.relu(y + idt)


class _Bottleneck(nn.Module):
    expansion = 4

    def __init__(self, cin: int, width: int, stride: int) -> None:
        super().__init__()
        cout = width * self.expansion
        self.conv1 = nn.Conv2d(cin, width, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(width)
        self.conv2 = nn.Conv2d(width, width, 3, stride, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(width)
        self.conv3 = nn.Conv2d(width, cout, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(cout)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = _shortcut(cin, cout, stride)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        idt = x if self.downsample is None else self.downsample(x)
        y = self.relu(self.bn1(self.conv1(x)))
        y = self.relu(self.bn2(self.conv2(y)))
        y = self.bn3(self.conv3(y))
        return self.relu(y + idt)


def _shortcut(cin: int, cout: int, stride: int) -> nn.Module | None:
    if stride == 1 and cin == cout:
        return None
    return nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))


class ResNet(nn.Module):
    """ResNet feature extractor (torchvision module names, no ``fc``)."""

    def __init__(self, block: type[nn.Module], layers: tuple[int, ...]) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(3, 64, 7, 2, 3, bias=False)
        self.bn1 = nn.BatchNorm2d(64)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(3, 2, 1)
        cin = 64
        for i, (n, width) in enumerate(zip(layers, (64, 128, 256, 512), strict=True)):
            blocks = []
            for j in range(n):
                stride = 2 if (j == 0 and i > 0) else 1
                blocks.append(block(cin, width, stride))
                cin = width * block.expansion
            setattr(self, f"layer{i + 1}", nn.Sequential(*blocks))
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.out_features = cin
        _init_weights(self)
        for m in self.modules():  # zero-init the last BN of each residual branch
            if isinstance(m, _Bottleneck):
                nn.init.zeros_(m.bn3.weight)
            elif isinstance(m, _BasicBlock):
                nn.init.zeros_(m.bn2.weight)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Map ``(B, 3, S, S)`` images to ``(B, out_features)`` features."""
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return torch.flatten(self.avgpool(x), 1)


# ------------------------------------------------------------------ MobileNetV3-small


class _ConvBNAct(nn.Sequential):
    def __init__(
        self,
        cin: int,
        cout: int,
        k: int,
        stride: int = 1,
        groups: int = 1,
        act: Callable[[], nn.Module] | None = nn.Hardswish,
    ) -> None:
        layers: list[nn.Module] = [
            nn.Conv2d(cin, cout, k, stride, (k - 1) // 2, groups=groups, bias=False),
            nn.BatchNorm2d(cout, eps=0.001, momentum=0.01),
        ]
        if act is not None:
            layers.append(act())
        super().__init__(*layers)


class _SqueezeExcite(nn.Module):
    def __init__(self, channels: int, squeeze: int) -> None:
        super().__init__()
        self.fc1 = nn.Conv2d(channels, squeeze, 1)
        self.fc2 = nn.Conv2d(squeeze, channels, 1)
        self.relu = nn.ReLU(inplace=True)
        self.gate = nn.Hardsigmoid()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        s = torch.mean(x, dim=(2, 3), keepdim=True)
        return x * self.gate(self.fc2(self.relu(self.fc1(s))))


class _InvertedResidual(nn.Module):
    def __init__(
        self, cin: int, k: int, exp: int, cout: int, se: bool, hs: bool, stride: int
    ) -> None:
        super().__init__()
        act = nn.Hardswish if hs else nn.ReLU
        layers: list[nn.Module] = []
        if exp != cin:
            layers.append(_ConvBNAct(cin, exp, 1, act=act))
        layers.append(_ConvBNAct(exp, exp, k, stride, groups=exp, act=act))
        if se:
            layers.append(_SqueezeExcite(exp, _make_divisible(exp // 4, 8)))
        layers.append(_ConvBNAct(exp, cout, 1, act=None))
        self.block = nn.Sequential(*layers)
        self.use_res = stride == 1 and cin == cout

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.block(x)
        return x + y if self.use_res else y


# kernel, expansion, out, squeeze-excite, hard-swish, stride (Howard et al. 2019, Table 2)
_MBV3_SMALL = (
    (3, 16, 16, True, False, 2),
    (3, 72, 24, False, False, 2),
    (3, 88, 24, False, False, 1),
    (5, 96, 40, True, True, 2),
    (5, 240, 40, True, True, 1),
    (5, 240, 40, True, True, 1),
    (5, 120, 48, True, True, 1),
    (5, 144, 48, True, True, 1),
    (5, 288, 96, True, True, 2),
    (5, 576, 96, True, True, 1),
    (5, 576, 96, True, True, 1),
)


class MobileNetV3Small(nn.Module):
    """MobileNetV3-small feature extractor (torchvision module names).

    Output is the 1024-d (scaled by ``width_mult``) hard-swish embedding that
    torchvision's classifier computes before its dropout and last linear layer.
    """

    def __init__(self, width_mult: float = 1.0) -> None:
        super().__init__()

        def ch(c: int) -> int:
            return _make_divisible(c * width_mult, 8)

        cin = ch(16)
        layers: list[nn.Module] = [_ConvBNAct(3, cin, 3, 2)]
        for k, exp, out, se, hs, s in _MBV3_SMALL:
            layers.append(_InvertedResidual(cin, k, ch(exp), ch(out), se, hs, s))
            cin = ch(out)
        last_conv = 6 * cin
        layers.append(_ConvBNAct(cin, last_conv, 1))
        self.features = nn.Sequential(*layers)
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.out_features = _make_divisible(1024 * width_mult, 8)
        self.classifier = nn.Sequential(nn.Linear(last_conv, self.out_features), nn.Hardswish())
        _init_weights(self)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Map ``(B, 3, S, S)`` images to ``(B, out_features)`` features."""
        x = torch.flatten(self.avgpool(self.features(x)), 1)
        return self.classifier(x)


def _init_weights(module: nn.Module) -> None:
    for m in module.modules():
        if isinstance(m, nn.Conv2d):
            nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.BatchNorm2d):
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)
        elif isinstance(m, nn.Linear):
            nn.init.normal_(m.weight, 0.0, 0.01)
            nn.init.zeros_(m.bias)


# ------------------------------------------------------------------------- factory


def build_backbone(name: str, width_mult: float = 1.0) -> nn.Module:
    """Build a backbone by name; the module has an ``out_features`` attribute."""
    if name == "resnet18":
        return ResNet(_BasicBlock, (2, 2, 2, 2))
    if name == "resnet50":
        return ResNet(_Bottleneck, (3, 4, 6, 3))
    if name == "mobilenetv3_small":
        return MobileNetV3Small(width_mult)
    if name == "facemesh":
        from ldl_pose_ros.model.facemesh import FaceMeshNet

        return FaceMeshNet()
    raise ValueError(f"unknown backbone {name!r}")


def load_pretrained(backbone: nn.Module, path: str | Path, strict: bool = True) -> list[str]:
    """Load a user-supplied ImageNet ``state_dict`` file into ``backbone``.

    Accepts torchvision ResNet / MobileNetV3-small files, timm ResNet files
    (same key names) and our own checkpoints' ``backbone.*`` keys; classifier
    heads (``fc.*``, ``classifier.3.*``) are dropped, ``module.`` prefixes
    stripped.  The file is read with ``weights_only=True``; nothing is downloaded.

    Returns:
        The backbone keys that were not found in the file (empty when complete).

    Raises:
        FileNotFoundError: missing file.
        ValueError: a shape mismatch, or (with ``strict``) missing keys.
    """
    p = Path(path)
    if not p.is_file():
        raise FileNotFoundError(f"pretrained weights not found: {p}")
    raw = torch.load(p, map_location="cpu", weights_only=True)
    if isinstance(raw, dict) and "state_dict" in raw and isinstance(raw["state_dict"], dict):
        raw = raw["state_dict"]
    if not isinstance(raw, dict):
        raise ValueError(f"{p} does not contain a state_dict")
    target = backbone.state_dict()
    mapped: dict[str, torch.Tensor] = {}
    for key, value in raw.items():
        k = key
        for prefix in ("module.", "backbone."):
            if k.startswith(prefix):
                k = k[len(prefix) :]
        if k in target:
            if tuple(value.shape) != tuple(target[k].shape):
                raise ValueError(
                    f"shape mismatch for {k}: file {tuple(value.shape)} vs "
                    f"model {tuple(target[k].shape)} (wrong architecture or width_mult?)"
                )
            mapped[k] = value.to(target[k].dtype)
    missing = sorted(set(target) - set(mapped))
    if strict and missing:
        raise ValueError(
            f"{p}: {len(missing)} backbone keys missing (e.g. {missing[:3]}); "
            "is this a torchvision/timm state_dict of the same architecture?"
        )
    backbone.load_state_dict(mapped, strict=False)
    return missing
