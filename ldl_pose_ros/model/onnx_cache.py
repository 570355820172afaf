# Copyright 2026 The ldl_pose_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""ONNX export of a checkpoint, the export cache, and ONNX Runtime sessions.

The exported graph's output is the per-bin softmax, to which
:class:`~ldl_pose_ros.model.runner.PoseNetRunner` applies the same numpy
post-processing as to the torch network's.

ONNX models carry the SHA-256 of the checkpoint they were exported from (model
metadata :data:`META_SHA256`).  An ONNX file next to the checkpoint (``X.onnx``
beside ``X.ckpt``, written by ``python -m ldl_pose_ros.model.export``; the shipped
default model has one) is used when its hash matches, so start-up needs no
export.  Otherwise the model is exported on first use and cached, keyed by that
hash, in ``$LDL_POSE_CACHE_DIR`` or ``$XDG_CACHE_HOME/ldl_pose_ros/onnx``
(``~/.cache/...``), falling back to the system temporary directory.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
import os
import tempfile
import warnings
from pathlib import Path
from typing import TYPE_CHECKING

import torch
from torch import nn

from ldl_pose_ros.model.checkpoint import CheckpointError, load_checkpoint
from ldl_pose_ros.model.config import ModelConfig

if TYPE_CHECKING:
    import onnxruntime

#: ONNX Runtime execution providers: a name, or a name with its options.
Provider = str | tuple[str, dict[str, object]]

ONNX_OPSET = 17
INPUT_NAME = "input"
OUTPUT_NAME = "probs"
#: ONNX metadata keys written by :func:`export_onnx`.
META_SHA256 = "ldl_pose_ros.weights_sha256"
META_CONFIG = "ldl_pose_ros.config"
#: Largest batch a TensorRT engine profile is built for (more faces: rebuilt engine).
TRT_MAX_BATCH = 32


class _ProbabilityModel(nn.Module):
    """Wraps the network so that its output is the per-bin softmax (float32)."""

    def __init__(self, net: nn.Module) -> None:
        super().__init__()
        self.net = net

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.softmax(self.net(x).float(), dim=-1)


def export_onnx(weights: str | Path, out_path: str | Path, opset: int = ONNX_OPSET) -> Path:
    """Export a checkpoint to ONNX with a dynamic batch size.

    Input ``input`` ``(N, 3, S, S)`` float32; output ``probs`` ``(N, 3, num_bins)``
    float32 (the softmax over the bins).  The file is written atomically.
    Raises :class:`CheckpointError` for bad weights.
    """
    model, cfg = load_checkpoint(weights, "cpu")
    wrapped = _ProbabilityModel(model).eval()
    out = Path(out_path)
    out.parent.mkdir(parents=True, exist_ok=True)
    dummy = torch.zeros(2, 3, cfg.input_size, cfg.input_size)
    fd, tmp = tempfile.mkstemp(prefix=out.name + ".", suffix=".tmp", dir=out.parent)
    os.close(fd)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            torch.onnx.export(
                wrapped,
                (dummy,),
                tmp,
                input_names=[INPUT_NAME],
                output_names=[OUTPUT_NAME],
                dynamic_axes={INPUT_NAME: {0: "batch"}, OUTPUT_NAME: {0: "batch"}},
                opset_version=opset,
                do_constant_folding=True,
                dynamo=False,
            )
        _add_metadata(tmp, weights, cfg)
        os.replace(tmp, out)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return out


def _add_metadata(onnx_file: str | Path, weights: str | Path, cfg: ModelConfig) -> None:
    """Record the checkpoint's SHA-256 and config in the ONNX model's metadata."""
    import onnx

    model = onnx.load(str(onnx_file))
    meta = {p.key: p for p in model.metadata_props}
    for key, value in (
        (META_SHA256, file_sha256(Path(weights))),
        (META_CONFIG, json.dumps(dataclasses.asdict(cfg), sort_keys=True, default=str)),
    ):
        if key in meta:
            meta[key].value = value
        else:
            prop = model.metadata_props.add()
            prop.key, prop.value = key, value
    model.producer_name = "ldl_pose_ros"
    onnx.save(model, str(onnx_file))


def onnx_weights_sha256(onnx_path: str | Path) -> str | None:
    """The checkpoint hash recorded in an exported ONNX file (``None``: none recorded)."""
    import onnx

    try:
        model = onnx.load(str(onnx_path), load_external_data=False)
    except Exception:  # noqa: BLE001 - unreadable/corrupt file: treat as not matching
        return None
    for prop in model.metadata_props:
        if prop.key == META_SHA256:
            return prop.value
    return None


def sibling_onnx_path(weights: str | Path) -> Path:
    """Where a pre-exported ONNX file of ``weights`` is looked for: same name, ``.onnx``."""
    return Path(weights).with_suffix(".onnx")


