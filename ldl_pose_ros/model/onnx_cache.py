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
hash, in a folder private to the user (mode 0700): ``$LDL_POSE_CACHE_DIR`` or
``$XDG_CACHE_HOME/ldl_pose_ros/onnx`` (``~/.cache/...``).  Without a usable private
folder the export stays in memory; there is no shared fallback such as ``/tmp``.

Neither name nor metadata is trusted: before a model is used, its results on a
seeded probe batch are compared with the checkpoint's own network
(:func:`open_verified_session`); a cached file that differs is replaced.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
import os
import stat
import tempfile
import warnings
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
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
#: Revision of the exported graph, part of the cache name: a cached export made by an
#: earlier exporter (same outputs, slower graph) is not reused.  2: PReLU as Clip/Mul/Add.
EXPORT_REVISION = 2
#: Largest batch a TensorRT engine profile is built for (more faces: rebuilt engine).
TRT_MAX_BATCH = 32


class _ProbabilityModel(nn.Module):
    """Wraps the network so that its output is the per-bin softmax (float32)."""

    def __init__(self, net: nn.Module) -> None:
        super().__init__()
        self.net = net

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.softmax(self.net(x).float(), dim=-1)


def export_onnx_bytes(weights: str | Path, opset: int = ONNX_OPSET) -> bytes:
    """The ONNX model of a checkpoint (see :func:`export_onnx`), as bytes."""
    import io

    import onnx

    model, cfg = load_checkpoint(weights, "cpu")
    wrapped = _ProbabilityModel(model).eval()
    dummy = torch.zeros(2, 3, cfg.input_size, cfg.input_size)
    buf = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            wrapped,
            (dummy,),
            buf,  # type: ignore[arg-type]  # the TorchScript exporter takes file objects
            input_names=[INPUT_NAME],
            output_names=[OUTPUT_NAME],
            dynamic_axes={INPUT_NAME: {0: "batch"}, OUTPUT_NAME: {0: "batch"}},
            opset_version=opset,
            do_constant_folding=True,
            dynamo=False,
        )
    proto = onnx.load_model_from_string(buf.getvalue())
    meta = {p.key: p for p in proto.metadata_props}
    for key, value in (
        (META_SHA256, file_sha256(Path(weights))),
        (META_CONFIG, json.dumps(dataclasses.asdict(cfg), sort_keys=True, default=str)),
    ):
        if key in meta:
            meta[key].value = value
        else:
            prop = proto.metadata_props.add()
            prop.key, prop.value = key, value
    proto.producer_name = "ldl_pose_ros"
    data: bytes = proto.SerializeToString()
    return data


def export_onnx(weights: str | Path, out_path: str | Path, opset: int = ONNX_OPSET) -> Path:
    """Export a checkpoint to ONNX with a dynamic batch size.

    Input ``input`` ``(N, 3, S, S)`` float32; output ``probs`` ``(N, 3, num_bins)``
    float32 (the softmax over the bins).  The file is written atomically (mode
    0600 in the private cache, the umask's elsewhere).  Raises
    :class:`CheckpointError` for bad weights.
    """
    data = export_onnx_bytes(weights, opset)
    out = Path(out_path)
    out.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=out.name + ".", suffix=".tmp", dir=out.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        if out.parent != private_cache_dir(create=False):
            os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, out)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return out


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


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


def cache_base() -> Path:
    """The export cache folder: ``$LDL_POSE_CACHE_DIR``, else the per-user cache folder."""
    if os.environ.get("LDL_POSE_CACHE_DIR"):
        return Path(os.environ["LDL_POSE_CACHE_DIR"])
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "ldl_pose_ros" / "onnx"


def _private(st: os.stat_result) -> bool:
    return st.st_uid == os.geteuid() and not st.st_mode & 0o077


def private_cache_dir(create: bool = True) -> Path | None:
    """The export cache folder if it is private to this user (mode 0700), else None.

    Created with mode 0700 when missing; an existing folder of this user is made
    0700.  A folder owned by someone else, or not a folder, is not used (with a
    warning): exports then stay in memory.  There is no shared fallback.
    """
    d = cache_base()
    try:
        if create and not d.exists():
            d.parent.mkdir(parents=True, exist_ok=True)
            d.mkdir(mode=0o700)
        st = d.stat()
        if not stat.S_ISDIR(st.st_mode):
            raise OSError(f"{d} is not a folder")
        if st.st_uid == os.geteuid() and st.st_mode & 0o077:
            os.chmod(d, 0o700)
            st = d.stat()
        if not _private(st):
            raise OSError(f"{d} is not private to this user (owner uid {st.st_uid}, mode "
                          f"{stat.S_IMODE(st.st_mode):o})")
    except OSError as exc:
        if create:
            warnings.warn(f"ONNX export cache not used ({exc.strerror or exc}): exporting "
                          "in memory at every start", stacklevel=2)
        return None
    return d


