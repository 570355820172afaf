# Copyright 2026 The ldl_pose_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""Predictions of a model over a data loader, for validation."""

from __future__ import annotations

import numpy as np
import torch
from torch.utils.data import DataLoader

from ldl_pose_ros.model.distribution import expectation_and_std
from ldl_pose_ros.model.network import LDLHeadPoseNet
from training.loss import MaskedLDLLoss


@torch.no_grad()
def predict_loader(model: LDLHeadPoseNet, loader: DataLoader, device: torch.device,
                   loss_fn: MaskedLDLLoss | None = None
                   ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Run the model over a loader: ``(pred, std, true, mask, per-sample loss)``.

    The loss of a sample is its batch's mean loss (NaN without ``loss_fn``), so
    their mean over samples is the batch-size-weighted mean loss.
    """
    model.eval()
    preds, stds, trues, masks, losses = [], [], [], [], []
    for x, angles, mask, weight in loader:
        logits = model(x.to(device)).float()
        mean, std = expectation_and_std(torch.softmax(logits, -1), model.centers.float())
        loss = float("nan")
        if loss_fn is not None:
            loss = float(loss_fn(logits, angles.to(device), mask.to(device),
                                 weight.to(device))[0])
        losses.append(np.full(len(x), loss))
        preds.append(mean.cpu().numpy())
        stds.append(std.cpu().numpy())
        trues.append(angles.numpy())
        masks.append(mask.numpy())
    if not preds:
        return (np.zeros((0, 3)), np.zeros((0, 3)), np.zeros((0, 3)),
                np.zeros((0, 3), np.float32), np.zeros(0))
    return (np.concatenate(preds).astype(np.float64), np.concatenate(stds).astype(np.float64),
            np.concatenate(trues).astype(np.float64), np.concatenate(masks),
            np.concatenate(losses))
