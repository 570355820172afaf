# Copyright 2026 The ldl_pose_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""The single inference path: checkpoint -> (angles, std) for a batch of crops.

Both backends compute bin probabilities (torch: the network + softmax; ONNX:
an exported graph whose output is the same softmax) and then share one numpy
post-processing step (expectation and standard deviation over the bin
centres, float64), so they agree to float32 rounding.

The ONNX graph comes from :mod:`ldl_pose_ros.model.onnx_cache` (the file shipped
beside the checkpoint, or an export cached by the checkpoint's hash).

Backend ``'auto'`` (the default): ONNX Runtime on CPU (measured several times
faster than eager torch for the small default model, see ``bench/``), torch with
fp16 on CUDA.  Threads: ``threads=None`` picks :func:`default_threads` for the
machine.
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import torch
from torch import nn

from ldl_pose_ros.model.angles import convert_std
from ldl_pose_ros.model.checkpoint import load_checkpoint
from ldl_pose_ros.model.config import ModelConfig
from ldl_pose_ros.model.distribution import (
    average_with_mirror_np,
    bin_centers_np,
    bins_are_symmetric,
    converted_median_np,
    expectation_and_std_np,
)
from ldl_pose_ros.model.onnx_cache import (
    INPUT_NAME,
    OUTPUT_NAME,
    Provider,
    open_onnx_session,
    open_verified_session,
    ort_providers,
)
from ldl_pose_ros.resources import DEFAULT_MIRROR_AVERAGE

if TYPE_CHECKING:
    import onnxruntime

BACKENDS = ("auto", "torch", "onnx")


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


def _resolve_device(device: str) -> str:
    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device not in ("cpu", "cuda") and not device.startswith("cuda:"):
        raise ValueError(f"device must be 'auto', 'cpu' or 'cuda', got {device!r}")
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise RuntimeError("device 'cuda' requested but CUDA is not available to torch")
    return device


#: Lower-case fragments of out-of-memory messages (torch CPU/CUDA, ONNX Runtime arenas).
_OOM_MARKERS = ("out of memory", "failed to allocate memory", "can't allocate memory",
                "cudaerrormemoryallocation", "cuda_error_out_of_memory")


def is_out_of_memory(exc: BaseException) -> bool:
    """True for an allocation failure of torch (CPU or CUDA) or ONNX Runtime."""
    oom = getattr(torch, "OutOfMemoryError", None) or getattr(torch.cuda, "OutOfMemoryError", None)
    if isinstance(exc, MemoryError) or (oom is not None and isinstance(exc, oom)):
        return True
    return any(m in str(exc).lower() for m in _OOM_MARKERS)


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
        mirror_average: run every crop together with its mirror image (one batch of
            twice the faces) and average the two distributions, the mirror's yaw and
            roll read backwards: predictions that are exactly mirror-consistent, at
            twice the network's cost.  Needs bins symmetric about 0.
        spinning: let ONNX Runtime's intra-op threads spin between parallel sections
            (its default).  With more than one thread this is the fast setting for a
            network that runs alone (here 1.5-1.8 ms at 2 threads with mirror
            averaging, against 2.5-3.1 ms without spinning, slower than 1 thread);
            pass False where other threads need the cores between network calls
            (the node's detector: ``core.pipeline.build_estimator`` does so when the
            network's threads take every core).

    The network runs in ``torch.inference_mode`` (torch) or a fully optimised ORT
    session; on CUDA the torch model is fp16 and inputs go through a reused pinned
    host buffer.

    Out of memory (``torch.OutOfMemoryError``, an ONNX Runtime allocation failure):
    the batch is split in halves and ``max_batch`` lowered for later calls; when a
    single face still does not fit on the GPU the network moves to the CPU
    (float32, ``device`` becomes ``'cpu'``).  Each step issues a ``RuntimeWarning``.
    The model and checkpoint files are checked when the runner is built: a
    corrupt ONNX file, or one whose input/output shape or results do not fit the
    checkpoint, raises :class:`CheckpointError` and no runner is made (a cached
    export that does not fit is exported again; see
    :func:`~ldl_pose_ros.model.onnx_cache.open_verified_session`).

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
        providers: list[Provider] | None = None,
        mirror_average: bool = DEFAULT_MIRROR_AVERAGE,
        spinning: bool = True,
    ) -> None:
        if backend not in BACKENDS:
            raise ValueError(f"backend must be one of {BACKENDS}, got {backend!r}")
        self.weights = Path(weights)
        if backend == "auto":
            backend = resolve_backend(backend, device)
        self.backend = backend
        self.threads = int(threads) if threads else default_threads()
        self.providers: list[str] = []
        self._session: onnxruntime.InferenceSession | None = None
        self._model: nn.Module | None = None
        self._pinned: torch.Tensor | None = None
        self._half = False
        self._session_options: onnxruntime.SessionOptions | None = None
        self._onnx_source: Path | bytes | None = None
        #: The ONNX file in use (None: torch backend, or exported in memory).
        self.onnx_path: Path | None = None
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
                # (Module.to takes memory_format; torch's stubs do not list it.)
                model = model.half().to(memory_format=torch.channels_last)  # type: ignore[call-overload]
            self._model = model.eval()
        else:
            import onnxruntime as ort

            if device not in ("auto", "cpu", "cuda"):
                raise ValueError(f"device must be 'auto', 'cpu' or 'cuda', got {device!r}")
            net, cfg = load_checkpoint(self.weights, "cpu")  # validates, gives config
            if providers is None:
                providers = ort_providers(device, ort.get_available_providers(), cfg.input_size)
            so = ort.SessionOptions()
            so.intra_op_num_threads = self.threads
            so.inter_op_num_threads = 1
            so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
            so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
            if not spinning:
                so.add_session_config_entry("session.intra_op.allow_spinning", "0")
            self._session_options = so
            session, source = open_verified_session(self.weights, net, cfg, so, providers)
            del net  # only needed to check the ONNX model's results
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
            self._onnx_source = source
            self.onnx_path = source if isinstance(source, Path) else None
        self.config: ModelConfig = cfg
        self._centers = bin_centers_np(cfg)
        if mirror_average and not bins_are_symmetric(cfg):
            raise ValueError(f"mirror_average needs bins symmetric about 0; {self.weights.name} "
                             f"has {cfg.bin_min}..{cfg.bin_max}")
        #: Whether each crop's distribution is averaged with its mirror's.
        self.mirror_average = bool(mirror_average)

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
        n = x.shape[0]
        if n == 0:
            return np.zeros((0, 3, self.config.num_bins), np.float32)
        if not self.mirror_average:
            return self._infer(x)
        probs = self._infer(np.concatenate([x, x[..., ::-1]]))
        return average_with_mirror_np(probs[:n], probs[n:])

    def probabilities_tensor(self, batch: torch.Tensor) -> np.ndarray:
        """Like :meth:`probabilities` for a torch batch already on the device (torch backend).

        Used by the estimator's on-device preprocessing (crops made on the GPU).
        """
        if self._model is None and self.backend == "torch":
            raise RuntimeError(f"the network of {self.weights.name} was released (close())")
        if self._model is None:
            raise RuntimeError("probabilities_tensor needs the torch backend")
        s = self.config.input_size
        if batch.ndim != 4 or tuple(batch.shape[1:]) != (3, s, s):
            raise ValueError(f"batch must be (N, 3, {s}, {s}), got {tuple(batch.shape)}")
        n = int(batch.shape[0])
        if n == 0:
            return np.zeros((0, 3, self.config.num_bins), np.float32)
        if not self.mirror_average:
            return self._infer(batch)
        probs = self._infer(torch.cat([batch, batch.flip(-1)]))
        return average_with_mirror_np(probs[:n], probs[n:])

    # -- out-of-memory recovery ---------------------------------------------------------

    def close(self) -> None:
        """Release the network (session or module), its buffers and cached GPU memory.

        The runner cannot be used afterwards; build a new one.
        """
        self._session = None
        self._model = None
        self._pinned = None
        self._release_cached_memory()

    @property
    def closed(self) -> bool:
        """True once :meth:`close` released the network."""
        return self._session is None and self._model is None

    def _infer(self, x: np.ndarray | torch.Tensor) -> np.ndarray:
        """Probabilities for ``x`` in batches of at most ``max_batch``, recovering from OOM."""
        if self.closed:
            raise RuntimeError(f"the network of {self.weights.name} was released (close())")
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
            assert self._session is not None
            probs: np.ndarray = self._session.run(
                [OUTPUT_NAME], {INPUT_NAME: np.ascontiguousarray(x)})[0]
            return probs
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
            self._model = self._model.float().to(  # type: ignore[call-overload]
                "cpu", memory_format=torch.contiguous_format)
            self._half = False
            self._pinned = None
        else:
            assert self._session_options is not None and self._onnx_source is not None
            self._session = open_onnx_session(
                self._onnx_source, self._session_options, ["CPUExecutionProvider"]
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
        """Angles and stds ``(N, 3)`` (degrees) from bin probabilities ``(N, 3, bins)``.

        Always in the dataset convention.  A model whose bins use the head convention
        (``config.angle_convention``) is converted here (:mod:`ldl_pose_ros.model.angles`):
        the angles are the per-angle medians of its distribution carried over to the
        dataset convention (:func:`converted_median_np`), the stds its stds carried over
        through the conversion's Jacobian at its expectation.
        """
        if probs.shape[0] == 0:
            return np.zeros((0, 3)), np.zeros((0, 3))
        mean, std = expectation_and_std_np(probs, self._centers)
        src = self.config.angle_convention
        if src != "dataset":
            std = convert_std(mean, std, src, "dataset")
            mean = converted_median_np(probs, self._centers, src, "dataset")
        return mean, std

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
            f"input_size={self.config.input_size}, threads={self.threads}, "
            f"mirror_average={self.mirror_average})"
        )
