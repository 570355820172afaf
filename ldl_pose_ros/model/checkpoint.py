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
is refused.  The digest is required: a file written before the field existed is
refused unless legacy files are allowed explicitly (``$LDL_POSE_ALLOW_LEGACY_WEIGHTS=1``,
``--allow-legacy-weights``) or stamped with ``python -m ldl_pose_ros.model.stamp``.
A digest detects damage and accidental edits; it is not a signature: whoever can
write the file can write a matching digest, so only load weights from a source
you trust.

Loading is bounded: the file size is checked first and the archive is memory-mapped,
so a compressed record (a zip bomb) is refused instead of expanded.  Every config
field is bounded (:class:`ModelConfig`).
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
#: Largest checkpoint file read (a ResNet-50 training checkpoint with its optimizer
#: state is about 300 MB).
MAX_CHECKPOINT_BYTES = 1 << 30
#: Environment variable that lets checkpoints without a digest load (``1``).
LEGACY_ENV = "LDL_POSE_ALLOW_LEGACY_WEIGHTS"
#: Most records in a checkpoint archive (one per tensor and a few more).
MAX_RECORDS = 100_000
_ZIP_MAGIC = b"PK\x03\x04"


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
    _save_payload(p, payload)
    return p


def _save_payload(p: Path, payload: dict[str, Any]) -> None:
    """``torch.save`` to a temporary file beside ``p``, renamed to ``p`` when complete."""
    p.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=p.name + ".", suffix=".tmp", dir=p.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            torch.save(payload, f)
        mask = os.umask(0)
        os.umask(mask)
        os.chmod(tmp, 0o666 & ~mask)  # as a plain open() would (mkstemp makes it 0600)
        os.replace(tmp, p)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def _describe_unreadable(p: Path, head: bytes, exc: BaseException | None) -> str:
    """One line saying why ``p`` is not a readable checkpoint (never torch's own advice)."""
    lead = f"cannot read checkpoint {p}"
    low = head.lower()
    # ONNX ModelProto: field 1 (ir_version, tag 0x08), then usually field 2 (producer
    # name, tag 0x12) or a name that says so.
    if p.suffix.lower() == ".onnx" or (head[:1] == b"\x08" and (
            head[2:3] == b"\x12" or b"onnx" in low or b"pytorch" in low)):
        return (f"{lead}: it is an ONNX model; --weights takes an ldl_pose_ros checkpoint "
                "(.ckpt), from which the ONNX file is exported")
    if not head.startswith(_ZIP_MAGIC):
        return (f"{lead}: not an ldl_pose_ros checkpoint (not a torch zip archive: random "
                "bytes, damaged at the start, or another format)")
    if exc is None:
        return lead
    name = type(exc).__name__
    if "Unpickl" in name or "weights_only" in str(exc).lower():
        return (f"{lead}: refused without loading it: it holds objects other than tensors "
                "and plain values, which an ldl_pose_ros checkpoint never does")
    first = str(exc).splitlines()[0] if str(exc) else ""
    if len(first) > 200:
        first = first[:200] + "..."
    return f"{lead} (truncated or corrupt archive): {name}{': ' + first if first else ''}"


def _check_archive(p: Path, size: int) -> None:
    """Refuse a zip whose records are compressed or claim more bytes than the file has.

    ``torch.save`` stores every record uncompressed; a compressed record could
    expand without bound (a zip bomb) and cannot be memory-mapped.
    """
    import zipfile

    try:
        with zipfile.ZipFile(p) as z:
            infos = z.infolist()
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        raise CheckpointError(f"cannot read checkpoint {p} (truncated or corrupt archive: "
                              f"{exc})") from None
    if len(infos) > MAX_RECORDS:
        raise CheckpointError(f"cannot read checkpoint {p}: {len(infos)} records")
    for info in infos:
        if info.compress_type != zipfile.ZIP_STORED:
            raise CheckpointError(f"cannot read checkpoint {p}: record {info.filename} is "
                                  "compressed (torch stores them uncompressed; a compressed "
                                  "record could expand without bound)")
        if info.file_size > size:
            raise CheckpointError(f"cannot read checkpoint {p}: record {info.filename} claims "
                                  f"{info.file_size} bytes in a file of {size}")


def legacy_allowed() -> bool:
    """True when ``$LDL_POSE_ALLOW_LEGACY_WEIGHTS`` is ``1``: checkpoints without a digest load."""
    return os.environ.get(LEGACY_ENV, "") == "1"


