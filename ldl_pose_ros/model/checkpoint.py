# Copyright 2026 The ldl_pose_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""Self-describing checkpoints that load with ``torch.load(weights_only=True)``.

A checkpoint file is a ``torch.save`` of a plain dict::

    {
        "format": "ldl_pose_ros.checkpoint",   # FORMAT_TAG
        "version": 1,                          # FORMAT_VERSION
        "config": "<ModelConfig as JSON>",
        "dtype": "float32" | "float16",        # storage dtype of float tensors
        "state_dict": {name: tensor, ...},
        "extra": {...},                        # tensors and plain python values only
        "sha256": "<hex>",                     # of config + state_dict, see below
    }

With ``half=True`` floating-point tensors are stored as float16 (half the
size); :func:`load_checkpoint` always restores float32.

Integrity: ``sha256`` covers the config string and every tensor (name, dtype,
shape, bytes).  The zip container torch writes does not check its records, so
without it a damaged or edited weight would load silently; with it such a file
is refused.  Files written before the field existed load without the check.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import tempfile
from pathlib import Path
from typing import Any

import torch
from torch import nn

from ldl_pose_ros.model.config import ModelConfig
from ldl_pose_ros.model.network import LDLHeadPoseNet

FORMAT_TAG = "ldl_pose_ros.checkpoint"
FORMAT_VERSION = 1


class CheckpointError(ValueError):
    """A checkpoint file is missing, unreadable, of another format or inconsistent."""


def _plain(value: Any, where: str) -> Any:
    """Convert ``value`` to tensors + plain python containers (for weights_only)."""
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, torch.Tensor):
        return value.detach().cpu()
    if isinstance(value, dict):
        out = {}
        for k, v in value.items():
            key = k if isinstance(k, (int, str)) else str(k)
            out[key] = _plain(v, f"{where}.{key}")
        return out
    if isinstance(value, (list, tuple)):
        return [_plain(v, f"{where}[{i}]") for i, v in enumerate(value)]
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    if hasattr(value, "item") and getattr(value, "ndim", None) == 0:  # numpy scalar
        return _plain(value.item(), where)
    if hasattr(value, "__array__"):  # numpy array
        return torch.as_tensor(value)
    raise TypeError(f"checkpoint extra {where}: unsupported type {type(value).__name__}")


def _content_digest(config_json: str, state: dict[str, torch.Tensor]) -> str:
    """SHA-256 of the config string and every tensor (name, dtype, shape, bytes) by name."""
    h = hashlib.sha256(config_json.encode())
    for name in sorted(state):
        t = state[name].detach().cpu().contiguous().reshape(-1)
        h.update(f"\0{name}\0{t.dtype}\0{tuple(state[name].shape)}\0".encode())
        h.update(t.view(torch.uint8).numpy().data)
    return h.hexdigest()


def save_checkpoint(
    path: str | Path,
    model: nn.Module,
    cfg: ModelConfig,
    extra: dict[str, Any] | None = None,
    half: bool = False,
) -> Path:
    """Write ``model``'s weights with ``cfg`` (and optional ``extra``) to ``path``.

    The file is written atomically (temporary file + rename).  ``extra`` may hold
    tensors, numpy arrays and plain python values (e.g. metrics, optimizer state).
    """
    state = {}
    for name, t in model.state_dict().items():
        t = t.detach().cpu()
        if half and t.is_floating_point():
            t = t.to(torch.float16)
        elif t.is_floating_point():
            t = t.to(torch.float32)
        state[name] = t.contiguous().clone()
    config_json = json.dumps(cfg.to_dict(), sort_keys=True, default=str)
    payload = {
        "format": FORMAT_TAG,
        "version": FORMAT_VERSION,
        "config": config_json,
        "dtype": "float16" if half else "float32",
        "state_dict": state,
        "extra": _plain(dict(extra or {}), "extra"),
        "sha256": _content_digest(config_json, state),
    }
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=p.name + ".", suffix=".tmp", dir=p.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            torch.save(payload, f)
        os.replace(tmp, p)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    return p


def read_checkpoint(path: str | Path) -> dict[str, Any]:
    """Read and validate a checkpoint; returns the payload with ``config`` parsed.

    The returned dict has ``config`` (:class:`ModelConfig`), ``state_dict``
    (float32 tensors), ``extra``, ``version`` and ``dtype``.

    Raises:
        CheckpointError: missing, truncated/corrupt, modified (content digest), or not
            our format.
    """
    p = Path(path)
    if not p.exists():
        raise CheckpointError(f"checkpoint not found: {p}")
    if not p.is_file():
        raise CheckpointError(f"checkpoint is not a file: {p}")
    try:
        raw = torch.load(p, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises RuntimeError, EOFError, UnpicklingError...
        raise CheckpointError(
            f"cannot read checkpoint {p} (truncated, corrupt or not a torch file): "
            f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
        ) from exc
    if not isinstance(raw, dict) or raw.get("format") != FORMAT_TAG:
        raise CheckpointError(
            f"{p} is not an ldl_pose_ros checkpoint (missing format tag {FORMAT_TAG!r})"
        )
    version = raw.get("version")
    if not isinstance(version, int) or version > FORMAT_VERSION or version < 1:
        raise CheckpointError(
            f"{p}: unsupported checkpoint version {version!r} (this code reads <= {FORMAT_VERSION})"
        )
    try:
        cfg = ModelConfig.from_dict(json.loads(raw["config"]))
    except (KeyError, TypeError, ValueError) as exc:
        raise CheckpointError(f"{p}: invalid model config: {exc}") from exc
    state = raw.get("state_dict")
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise CheckpointError(f"{p}: missing or invalid state_dict")
    digest = raw.get("sha256")
    if digest is not None and (
        not isinstance(digest, str)
        or not isinstance(raw["config"], str)
        or digest != _content_digest(raw["config"], state)
    ):
        raise CheckpointError(
            f"{p}: content check failed (the SHA-256 of its config and weights differs from "
            "the one stored): the file was damaged or modified after it was saved"
        )
    state = {k: (v.float() if v.is_floating_point() else v) for k, v in state.items()}
    for k, v in state.items():
        if v.is_floating_point() and not bool(torch.isfinite(v).all()):
            raise CheckpointError(f"{p}: non-finite values in {k}")
    return {
        "config": cfg,
        "state_dict": state,
        "extra": raw.get("extra") or {},
        "version": version,
        "dtype": raw.get("dtype", "float32"),
    }


def load_checkpoint(
    path: str | Path, device: str | torch.device = "cpu"
) -> tuple[LDLHeadPoseNet, ModelConfig]:
    """Rebuild the network from a checkpoint; returns ``(model in eval mode, cfg)``.

    Raises:
        CheckpointError: see :func:`read_checkpoint`, or weights that do not
            match the stored configuration.
    """
    data = read_checkpoint(path)
    cfg: ModelConfig = data["config"]
    model = LDLHeadPoseNet(cfg)
    try:
        model.load_state_dict(data["state_dict"], strict=True)
    except RuntimeError as exc:
        msg = str(exc).replace("\n", " ")
        raise CheckpointError(
            f"{path}: weights do not match the stored config "
            f"(backbone={cfg.backbone}, num_bins={cfg.num_bins}): {msg[:500]}"
        ) from exc
    model.eval()
    return model.to(device), cfg


def count_parameters(model: nn.Module) -> int:
    """Count the trainable parameters of ``model``."""
    return int(sum(math.prod(p.shape) for p in model.parameters() if p.requires_grad))
