# Copyright 2026 The ldl_pose_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""The single inference path: checkpoint -> (angles, std) for a batch of crops.

Both backends compute bin probabilities (torch: the network + softmax; ONNX:
an exported graph whose output is the same softmax) and then share one numpy
post-processing step (expectation and standard deviation over the bin
centres, float64), so they agree to float32 rounding.

ONNX models are exported on first use and cached, keyed by the SHA-256 of the
weights file, in ``$LDL_POSE_CACHE_DIR`` or ``$XDG_CACHE_HOME/ldl_pose_ros/onnx``
(``~/.cache/...``), falling back to the system temporary directory.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from ldl_pose_ros.model.checkpoint import CheckpointError, load_checkpoint
from ldl_pose_ros.model.config import ModelConfig
from ldl_pose_ros.model.distribution import bin_centers_np, expectation_and_std_np

ONNX_OPSET = 17
_ONNX_INPUT = "input"
_ONNX_OUTPUT = "probs"


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
                input_names=[_ONNX_INPUT],
                output_names=[_ONNX_OUTPUT],
                dynamic_axes={_ONNX_INPUT: {0: "batch"}, _ONNX_OUTPUT: {0: "batch"}},
                opset_version=opset,
                do_constant_folding=True,
                dynamo=False,
            )
        os.replace(tmp, out)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return out


def _file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _cache_dirs() -> list[Path]:
    dirs = []
    if os.environ.get("LDL_POSE_CACHE_DIR"):
        dirs.append(Path(os.environ["LDL_POSE_CACHE_DIR"]))
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    dirs.append(Path(base) / "ldl_pose_ros" / "onnx")
    dirs.append(Path(tempfile.gettempdir()) / "ldl_pose_ros_onnx")
    return dirs


def cached_onnx_path(weights: str | Path) -> Path:
    """ONNX file for ``weights`` (exported on first call, then reused)."""
    w = Path(weights)
    if not w.is_file():
        raise CheckpointError(f"checkpoint not found: {w}")
    name = f"{_file_sha256(w)[:24]}_op{ONNX_OPSET}.onnx"
    last_err: Exception | None = None
    for d in _cache_dirs():
        candidate = d / name
        if candidate.is_file():
            return candidate
        try:
            d.mkdir(parents=True, exist_ok=True)
            return export_onnx(w, candidate)
        except OSError as exc:  # unwritable cache dir: try the next one
            last_err = exc
    raise OSError(f"no writable cache directory for the ONNX export: {last_err}")


def _resolve_device(device: str) -> str:
    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device not in ("cpu", "cuda") and not device.startswith("cuda:"):
        raise ValueError(f"device must be 'auto', 'cpu' or 'cuda', got {device!r}")
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise RuntimeError("device 'cuda' requested but CUDA is not available to torch")
    return device


