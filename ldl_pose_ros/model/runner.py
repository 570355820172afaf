# Copyright 2026 The ldl_pose_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""The single inference path: checkpoint -> (angles, std) for a batch of crops.

Both backends compute bin probabilities (torch: the network + softmax; ONNX:
an exported graph whose output is the same softmax) and then share one numpy
post-processing step (expectation and standard deviation over the bin
centres, float64), so they agree to float32 rounding.

ONNX models carry the SHA-256 of the checkpoint they were exported from (model
metadata ``ldl_pose_ros.weights_sha256``).  An ONNX file next to the checkpoint
(``X.onnx`` beside ``X.ckpt``, written by ``python -m ldl_pose_ros.model.export``;
the shipped default model has one) is used when its hash matches, so start-up
needs no export.  Otherwise the model is exported on first use and cached, keyed
by that hash, in ``$LDL_POSE_CACHE_DIR`` or ``$XDG_CACHE_HOME/ldl_pose_ros/onnx``
(``~/.cache/...``), falling back to the system temporary directory.

Backend ``'auto'`` (the default): ONNX Runtime on CPU (measured several times
faster than eager torch for the small default model, see ``bench/``), torch with
fp16 on CUDA.  Threads: ``threads=None`` picks :func:`default_threads` for the
machine.
"""

from __future__ import annotations

import contextlib
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
#: ONNX metadata keys written by :func:`export_onnx`.
META_SHA256 = "ldl_pose_ros.weights_sha256"
META_CONFIG = "ldl_pose_ros.config"
BACKENDS = ("auto", "torch", "onnx")
#: Largest batch a TensorRT engine profile is built for (more faces: rebuilt engine).
TRT_MAX_BATCH = 32


def usable_cpus() -> int:
    """CPUs this process may run on (affinity mask), at least 1."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):  # pragma: no cover - non-Linux
        return max(1, os.cpu_count() or 1)


def default_threads() -> int:
    """Intra-op threads of the network chosen for this machine: ``clamp(cpus - 1, 1, 4)``.

    One core is left to the detector, the ROS executor and DDS threads that run
    beside the network in the node (on 2 cores: 1 thread, no spinning thread pools);
    more than 4 threads do not pay off for the batches of one frame.
    """
    return max(1, min(4, usable_cpus() - 1))


def resolve_backend(backend: str, device: str) -> str:
    """``'auto'`` -> ``'onnx'`` for CPU inference (when onnxruntime imports), else ``'torch'``."""
    if backend not in BACKENDS:
        raise ValueError(f"backend must be one of {BACKENDS}, got {backend!r}")
    if backend != "auto":
        return backend
    if _resolve_device(device) != "cpu":
        return "torch"  # fp16 torch on CUDA; onnx + TensorRT/CUDA providers on request
    try:
        import onnxruntime  # noqa: F401
    except ImportError:  # pragma: no cover - onnxruntime is a base requirement
        return "torch"
    return "onnx"


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
        _add_metadata(tmp, weights, cfg)
        os.replace(tmp, out)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return out


