# Copyright 2026 The ldl_pose_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""Optimiser, learning-rate schedule and batch-norm momentum of a training run."""

from __future__ import annotations

import math

import torch

from training.config import OptimizerConfig, ScheduleConfig


def lr_factor(step: int, steps_per_epoch: int, epochs: int, sched: ScheduleConfig) -> float:
    """Learning-rate multiplier at optimisation ``step`` (0-based): warmup then cosine/step."""
    total = max(1, steps_per_epoch * epochs)
    warm = int(round(sched.warmup_epochs * steps_per_epoch))
    if warm > 0 and step < warm:
        return sched.warmup_start + (1.0 - sched.warmup_start) * step / warm
    if sched.name == "constant":
        return 1.0
    if sched.name == "step":
        epoch = step / max(1, steps_per_epoch)
        return sched.gamma ** sum(1 for m in sched.milestones if epoch >= m)
    floor = sched.min_lr_ratio
    t = min(1.0, (step - warm) / max(1, total - warm))
    return floor + (1.0 - floor) * 0.5 * (1.0 + math.cos(math.pi * t))


def build_optimizer(model: torch.nn.Module, opt: OptimizerConfig) -> torch.optim.Optimizer:
    """AdamW or SGD; no weight decay on biases and normalisation parameters."""
    decay, no_decay = [], []
    for p in model.parameters():
        if p.requires_grad:
            (decay if p.ndim > 1 else no_decay).append(p)
    groups = [{"params": decay, "weight_decay": opt.weight_decay},
              {"params": no_decay, "weight_decay": 0.0}]
    if opt.name == "sgd":
        return torch.optim.SGD(groups, lr=opt.lr, momentum=opt.momentum, nesterov=opt.nesterov)
    return torch.optim.AdamW(groups, lr=opt.lr)


def set_bn_momentum(model: torch.nn.Module, momentum: float) -> int:
    """Set the running-statistics momentum of every batch-norm layer; returns their count."""
    n = 0
    for m in model.modules():
        if isinstance(m, torch.nn.modules.batchnorm._BatchNorm):
            m.momentum = momentum
            n += 1
    return n
