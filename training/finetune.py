# Copyright 2026 The ldl_pose_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""Fine-tuning from a package checkpoint (``init``): its model, replay data, L2-SP.

A run with ``init: CKPT`` (or ``--init CKPT``; ``default`` = the shipped model)

* builds the network from the checkpoint's own ``ModelConfig`` -- backbone,
  bins, crop and normalisation -- whatever backbone that is; the config's
  ``model`` section may only repeat those values (:data:`FIXED_KEYS`) and may
  change the loss terms (``sigma``, ``kl_weight``, ``reg_weight``, ``ce_weight``,
  ``reg_loss``);
* starts from its weights;
* keeps what the model knew in one of two ways (``finetune`` section): a
  *replay* share of the original training data mixed into every epoch (by
  default the sources recorded in the checkpoint's ``meta`` that exist on this
  machine), or, when there is none, *L2-SP* regularisation (Li, Grandvalet,
  Davoine, ICML 2018): ``l2sp_weight / 2 * ||w - w_init||^2`` added to the loss,
  so the weights move only as far from the start as the new data pays for;
* keeps the start model's batch-norm statistics (``freeze_bn``, default on):
  small fine-tuning batches estimate them poorly, and they describe the data
  the model was trained on.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import torch
from torch import nn

from ldl_pose_ros.model.config import ModelConfig
from ldl_pose_ros.resources import DEFAULT_WEIGHTS
from training.config import ConfigError, SourceConfig, TrainConfig
from training.datasets.registry import expand_path

#: L2-SP strength used when the finetune section leaves it open and no replay data exists.
DEFAULT_L2SP = 0.01
#: ModelConfig fields that define the network's input and output: taken from the checkpoint.
FIXED_KEYS = ("backbone", "input_size", "width_mult", "bin_min", "bin_max", "bin_step",
              "mean", "std", "crop_scale", "crop_shift_y")


def resolve_init(path: str) -> Path:
    """The checkpoint file of ``init`` (``default``: the shipped model)."""
    return DEFAULT_WEIGHTS if path == "default" else expand_path(path)


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, list | tuple) and isinstance(b, list | tuple):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, int | float) and isinstance(b, int | float):
        return abs(float(a) - float(b)) <= 1e-9 * max(1.0, abs(float(b)))
    return bool(a == b)


def init_model_config(cfg: TrainConfig, init: ModelConfig) -> ModelConfig:
    """The model of a fine-tuning run: the checkpoint's, with the config's loss terms.

    Raises ``ConfigError`` when the ``model`` section sets a :data:`FIXED_KEYS`
    value that differs from the checkpoint's.
    """
    differ = [f"{k}: config {cfg.model[k]!r}, checkpoint {getattr(init, k)!r}"
              for k in FIXED_KEYS if k in cfg.model and not _same(cfg.model[k], getattr(init, k))]
    if differ:
        raise ConfigError("model: fine-tuning keeps the init checkpoint's network, bins, crop "
                          "and normalisation; remove or correct " + "; ".join(differ))
    return cfg.model_config(base=replace(init, meta={}))


def recorded_sources(meta: dict[str, Any]) -> list[SourceConfig]:
    """The training sources recorded in a checkpoint's ``meta`` (those that still parse)."""
    specs = (((meta.get("training") or {}).get("config") or {}).get("data") or {}).get("train")
    out = []
    for i, spec in enumerate(specs or []):
        try:
            out.append(SourceConfig.parse_config(spec, f"init meta data.train[{i}]"))
        except ConfigError:
            continue
    return out


def source_available(src: SourceConfig) -> bool:
    """Whether a source's files are on this machine (root, and image_root if given)."""
    roots = [src.root] + ([src.options["image_root"]] if src.options.get("image_root") else [])
    return all(expand_path(r).exists() for r in roots)


def replay_sources(cfg: TrainConfig, init_meta: dict[str, Any]
                   ) -> tuple[list[SourceConfig], list[str]]:
    """Replay sources of a fine-tuning run and notes on what was skipped and why."""
    ft = cfg.finetune
    if ft is not None and ft.replay_sources is not None:
        return list(ft.replay_sources), []
    found, notes = [], []
    recorded = recorded_sources(init_meta)
    for src in recorded:
        if source_available(src):
            found.append(src)
        else:
            notes.append(f"replay: the init model's source {src.name or src.type} "
                         f"({src.root}) is not on this machine; skipped")
    if not recorded:
        notes.append("replay: the init checkpoint records no training sources")
    return found, notes


def l2sp_weight(cfg: TrainConfig, have_replay: bool) -> float:
    """The L2-SP strength of a fine-tuning run (``finetune.l2sp_weight`` or the default)."""
    ft = cfg.finetune
    if ft is not None and ft.l2sp_weight is not None:
        return ft.l2sp_weight
    return 0.0 if have_replay else DEFAULT_L2SP


def mix_weights(user: Sequence[float], replay: Sequence[float], share: float) -> list[float]:
    """Source weights giving the replay sources ``share`` of the draws (ratios kept)."""
    if not replay or share <= 0:
        return list(user) + [0.0] * len(replay)
    su, sr = sum(user), sum(replay)
    if su <= 0 or sr <= 0:
        raise ConfigError("fine-tuning sources need positive weights")
    return [w / su * (1 - share) for w in user] + [w / sr * share for w in replay]


class L2SP(nn.Module):
    """``weight / 2 * sum((w - w_start)^2)`` over the trainable parameters of a model."""

    def __init__(self, model: nn.Module, weight: float) -> None:
        super().__init__()
        self.weight = float(weight)
        self.names = [n for n, p in model.named_parameters() if p.requires_grad]
        params = dict(model.named_parameters())
        for i, n in enumerate(self.names):
            self.register_buffer(f"ref_{i}", params[n].detach().clone())

    def forward(self, model: nn.Module) -> torch.Tensor:
        """The penalty of ``model``'s current parameters (a scalar with gradient)."""
        params = dict(model.named_parameters())
        total = sum(((params[n] - getattr(self, f"ref_{i}")) ** 2).sum()
                    for i, n in enumerate(self.names))
        return 0.5 * self.weight * total  # type: ignore[return-value]


def freeze_batchnorm_statistics(model: nn.Module) -> int:
    """Put every batch-norm layer in inference mode (running statistics fixed); returns the count.

    Call after each ``model.train()``; the layers' affine parameters still train.
    """
    n = 0
    for m in model.modules():
        if isinstance(m, nn.modules.batchnorm._BatchNorm):
            m.eval()
            n += 1
    return n