def _add_metadata(onnx_file: str | Path, weights: str | Path, cfg: ModelConfig) -> None:
    """Record the checkpoint's SHA-256 and config in the ONNX model's metadata."""
    import dataclasses
    import json

    import onnx

    model = onnx.load(str(onnx_file))
    meta = {p.key: p for p in model.metadata_props}
    for key, value in (
        (META_SHA256, _file_sha256(Path(weights))),
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
    """ONNX file for ``weights``: the matching sibling ``.onnx``, else a cached export.

    The cache is filled on the first call for a checkpoint (an export takes seconds)
    and reused afterwards.
    """
    w = Path(weights)
    if not w.is_file():
        raise CheckpointError(f"checkpoint not found: {w}")
    digest = _file_sha256(w)
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


def _ort_providers(device: str, available: list[str], input_size: int) -> list[Any]:
    """Execution providers for ``device`` (CPU always last); TensorRT only on request."""
    want_cuda = device == "cuda" or (device == "auto" and "CUDAExecutionProvider" in available)
    providers: list[Any] = []
    if want_cuda:
        if (
            os.environ.get("LDL_POSE_ORT_TENSORRT") == "1"
            and "TensorrtExecutionProvider" in available
        ):
            cache = _cache_dirs()[0] / "tensorrt"
            with contextlib.suppress(OSError):
                cache.mkdir(parents=True, exist_ok=True)
            s = input_size
            providers.append((
                "TensorrtExecutionProvider",
                {
                    "trt_fp16_enable": True,
                    "trt_engine_cache_enable": True,
                    "trt_engine_cache_path": str(cache),
                    "trt_profile_min_shapes": f"{_ONNX_INPUT}:1x3x{s}x{s}",
                    "trt_profile_opt_shapes": f"{_ONNX_INPUT}:8x3x{s}x{s}",
                    "trt_profile_max_shapes": f"{_ONNX_INPUT}:{TRT_MAX_BATCH}x3x{s}x{s}",
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


#: Lower-case fragments of out-of-memory messages (torch CPU/CUDA, ONNX Runtime arenas).
_OOM_MARKERS = ("out of memory", "failed to allocate memory", "can't allocate memory",
                "cudaerrormemoryallocation", "cuda_error_out_of_memory")


def is_out_of_memory(exc: BaseException) -> bool:
    """True for an allocation failure of torch (CPU or CUDA) or ONNX Runtime."""
    oom = getattr(torch, "OutOfMemoryError", None) or getattr(torch.cuda, "OutOfMemoryError", None)
    if isinstance(exc, MemoryError) or (oom is not None and isinstance(exc, oom)):
        return True
    return any(m in str(exc).lower() for m in _OOM_MARKERS)


def _open_onnx_session(ort: Any, onnx_path: Path, options: Any, providers: list[Any]) -> Any:
    """An ONNX Runtime session, or :class:`CheckpointError` for an unreadable model file."""
    try:
        return ort.InferenceSession(str(onnx_path), options, providers=providers)
    except Exception as exc:  # noqa: BLE001 - ORT raises its own (Fail, InvalidProtobuf...)
        first = str(exc).splitlines()[0] if str(exc) else ""
        raise CheckpointError(
            f"cannot load ONNX model {onnx_path} (truncated, corrupt or not ONNX): "
            f"{type(exc).__name__}: {first}; delete it to have it exported again"
        ) from exc


def _check_onnx_signature(session: Any, cfg: ModelConfig, onnx_path: Path,
                          weights: Path) -> None:
    """Refuse an ONNX model whose input/output do not fit the checkpoint's configuration.

    Expected: one float input ``input`` ``(N, 3, S, S)`` and an output ``probs``
    ``(N, 3, num_bins)`` (``N`` symbolic or any), as :func:`export_onnx` writes.
    """
    s, bins = cfg.input_size, cfg.num_bins
    inputs = {i.name: i for i in session.get_inputs()}
    outputs = {o.name: o for o in session.get_outputs()}

    def fits(shape: Any, want: tuple[int, ...]) -> bool:
        return (
            isinstance(shape, (list, tuple))
            and len(shape) == len(want) + 1
            and all(isinstance(d, int) and d == w for d, w in zip(shape[1:], want, strict=True))
        )

    problems = []
    inp, out = inputs.get(_ONNX_INPUT), outputs.get(_ONNX_OUTPUT)
    if len(inputs) != 1 or inp is None:
        problems.append(f"inputs {sorted(inputs)} (expected one named {_ONNX_INPUT!r})")
    elif not fits(inp.shape, (3, s, s)) or inp.type != "tensor(float)":
        problems.append(f"input {inp.type} {inp.shape} (expected float (N, 3, {s}, {s}))")
    if out is None:
        problems.append(f"outputs {sorted(outputs)} (expected {_ONNX_OUTPUT!r})")
    elif not fits(out.shape, (3, bins)) or out.type != "tensor(float)":
        problems.append(f"output {out.type} {out.shape} (expected float (N, 3, {bins}))")
    if problems:
        raise CheckpointError(
            f"ONNX model {onnx_path} does not fit checkpoint {weights.name} (input size {s}, "
            f"{bins} bins): {'; '.join(problems)}; re-export it with "
            "`python -m ldl_pose_ros.model.export`"
        )


class PoseNetRunner:
    """Runs a checkpoint on preprocessed face crops (torch or ONNX Runtime).

    Args:
        weights: checkpoint written by ``save_checkpoint``.
        device: ``'auto'`` (CUDA when available), ``'cpu'`` or ``'cuda'``.
        backend: ``'auto'`` (ONNX Runtime on CPU, torch fp16 on CUDA), ``'torch'``
            or ``'onnx'``.
        threads: intra-op CPU threads (``None``: :func:`default_threads`).  For the
            torch backend this sets the process-wide ``torch.set_num_threads``.
        providers: ONNX Runtime execution providers to use (``None``: CUDA when
            the device is CUDA, preceded by TensorRT (fp16, engine cache) when the
            environment sets ``LDL_POSE_ORT_TENSORRT=1`` and onnxruntime has it;
            always CPU last).

    The network runs in ``torch.inference_mode`` (torch) or a fully optimised ORT
    session; on CUDA the torch model is fp16 and inputs go through a reused pinned
    host buffer.

    Out of memory (``torch.OutOfMemoryError``, an ONNX Runtime allocation failure):
    the batch is split in halves and ``max_batch`` lowered for later calls; when a
    single face still does not fit on the GPU the network moves to the CPU
    (float32, ``device`` becomes ``'cpu'``).  Each step issues a ``RuntimeWarning``.
    The model and checkpoint files are checked when the runner is built: a
    corrupt ONNX file, or one whose input/output shape does not fit the
    checkpoint, raises :class:`CheckpointError` and no runner is made.

    Attributes:
        config: the :class:`ModelConfig` stored in the checkpoint.
        device: ``'cpu'`` or ``'cuda'`` actually used.
        backend: ``'torch'`` or ``'onnx'`` (``'auto'`` resolved).
        threads: intra-op CPU threads in use.
        providers: ONNX Runtime providers in use (ONNX backend only).
        max_batch: largest batch run at once (``None``: any), lowered after an OOM.
    """

    def __init__(
        self,
        weights: str | Path,
        device: str = "auto",
        backend: str = "auto",
        threads: int | None = None,
        providers: list[Any] | None = None,
    ) -> None:
        if backend not in BACKENDS:
            raise ValueError(f"backend must be one of {BACKENDS}, got {backend!r}")
        self.weights = Path(weights)
        if backend == "auto":
            backend = resolve_backend(backend, device)
        self.backend = backend
        self.threads = int(threads) if threads else default_threads()
        self.providers: list[str] = []
        self._session: Any = None
        self._model: nn.Module | None = None
        self._pinned: torch.Tensor | None = None
        self._half = False
        self._session_options: Any = None
        #: Largest batch run at once (``None``: any); lowered after an out-of-memory error.
        self.max_batch: int | None = None
        if backend == "torch":
            self.device = _resolve_device(device)
            if self.device == "cpu" or threads:
                torch.set_num_threads(self.threads)
            model, cfg = load_checkpoint(self.weights, "cpu")
            self._half = self.device.startswith("cuda")
            model = model.to(self.device)
            if self._half:
                torch.backends.cudnn.benchmark = True
                model = model.half().to(memory_format=torch.channels_last)
            self._model = model.eval()
        else:
            import onnxruntime as ort

            if device not in ("auto", "cpu", "cuda"):
                raise ValueError(f"device must be 'auto', 'cpu' or 'cuda', got {device!r}")
            _, cfg = load_checkpoint(self.weights, "cpu")  # validates, gives config
            if providers is None:
                providers = _ort_providers(device, ort.get_available_providers(), cfg.input_size)
            onnx_path = cached_onnx_path(self.weights)
            so = ort.SessionOptions()
            so.intra_op_num_threads = self.threads
            so.inter_op_num_threads = 1
            so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
            so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
            if self.threads >= usable_cpus():
                # Spinning pool threads would take the cores the detector and DDS need.
                so.add_session_config_entry("session.intra_op.allow_spinning", "0")
            self._session_options = so
            session = _open_onnx_session(ort, onnx_path, so, providers)
            _check_onnx_signature(session, cfg, onnx_path, self.weights)
            self._session = session
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

    @property
    def torch_device(self) -> torch.device | None:
        """The torch device of the torch backend (``None`` for ONNX Runtime)."""
        return None if self._model is None else torch.device(self.device)

    def probabilities(self, batch: np.ndarray) -> np.ndarray:
        """Per-bin probabilities ``(N, 3, num_bins)`` float32 for a preprocessed batch."""
        x = self._check(batch)
        if x.shape[0] == 0:
            return np.zeros((0, 3, self.config.num_bins), np.float32)
        return self._infer(x)

    def probabilities_tensor(self, batch: torch.Tensor) -> np.ndarray:
        """Like :meth:`probabilities` for a torch batch already on the device (torch backend).

        Used by the estimator's on-device preprocessing (crops made on the GPU).
        """
        if self._model is None:
            raise RuntimeError("probabilities_tensor needs the torch backend")
        s = self.config.input_size
        if batch.ndim != 4 or tuple(batch.shape[1:]) != (3, s, s):
            raise ValueError(f"batch must be (N, 3, {s}, {s}), got {tuple(batch.shape)}")
        if batch.shape[0] == 0:
            return np.zeros((0, 3, self.config.num_bins), np.float32)
        return self._infer(batch)

    # -- out-of-memory recovery ---------------------------------------------------------

    def _infer(self, x: np.ndarray | torch.Tensor) -> np.ndarray:
        """Probabilities for ``x`` in batches of at most ``max_batch``, recovering from OOM."""
        n = int(x.shape[0])
        step = self.max_batch or n
        if n <= step:
            return self._infer_guarded(x)
        return np.concatenate([self._infer_guarded(x[i:i + step]) for i in range(0, n, step)])

    def _infer_guarded(self, x: np.ndarray | torch.Tensor) -> np.ndarray:
        """One batch; out of memory: halve the batch, and with one face left, go to the CPU."""
        try:
            return self._run_batch(x)
        except Exception as exc:  # noqa: BLE001 - filtered just below, others re-raised
            if not is_out_of_memory(exc):
                raise
            error = exc
        self._release_cached_memory()
        n = int(x.shape[0])
        if n > 1:
            self.max_batch = max(1, n // 2)
            warnings.warn(
                f"out of memory on {self.device} for a batch of {n} faces: running batches of "
                f"at most {self.max_batch} from now on",
                RuntimeWarning, stacklevel=3,
            )
            return self._infer(x)
        if self.device == "cpu":
            raise error
        self._fall_back_to_cpu(error)
        return self._infer(x)

    def _run_batch(self, x: np.ndarray | torch.Tensor) -> np.ndarray:
        """The network on one batch (numpy, or a torch tensor on any device)."""
        if self.backend == "onnx":
            if isinstance(x, torch.Tensor):
                x = x.detach().cpu().numpy()
            return self._session.run([_ONNX_OUTPUT], {_ONNX_INPUT: np.ascontiguousarray(x)})[0]
        assert self._model is not None
        with torch.inference_mode():
            if isinstance(x, torch.Tensor):
                return self._forward(x.to(self.device))
            t = torch.from_numpy(x)
            if self.device != "cpu":
                t = self._to_device(t)
            return self._forward(t)

    def _release_cached_memory(self) -> None:
        if self.device != "cpu" and torch.cuda.is_available():
            torch.cuda.empty_cache()

    def _fall_back_to_cpu(self, error: BaseException) -> None:
        """Move the network to the CPU (float32) after an OOM with a single face."""
        previous = self.device
        if self.backend == "torch":
            assert self._model is not None
            self._model = self._model.float().to("cpu", memory_format=torch.contiguous_format)
            self._half = False
            self._pinned = None
        else:
            import onnxruntime as ort

            self._session = _open_onnx_session(
                ort, self.onnx_path, self._session_options, ["CPUExecutionProvider"]
            )
            self.providers = list(self._session.get_providers())
        self.device = "cpu"
        self.max_batch = None
        if torch.cuda.is_available():
            torch.cuda.empty_cache()
        first = str(error).splitlines()[0] if str(error) else type(error).__name__
        warnings.warn(
            f"out of memory on {previous} even for one face ({first}): the network runs on "
            "the CPU from now on (slower); free GPU memory and restart to use the GPU again",
            RuntimeWarning, stacklevel=4,
        )

    def predict(self, batch: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Angles and per-angle standard deviations for a preprocessed batch.

        Args:
            batch: ``(N, 3, S, S)`` float32, already normalised
                (``ldl_pose_ros.core.crop.to_network_input``), ``S == config.input_size``.

        Returns:
            ``(angles, std)``: float64 ``(N, 3)`` arrays in degrees, (yaw, pitch, roll).
        """
        return self.postprocess(self.probabilities(batch))

    def postprocess(self, probs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Angles and stds ``(N, 3)`` (degrees) from bin probabilities ``(N, 3, bins)``."""
        if probs.shape[0] == 0:
            return np.zeros((0, 3)), np.zeros((0, 3))
        return expectation_and_std_np(probs, self._centers)

    def _forward(self, t: torch.Tensor) -> np.ndarray:
        assert self._model is not None
        if self._half:
            t = t.half().contiguous(memory_format=torch.channels_last)
        probs = torch.softmax(self._model(t).float(), dim=-1)
        return probs.cpu().numpy()

    def _to_device(self, t: torch.Tensor) -> torch.Tensor:
        """Host -> device copy through a reused pinned buffer (asynchronous DMA)."""
        n = t.numel()
        if self._pinned is None or self._pinned.numel() < n:
            self._pinned = torch.empty(max(n, 1), dtype=torch.float32).pin_memory()
        staging = self._pinned[:n].view(t.shape)
        staging.copy_(t)
        # Safe to reuse next call: _forward's .cpu() waits for the stream.
        return staging.to(self.device, non_blocking=True)

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
            f"input_size={self.config.input_size}, threads={self.threads})"
        )