def cache_dirs() -> list[Path]:
    """The private export cache, if usable (there is no shared fallback)."""
    d = private_cache_dir()
    return [d] if d is not None else []


def cached_onnx_path(weights: str | Path) -> Path:
    """ONNX file for ``weights``: the matching sibling ``.onnx``, else a cached export.

    The cache is filled on the first call for a checkpoint (an export takes seconds)
    and reused afterwards.  Raises ``OSError`` without a private cache folder.
    The file's content is checked when a runner opens it (:func:`open_verified_session`).
    """
    w = Path(weights)
    if not w.is_file():
        raise CheckpointError(f"checkpoint not found: {w}")
    digest = file_sha256(w)
    sibling = sibling_onnx_path(w)
    if sibling != w and sibling.is_file() and onnx_weights_sha256(sibling) == digest:
        return sibling
    d = private_cache_dir()
    if d is None:
        raise OSError(f"no private cache folder for the ONNX export ({cache_base()})")
    candidate = d / _cache_name(digest)
    if candidate.is_file() and _private(candidate.stat()) \
            and onnx_weights_sha256(candidate) == digest:
        return candidate
    return export_onnx(w, candidate)


def _cache_name(digest: str) -> str:
    return f"{digest[:24]}_op{ONNX_OPSET}_r{EXPORT_REVISION}.onnx"


#: Largest difference (degrees) between the torch network and an ONNX model on the probe
#: batch for the model to count as the checkpoint's: CPU float32, and GPU providers.
VERIFY_TOL_DEG = {"cpu": 0.01, "gpu": 0.5}


def verify_session(session: onnxruntime.InferenceSession, model: nn.Module, cfg: ModelConfig,
                   tol_deg: float) -> str | None:
    """Compare an ONNX session with the checkpoint's network on a seeded probe batch.

    Returns None when every angle and spread agrees within ``tol_deg``, else why not.
    """
    from ldl_pose_ros.model.distribution import (
        bin_centers_np,
        expectation_and_std_np,
        valid_distributions_np,
    )

    s = cfg.input_size
    x = np.random.default_rng(20260301).standard_normal((2, 3, s, s)).astype(np.float32)
    with torch.inference_mode():
        ref = torch.softmax(model.float().eval()(torch.from_numpy(x)).float(), dim=-1).numpy()
    try:
        got = np.asarray(session.run([OUTPUT_NAME], {INPUT_NAME: x})[0], dtype=np.float64)
    except Exception as exc:  # noqa: BLE001 - a model that does not run is not the checkpoint's
        return f"it does not run ({type(exc).__name__})"
    if got.shape != ref.shape:
        return f"its output has shape {got.shape}, expected {ref.shape}"
    ok_ref, ok_got = valid_distributions_np(ref), valid_distributions_np(got)
    if not np.array_equal(ok_ref, ok_got):
        return ("its output is a valid distribution where the network's is not, or the "
                "other way round")
    if not ok_ref.any():
        return None  # the network itself gives no distribution: refused at run time
    centers = bin_centers_np(cfg)
    (a_ref, s_ref), (a_got, s_got) = (expectation_and_std_np(p[ok_ref], centers)
                                      for p in (ref, got))
    diff = float(max(np.max(np.abs(a_ref - a_got)), np.max(np.abs(s_ref - s_got))))
    if not diff <= tol_deg:
        return f"its angles differ from the checkpoint's network by {diff:.3g} deg"
    return None