def file_sha256(path: Path) -> str:
    """SHA-256 of a file's bytes (hex)."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def cache_dirs() -> list[Path]:
    """Where exports are cached, in the order they are tried."""
    dirs = []
    if os.environ.get("LDL_POSE_CACHE_DIR"):
        dirs.append(Path(os.environ["LDL_POSE_CACHE_DIR"]))
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    dirs.append(Path(base) / "ldl_pose_ros" / "onnx")
    dirs.append(Path(tempfile.gettempdir()) / "ldl_pose_ros_onnx")
    return dirs


def cached_onnx_path(weights: str | Path) -> Path:
    """ONNX file for ``weights``: the matching sibling ``.onnx``, else a cached export.

    The cache is filled on the first call for a checkpoint (an export takes seconds)
    and reused afterwards.
    """
    w = Path(weights)
    if not w.is_file():
        raise CheckpointError(f"checkpoint not found: {w}")
    digest = file_sha256(w)
    sibling = sibling_onnx_path(w)
    if sibling != w and sibling.is_file():
        if onnx_weights_sha256(sibling) == digest:
            return sibling
        warnings.warn(
            f"{sibling} was not exported from {w.name} (checkpoint hash differs): ignoring it; "
            "regenerate it with `python -m ldl_pose_ros.model.export`",
            stacklevel=2,
        )
    name = f"{digest[:24]}_op{ONNX_OPSET}.onnx"
    last_err: Exception | None = None
    for d in cache_dirs():
        candidate = d / name
        if candidate.is_file():
            return candidate
        try:
            d.mkdir(parents=True, exist_ok=True)
            return export_onnx(w, candidate)
        except OSError as exc:  # unwritable cache dir: try the next one
            last_err = exc
    raise OSError(f"no writable cache directory for the ONNX export: {last_err}")


def ort_providers(device: str, available: list[str], input_size: int) -> list[Provider]:
    """Execution providers for ``device`` (CPU always last); TensorRT only on request."""
    want_cuda = device == "cuda" or (device == "auto" and "CUDAExecutionProvider" in available)
    providers: list[Provider] = []
    if want_cuda:
        if (
            os.environ.get("LDL_POSE_ORT_TENSORRT") == "1"
            and "TensorrtExecutionProvider" in available
        ):
            cache = cache_dirs()[0] / "tensorrt"
            with contextlib.suppress(OSError):
                cache.mkdir(parents=True, exist_ok=True)
            s = input_size
            providers.append((
                "TensorrtExecutionProvider",
                {
                    "trt_fp16_enable": True,
                    "trt_engine_cache_enable": True,
                    "trt_engine_cache_path": str(cache),
                    "trt_profile_min_shapes": f"{INPUT_NAME}:1x3x{s}x{s}",
                    "trt_profile_opt_shapes": f"{INPUT_NAME}:8x3x{s}x{s}",
                    "trt_profile_max_shapes": f"{INPUT_NAME}:{TRT_MAX_BATCH}x3x{s}x{s}",
                },
            ))
        if "CUDAExecutionProvider" in available:
            providers.append("CUDAExecutionProvider")
        if not providers:
            raise RuntimeError(
                "device 'cuda' requested but onnxruntime has no CUDA provider "
                f"(available: {available}); install onnxruntime-gpu or use backend 'torch'"
            )
    providers.append("CPUExecutionProvider")
    return providers


def open_onnx_session(onnx_path: Path, options: onnxruntime.SessionOptions,
                      providers: list[Provider]) -> onnxruntime.InferenceSession:
    """An ONNX Runtime session, or :class:`CheckpointError` for an unreadable model file."""
    import onnxruntime as ort

    try:
        return ort.InferenceSession(str(onnx_path), options, providers=providers)
    except Exception as exc:  # noqa: BLE001 - ORT raises its own (Fail, InvalidProtobuf...)
        first = str(exc).splitlines()[0] if str(exc) else ""
        raise CheckpointError(
            f"cannot load ONNX model {onnx_path} (truncated, corrupt or not ONNX): "
            f"{type(exc).__name__}: {first}; delete it to have it exported again"
        ) from exc


def check_onnx_signature(session: onnxruntime.InferenceSession, cfg: ModelConfig,
                         onnx_path: Path, weights: Path) -> None:
    """Refuse an ONNX model whose input/output do not fit the checkpoint's configuration.

    Expected: one float input ``input`` ``(N, 3, S, S)`` and an output ``probs``
    ``(N, 3, num_bins)`` (``N`` symbolic or any), as :func:`export_onnx` writes.
    """
    s, bins = cfg.input_size, cfg.num_bins
    inputs = {i.name: i for i in session.get_inputs()}
    outputs = {o.name: o for o in session.get_outputs()}

    def fits(shape: object, want: tuple[int, ...]) -> bool:
        return (
            isinstance(shape, (list, tuple))
            and len(shape) == len(want) + 1
            and all(isinstance(d, int) and d == w for d, w in zip(shape[1:], want, strict=True))
        )

    problems = []
    inp, out = inputs.get(INPUT_NAME), outputs.get(OUTPUT_NAME)
    if len(inputs) != 1 or inp is None:
        problems.append(f"inputs {sorted(inputs)} (expected one named {INPUT_NAME!r})")
    elif not fits(inp.shape, (3, s, s)) or inp.type != "tensor(float)":
        problems.append(f"input {inp.type} {inp.shape} (expected float (N, 3, {s}, {s}))")
    if out is None:
        problems.append(f"outputs {sorted(outputs)} (expected {OUTPUT_NAME!r})")
    elif not fits(out.shape, (3, bins)) or out.type != "tensor(float)":
        problems.append(f"output {out.type} {out.shape} (expected float (N, 3, {bins}))")
    if problems:
        raise CheckpointError(
            f"ONNX model {onnx_path} does not fit checkpoint {weights.name} (input size {s}, "
            f"{bins} bins): {'; '.join(problems)}; re-export it with "
            "`python -m ldl_pose_ros.model.export`"
        )