def read_checkpoint(path: str | Path, allow_legacy: bool | None = None) -> dict[str, Any]:
    """Read and validate a checkpoint; returns the payload with ``config`` parsed.

    The returned dict has ``config`` (:class:`ModelConfig`), ``state_dict``
    (float32 tensors), ``extra``, ``version`` and ``dtype``.  Bounded before it is
    read: files above :data:`MAX_CHECKPOINT_BYTES` are refused, and the archive is
    memory-mapped (a compressed record, which could expand without bound, is
    refused).  The content digest is required: a file without one (written before
    the digest existed) loads only with ``allow_legacy`` (default:
    :func:`legacy_allowed`).  A digest proves the file was not damaged or edited by
    accident; it is not a signature (anyone can write a file with a valid digest).

    Raises:
        CheckpointError: missing, too large, truncated/corrupt, not our format, an
            invalid or out-of-bounds config, a missing or wrong digest, or
            non-finite weights; the message is one line.
    """
    p = Path(path)
    if allow_legacy is None:
        allow_legacy = legacy_allowed()
    if not p.exists():
        raise CheckpointError(f"checkpoint not found: {p}")
    if not p.is_file():
        raise CheckpointError(f"checkpoint is not a file: {p}")
    size = p.stat().st_size
    if size > MAX_CHECKPOINT_BYTES:
        raise CheckpointError(f"{p}: {size / 2**20:.0f} MiB is more than any checkpoint this "
                              f"package writes (limit {MAX_CHECKPOINT_BYTES / 2**20:.0f} MiB)")
    with open(p, "rb") as f:
        head = f.read(256)
    if not head.startswith(_ZIP_MAGIC):
        raise CheckpointError(_describe_unreadable(p, head, None))
    _check_archive(p, size)
    try:
        raw = torch.load(p, map_location="cpu", weights_only=True, mmap=True)
    except Exception as exc:  # noqa: BLE001 - torch raises RuntimeError, EOFError, Unpickling...
        raise CheckpointError(_describe_unreadable(p, head, exc)) from None
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
    except (KeyError, TypeError, ValueError, RecursionError) as exc:
        raise CheckpointError(f"{p}: invalid model config: {exc}") from None
    state = raw.get("state_dict")
    if not isinstance(state, dict) or not state or not all(
            isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in state.items()):
        raise CheckpointError(f"{p}: missing or invalid state_dict")
    digest = raw.get("sha256")
    if digest is None:
        if not allow_legacy:
            raise CheckpointError(
                f"{p} has no content digest (written before ldl_pose_ros stored one), so "
                "damage or edits to it cannot be detected: if you trust it, add one with "
                f"`python -m ldl_pose_ros.model.stamp {p} NEW.ckpt`, or load it as it is "
                f"with {LEGACY_ENV}=1 (--allow-legacy-weights)")
    elif (not isinstance(digest, str) or not isinstance(raw["config"], str)
          or digest != _content_digest(raw["config"], state)):
        raise CheckpointError(
            f"{p}: content check failed (the SHA-256 of its config and weights differs from "
            "the one stored): the file was damaged or modified after it was saved"
        )
    # float32 copies: nothing stays mapped to the file once this returns
    state = {k: (v.float() if v.is_floating_point() else v).clone() for k, v in state.items()}
    for k, v in state.items():
        if v.is_floating_point() and not bool(torch.isfinite(v).all()):
            raise CheckpointError(f"{p}: non-finite values in {k}")
    return {
        "config": cfg,
        "state_dict": state,
        "extra": raw.get("extra") or {},
        "version": version,
        "dtype": raw.get("dtype", "float32"),
        "sha256": digest,
    }


def stamp_digest(src: str | Path, dst: str | Path) -> str:
    """Write ``src`` (a checkpoint without a digest, trusted by the caller) with its digest.

    Nothing else changes: the same config string, tensors (stored dtype) and extra.
    Returns the digest.  ``dst`` must differ from ``src``; it is written atomically.
    """
    s, d = Path(src), Path(dst)
    if d.exists() and os.path.samefile(s, d):
        raise CheckpointError(f"{d} is the input: write the stamped checkpoint to a new file")
    read_checkpoint(s, allow_legacy=True)  # format, config and weights are checked first
    raw = torch.load(s, map_location="cpu", weights_only=True, mmap=True)
    state = {k: v.contiguous().clone() for k, v in raw["state_dict"].items()}
    raw["state_dict"] = state
    raw["sha256"] = _content_digest(raw["config"], state)
    _save_payload(d, raw)
    return str(raw["sha256"])


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