def open_verified_session(weights: Path, model: nn.Module, cfg: ModelConfig,
                          options: onnxruntime.SessionOptions, providers: list[Provider]
                          ) -> tuple[onnxruntime.InferenceSession, Path | bytes]:
    """An ONNX Runtime session that computes what the checkpoint's network computes.

    Tried in order: the sibling ``.onnx`` that records the checkpoint's SHA-256 (a
    shipped file; if it then does not fit or does not compute the same results,
    :class:`CheckpointError`), the export in the private cache (a file that fails
    the checks is replaced by a new export, with a warning), a new export (into the
    cache, or in memory without one).  Every model used is checked by shape
    (:func:`check_onnx_signature`) and by its results on a probe batch
    (:func:`verify_session`): a file is never trusted by its name or its metadata.
    Returns the session and where the model came from (a path, or the bytes).
    """
    w = Path(weights)
    digest = file_sha256(w)
    gpu = any((p if isinstance(p, str) else p[0]) != "CPUExecutionProvider" for p in providers)
    tol = VERIFY_TOL_DEG["gpu" if gpu else "cpu"]
    sibling = sibling_onnx_path(w)
    if sibling != w and sibling.is_file():
        if onnx_weights_sha256(sibling) == digest:
            session = open_onnx_session(sibling, options, providers)
            check_onnx_signature(session, cfg, sibling, w)
            problem = verify_session(session, model, cfg, tol)
            if problem is None:
                return session, sibling
            raise CheckpointError(f"{sibling} claims to be exported from {w.name}, but "
                                  f"{problem}: remove it or re-export it with "
                                  "`python -m ldl_pose_ros.model.export`")
        warnings.warn(
            f"{sibling} was not exported from {w.name} (checkpoint hash differs): ignoring it; "
            "regenerate it with `python -m ldl_pose_ros.model.export`",
            stacklevel=3,
        )
    cache = private_cache_dir()
    if cache is None:
        data = export_onnx_bytes(w)
        session = open_onnx_session(data, options, providers)
        check_onnx_signature(session, cfg, Path("<in-memory export>"), w)
        return session, data
    candidate = cache / _cache_name(digest)
    if candidate.is_file():
        problem = None
        if not _private(candidate.stat()):
            problem = "it is not private to this user"
        elif onnx_weights_sha256(candidate) != digest:
            problem = "it records another checkpoint"
        else:
            try:
                session = open_onnx_session(candidate, options, providers)
                check_onnx_signature(session, cfg, candidate, w)
                problem = verify_session(session, model, cfg, tol)
            except CheckpointError as exc:
                problem = str(exc)
            if problem is None:
                return session, candidate
        warnings.warn(f"cached export {candidate} is not usable ({problem}): exported again",
                      stacklevel=3)
        with contextlib.suppress(OSError):
            candidate.unlink()
    export_onnx(w, candidate)
    session = open_onnx_session(candidate, options, providers)
    check_onnx_signature(session, cfg, candidate, w)
    problem = verify_session(session, model, cfg, tol)
    if problem is not None:
        raise CheckpointError(f"the ONNX export of {w} does not match it: {problem}")
    return session, candidate


def ort_providers(device: str, available: list[str], input_size: int) -> list[Provider]:
    """Execution providers for ``device`` (CPU always last); TensorRT only on request."""
    want_cuda = device == "cuda" or (device == "auto" and "CUDAExecutionProvider" in available)
    providers: list[Provider] = []
    if want_cuda:
        if (
            os.environ.get("LDL_POSE_ORT_TENSORRT") == "1"
            and "TensorrtExecutionProvider" in available
        ):
            base = private_cache_dir()
            cache = base / "tensorrt" if base is not None else None
            if cache is not None:
                with contextlib.suppress(OSError):
                    cache.mkdir(mode=0o700, exist_ok=True)
            s = input_size
            providers.append((
                "TensorrtExecutionProvider",
                {
                    "trt_fp16_enable": True,
                    "trt_engine_cache_enable": cache is not None,
                    "trt_engine_cache_path": str(cache or ""),
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


def open_onnx_session(model: Path | bytes, options: onnxruntime.SessionOptions,
                      providers: list[Provider]) -> onnxruntime.InferenceSession:
    """An ONNX Runtime session (from a file or bytes), or :class:`CheckpointError`."""
    import onnxruntime as ort

    name = "<in-memory export>" if isinstance(model, bytes) else str(model)
    try:
        return ort.InferenceSession(model if isinstance(model, bytes) else str(model),
                                    options, providers=providers)
    except Exception as exc:  # noqa: BLE001 - ORT raises its own (Fail, InvalidProtobuf...)
        first = str(exc).splitlines()[0] if str(exc) else ""
        raise CheckpointError(
            f"cannot load ONNX model {name} (truncated, corrupt or not ONNX): "
            f"{type(exc).__name__}: {first[:200]}; delete it to have it exported again"
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