class PoseNetRunner:
    """Runs a checkpoint on preprocessed face crops (torch or ONNX Runtime).

    Args:
        weights: checkpoint written by ``save_checkpoint``.
        device: ``'auto'`` (CUDA when available), ``'cpu'`` or ``'cuda'``.
        backend: ``'torch'`` or ``'onnx'``.
        threads: intra-op CPU threads (``None``: library default).  For the
            torch backend this sets the process-wide ``torch.set_num_threads``.
        providers: ONNX Runtime execution providers to use (``None``: CUDA when
            the device is CUDA, preceded by TensorRT when the environment sets
            ``LDL_POSE_ORT_TENSORRT=1``; always CPU last).

    Attributes:
        config: the :class:`ModelConfig` stored in the checkpoint.
        device: ``'cpu'`` or ``'cuda'`` actually used.
        backend: ``'torch'`` or ``'onnx'``.
        providers: ONNX Runtime providers in use (ONNX backend only).
    """

    def __init__(
        self,
        weights: str | Path,
        device: str = "auto",
        backend: str = "torch",
        threads: int | None = None,
        providers: list[str] | None = None,
    ) -> None:
        if backend not in ("torch", "onnx"):
            raise ValueError(f"backend must be 'torch' or 'onnx', got {backend!r}")
        self.weights = Path(weights)
        self.backend = backend
        self.providers: list[str] = []
        self._session: Any = None
        self._model: nn.Module | None = None
        if backend == "torch":
            self.device = _resolve_device(device)
            if threads:
                torch.set_num_threads(int(threads))
            model, cfg = load_checkpoint(self.weights, "cpu")
            self._half = self.device.startswith("cuda")
            model = model.to(self.device)
            if self._half:
                model = model.half()
            self._model = model.eval()
        else:
            import onnxruntime as ort

            available = ort.get_available_providers()
            want_cuda = device == "cuda" or (
                device == "auto" and "CUDAExecutionProvider" in available
            )
            if device not in ("auto", "cpu", "cuda"):
                raise ValueError(f"device must be 'auto', 'cpu' or 'cuda', got {device!r}")
            if providers is None:
                providers = []
                if want_cuda:
                    names = ["CUDAExecutionProvider"]
                    if os.environ.get("LDL_POSE_ORT_TENSORRT") == "1":
                        names.insert(0, "TensorrtExecutionProvider")
                    providers.extend(p for p in names if p in available)
                    if not providers:
                        raise RuntimeError(
                            "device 'cuda' requested but onnxruntime has no CUDA provider "
                            f"(available: {available})"
                        )
                providers.append("CPUExecutionProvider")
            _, cfg = load_checkpoint(self.weights, "cpu")  # validates, gives config
            onnx_path = cached_onnx_path(self.weights)
            so = ort.SessionOptions()
            if threads:
                so.intra_op_num_threads = int(threads)
                so.inter_op_num_threads = 1
            so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
            self._session = ort.InferenceSession(str(onnx_path), so, providers=providers)
            self.providers = list(self._session.get_providers())
            self.device = (
                "cuda"
                if any(
                    p in self.providers
                    for p in ("CUDAExecutionProvider", "TensorrtExecutionProvider")
                )
                else "cpu"
            )
            self.onnx_path = onnx_path
        self.config: ModelConfig = cfg
        self._centers = bin_centers_np(cfg)

    @property
    def input_size(self) -> int:
        """Side of the square network input in pixels."""
        return self.config.input_size

    def probabilities(self, batch: np.ndarray) -> np.ndarray:
        """Per-bin probabilities ``(N, 3, num_bins)`` float32 for a preprocessed batch."""
        x = self._check(batch)
        if x.shape[0] == 0:
            return np.zeros((0, 3, self.config.num_bins), np.float32)
        if self.backend == "onnx":
            return self._session.run([_ONNX_OUTPUT], {_ONNX_INPUT: x})[0]
        assert self._model is not None
        with torch.inference_mode():
            t = torch.from_numpy(x).to(self.device, non_blocking=True)
            if self._half:
                t = t.half()
            probs = torch.softmax(self._model(t).float(), dim=-1)
            return probs.cpu().numpy()

    def predict(self, batch: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Angles and per-angle standard deviations for a preprocessed batch.

        Args:
            batch: ``(N, 3, S, S)`` float32, already normalised
                (``ldl_pose_ros.crop.to_network_input``), ``S == config.input_size``.

        Returns:
            ``(angles, std)``: float64 ``(N, 3)`` arrays in degrees, (yaw, pitch, roll).
        """
        probs = self.probabilities(batch)
        if probs.shape[0] == 0:
            return np.zeros((0, 3)), np.zeros((0, 3))
        return expectation_and_std_np(probs, self._centers)

    def _check(self, batch: np.ndarray) -> np.ndarray:
        x = np.asarray(batch)
        s = self.config.input_size
        if x.ndim != 4 or x.shape[1:] != (3, s, s):
            raise ValueError(f"batch must be (N, 3, {s}, {s}), got {x.shape}")
        return np.ascontiguousarray(x, dtype=np.float32)

    def __repr__(self) -> str:
        return (
            f"PoseNetRunner(weights={str(self.weights)!r}, backend={self.backend!r}, "
            f"device={self.device!r}, backbone={self.config.backbone!r}, "
            f"input_size={self.config.input_size})"
        )
