# Copyright 2026 The ldl_pose_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""Untrusted model files and out-of-memory recovery of the network runner.

Checkpoints: a pickle whose ``__reduce__`` runs code is refused without running
it (the same file *does* run it under a plain ``torch.load``, so the payload is
live); truncated files and any single-byte change are refused or load exactly the
saved weights (the zip container does not check its records: the checkpoint's
own content digest does); nothing is left behind (no ONNX export, no runner).
ONNX: a file whose input/output shape does not fit the checkpoint, or that is
corrupt, gives a clear ``CheckpointError``.  OOM: injected into the forward pass,
a too-large batch is split (and later batches stay small), a single face that
does not fit on the GPU moves the network to the CPU, each with a warning, and
the results are those of an undisturbed run.
"""

from __future__ import annotations

import hashlib
import os
import pickle
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ldl_pose_ros.core.estimator import HeadPoseEstimator
from ldl_pose_ros.model import LDLHeadPoseNet, ModelConfig, save_checkpoint
from ldl_pose_ros.model.checkpoint import CheckpointError, load_checkpoint, read_checkpoint
from ldl_pose_ros.model.onnx_cache import export_onnx
from ldl_pose_ros.model.runner import PoseNetRunner, is_out_of_memory

CFG = ModelConfig(backbone="mobilenetv3_small", input_size=64, width_mult=0.25)


class _Payload:
    """Pickles to a call of ``os.makedirs(marker)``: harmless, and visible if it runs."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[Callable[..., Any], tuple[str]]:
        return os.makedirs, (str(self.marker),)


@pytest.fixture(scope="module")
def cache_dir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A private ONNX export cache for this module."""
    d = tmp_path_factory.mktemp("onnx_cache")
    old = os.environ.get("LDL_POSE_CACHE_DIR")
    os.environ["LDL_POSE_CACHE_DIR"] = str(d)
    yield d
    if old is None:
        os.environ.pop("LDL_POSE_CACHE_DIR", None)
    else:
        os.environ["LDL_POSE_CACHE_DIR"] = old


@pytest.fixture(scope="module")
def ckpt(tmp_path_factory: pytest.TempPathFactory) -> Path:
    torch.manual_seed(0)
    return save_checkpoint(tmp_path_factory.mktemp("ckpt") / "m.ckpt", LDLHeadPoseNet(CFG), CFG)


@pytest.fixture(scope="module")
def batch() -> np.ndarray:
    return np.random.default_rng(0).standard_normal((7, 3, 64, 64)).astype(np.float32)


def _files(d: Path) -> list[Path]:
    return sorted(p for p in d.rglob("*") if p.is_file())


# -- code execution ---------------------------------------------------------------------


@pytest.mark.parametrize("container", ["zip", "legacy_pickle", "inside_checkpoint"])
def test_malicious_pickle_is_refused_without_running(tmp_path: Path, ckpt: Path,
                                                     container: str) -> None:
    marker = tmp_path / "payload_ran"
    bad = tmp_path / "evil.ckpt"
    if container == "zip":
        torch.save({"x": _Payload(marker)}, bad)
    elif container == "legacy_pickle":
        bad.write_bytes(pickle.dumps(_Payload(marker), protocol=2))
    else:  # a real checkpoint with a payload hidden in its extra dict
        raw = torch.load(ckpt, weights_only=True)
        raw["extra"] = {"note": _Payload(marker)}
        torch.save(raw, bad)
    for load in (lambda: load_checkpoint(bad),
                 lambda: PoseNetRunner(bad, device="cpu", backend="torch"),
                 lambda: HeadPoseEstimator(bad, device="cpu", backend="onnx", detector=None)):
        with pytest.raises(CheckpointError, match="cannot read checkpoint"):
            load()
        assert not marker.exists(), "the payload ran"
    # The payload is live: an unrestricted unpickler runs it.
    if container == "legacy_pickle":
        pickle.loads(bad.read_bytes())
    else:
        torch.load(bad, weights_only=False)
    assert marker.is_dir()


# -- truncated and modified checkpoints -------------------------------------------------


def test_truncated_checkpoint_gives_clear_error_and_no_partial_state(
    tmp_path: Path, ckpt: Path, cache_dir: Path
) -> None:
    data = ckpt.read_bytes()
    cache_before = _files(cache_dir)
    cuts = [0, 1, 64, len(data) // 3, len(data) // 2, len(data) - 100, len(data) - 1]
    for cut in cuts:
        bad = tmp_path / f"cut{cut}.ckpt"
        bad.write_bytes(data[:cut])
        with pytest.raises(CheckpointError) as err:
            load_checkpoint(bad)
        assert str(bad) in str(err.value)
        for backend in ("torch", "onnx"):
            with pytest.raises(CheckpointError):
                PoseNetRunner(bad, device="cpu", backend=backend)
    assert _files(cache_dir) == cache_before, "a failed load left an ONNX export behind"
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(f"cut{c}.ckpt" for c in cuts)


def _tensor_offset(path: Path) -> int:
    """Offset of the first byte of the largest tensor record in the zip file."""
    with zipfile.ZipFile(path) as z:
        info = max((i for i in z.infolist() if "/data/" in i.filename), key=lambda i: i.file_size)
    with open(path, "rb") as f:
        f.seek(info.header_offset + 26)
        name_len, extra_len = (int.from_bytes(f.read(2), "little") for _ in range(2))
    return info.header_offset + 30 + name_len + extra_len


def test_modified_weight_is_refused(tmp_path: Path, ckpt: Path) -> None:
    data = bytearray(ckpt.read_bytes())
    i = _tensor_offset(ckpt) + 40
    data[i] ^= 0x40
    bad = tmp_path / "edited.ckpt"
    bad.write_bytes(bytes(data))
    # torch alone does not notice: the edited weight loads.
    raw = torch.load(bad, weights_only=True)
    ref = torch.load(ckpt, weights_only=True)
    assert any(not torch.equal(v, ref["state_dict"][k]) for k, v in raw["state_dict"].items())
    with pytest.raises(CheckpointError, match="content check failed"):
        load_checkpoint(bad)
    with pytest.raises(CheckpointError, match="content check failed"):
        HeadPoseEstimator(bad, device="cpu", detector=None)


@pytest.fixture(scope="module")
def reference(ckpt: Path) -> dict[str, Any]:
    return read_checkpoint(ckpt)


@settings(max_examples=60, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(position=st.floats(0.0, 1.0, exclude_max=True), flip=st.integers(1, 255))
def test_any_single_byte_change_is_refused_or_harmless(
    tmp_path: Path, ckpt: Path, reference: dict[str, Any], position: float, flip: int
) -> None:
    data = bytearray(ckpt.read_bytes())
    i = int(position * len(data))
    data[i] ^= flip
    bad = tmp_path / "flipped.ckpt"
    bad.write_bytes(bytes(data))
    try:
        got = read_checkpoint(bad)
    except CheckpointError:
        return
    # Accepted: only bytes that do not matter changed (zip padding, extra, metadata).
    assert got["config"] == reference["config"]
    assert got["state_dict"].keys() == reference["state_dict"].keys()
    for k, v in reference["state_dict"].items():
        assert torch.equal(got["state_dict"][k], v), f"byte {i}: {k} changed silently"


# -- ONNX files -------------------------------------------------------------------------


def _set_onnx_hash(onnx_path: Path, weights: Path) -> None:
    """Record ``weights``' hash in the ONNX file, as if it had been exported from it."""
    import onnx

    from ldl_pose_ros.model.onnx_cache import META_SHA256

    model = onnx.load(str(onnx_path))
    for prop in model.metadata_props:
        if prop.key == META_SHA256:
            prop.value = hashlib.sha256(weights.read_bytes()).hexdigest()
    onnx.save(model, str(onnx_path))


def test_onnx_of_the_wrong_shape_is_refused(tmp_path: Path, ckpt: Path,
                                            cache_dir: Path) -> None:
    weights = tmp_path / "a.ckpt"
    weights.write_bytes(ckpt.read_bytes())
    other_cfg = ModelConfig(backbone="mobilenetv3_small", input_size=96, width_mult=0.25,
                            bin_step=6.0)
    other = save_checkpoint(tmp_path / "other.ckpt", LDLHeadPoseNet(other_cfg), other_cfg)
    sibling = weights.with_suffix(".onnx")
    export_onnx(other, sibling)
    _set_onnx_hash(sibling, weights)  # claims to come from a.ckpt: it is picked up
    cache_before = _files(cache_dir)
    with pytest.raises(CheckpointError, match="does not fit") as err:
        PoseNetRunner(weights, device="cpu", backend="onnx")
    msg = str(err.value)
    assert "(N, 3, 64, 64)" in msg and "96" in msg and "re-export" in msg, msg
    with pytest.raises(CheckpointError, match="does not fit"):
        HeadPoseEstimator(weights, device="cpu", backend="onnx", detector=None)
    assert _files(cache_dir) == cache_before
    # The torch backend does not use the ONNX file: the checkpoint itself is fine.
    PoseNetRunner(weights, device="cpu", backend="torch")


def test_corrupt_onnx_files(tmp_path: Path, ckpt: Path, cache_dir: Path,
                            batch: np.ndarray) -> None:
    weights = tmp_path / "b.ckpt"
    weights.write_bytes(ckpt.read_bytes())
    ref = PoseNetRunner(weights, device="cpu", backend="torch").predict(batch)[0]
    # A damaged sibling file cannot prove where it came from: ignored, with a warning.
    sibling = weights.with_suffix(".onnx")
    export_onnx(weights, sibling)
    sibling.write_bytes(sibling.read_bytes()[:500])
    with pytest.warns(UserWarning, match="ignoring it"):
        runner = PoseNetRunner(weights, device="cpu", backend="onnx")
    assert runner.onnx_path != sibling
    np.testing.assert_allclose(runner.predict(batch)[0], ref, atol=1e-3)
    # A damaged export in the (private) cache is not used: it is exported again.
    cached = runner.onnx_path
    assert cached is not None
    cached.write_bytes(cached.read_bytes()[:1000])
    sibling.unlink()
    with pytest.warns(UserWarning, match="not usable .*exported again"):
        again = PoseNetRunner(weights, device="cpu", backend="onnx")
    assert again.onnx_path == cached
    np.testing.assert_allclose(again.predict(batch)[0], ref, atol=1e-3)


# -- out of memory ----------------------------------------------------------------------


def _cuda_oom() -> BaseException:
    return torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB (GPU 0)")


def _ort_oom() -> BaseException:
    from onnxruntime.capi.onnxruntime_pybind11_state import RuntimeException

    return RuntimeException(
        "[ONNXRuntimeError] : 6 : RUNTIME_EXCEPTION : Non-zero status code returned while "
        "running Conv node. BFCArena::AllocateRawInternal Failed to allocate memory for "
        "requested buffer of size 1073741824"
    )


class _Injector:
    """Wraps ``runner._run_batch``: raises ``error()`` while ``when(runner, batch)`` holds."""

    def __init__(self, runner: PoseNetRunner, when: Callable[[PoseNetRunner, Any], bool],
                 error: Callable[[], BaseException]) -> None:
        self.runner, self.when, self.error = runner, when, error
        self.raised = 0
        self.sizes: list[int] = []
        self._orig = runner._run_batch
        runner._run_batch = self  # type: ignore[method-assign]

    def __call__(self, x: Any) -> np.ndarray:
        self.sizes.append(int(x.shape[0]))
        if self.when(self.runner, x):
            self.raised += 1
            raise self.error()
        return self._orig(x)


def test_oom_classification() -> None:
    assert is_out_of_memory(_cuda_oom()) and is_out_of_memory(_ort_oom())
    assert is_out_of_memory(MemoryError())
    assert is_out_of_memory(RuntimeError("[enforce fail] DefaultCPUAllocator: can't allocate "
                                         "memory: you tried to allocate 1 bytes"))
    assert not is_out_of_memory(RuntimeError("shape mismatch"))
    assert not is_out_of_memory(ValueError("bad batch"))


@pytest.mark.parametrize("backend", ["torch", "onnx"])
def test_oom_splits_the_batch(ckpt: Path, cache_dir: Path, batch: np.ndarray,
                              backend: str) -> None:
    runner = PoseNetRunner(ckpt, device="cpu", backend=backend)
    ref_angles, ref_stds = runner.predict(batch)
    error = _cuda_oom if backend == "torch" else _ort_oom
    inj = _Injector(runner, lambda r, x: x.shape[0] > 2, error)
    with pytest.warns(RuntimeWarning, match="batches of at most"):
        angles, stds = runner.predict(batch)
    np.testing.assert_allclose(angles, ref_angles, atol=1e-3)
    np.testing.assert_allclose(stds, ref_stds, atol=1e-3)
    assert inj.raised >= 1 and runner.max_batch is not None and runner.max_batch <= 2
    assert runner.device == "cpu"
    # Later batches are split up front: no more failures.
    inj.raised = 0
    np.testing.assert_allclose(runner.predict(batch)[0], ref_angles, atol=1e-3)
    assert inj.raised == 0 and max(inj.sizes[-4:]) <= 2


@pytest.mark.parametrize("backend", ["torch", "onnx"])
def test_oom_with_one_face_falls_back_to_cpu(ckpt: Path, cache_dir: Path, batch: np.ndarray,
                                             backend: str) -> None:
    runner = PoseNetRunner(ckpt, device="cpu", backend=backend)
    ref = runner.predict(batch)[0]
    runner.device = "cuda"  # pretend: the injected forward fails while not on the CPU
    error = _cuda_oom if backend == "torch" else _ort_oom
    inj = _Injector(runner, lambda r, x: r.device != "cpu", error)
    with pytest.warns(RuntimeWarning) as record:
        angles = runner.predict(batch)[0]
    messages = [str(w.message) for w in record]
    assert any("runs on the CPU" in m for m in messages), messages
    assert runner.device == "cpu" and runner.max_batch is None
    np.testing.assert_allclose(angles, ref, atol=1e-3)
    if backend == "onnx":
        assert runner.providers == ["CPUExecutionProvider"]
    else:
        assert all(p.device.type == "cpu" and p.dtype == torch.float32
                   for p in runner._model.parameters())  # type: ignore[union-attr]
    inj.raised = 0
    np.testing.assert_allclose(runner.predict(batch)[0], ref, atol=1e-3)
    assert inj.raised == 0


def test_other_errors_and_cpu_oom_are_not_hidden(ckpt: Path, batch: np.ndarray) -> None:
    runner = PoseNetRunner(ckpt, device="cpu", backend="torch")
    _Injector(runner, lambda r, x: True, lambda: RuntimeError("cuDNN error: bad param"))
    with pytest.raises(RuntimeError, match="cuDNN"):
        runner.predict(batch)
    assert runner.max_batch is None and runner.device == "cpu"
    runner = PoseNetRunner(ckpt, device="cpu", backend="torch")
    inj = _Injector(runner, lambda r, x: True, _cuda_oom)
    with pytest.raises(torch.OutOfMemoryError), pytest.warns(RuntimeWarning):
        runner.predict(batch)  # already on the CPU: nothing left to fall back to
    assert inj.sizes[-1] == 1


def test_estimator_survives_oom(ckpt: Path, cache_dir: Path) -> None:
    """Through the estimator the node uses: same poses, with the batch split."""
    est = HeadPoseEstimator(ckpt, device="cpu", backend="onnx", detector=None)
    img = np.random.default_rng(1).integers(0, 256, (240, 320, 3), dtype=np.uint8)
    boxes = [[10.0 + 50 * i, 20.0, 60.0 + 50 * i, 80.0] for i in range(5)]
    ref = est.estimate_boxes(img, boxes)
    _Injector(est.runner, lambda r, x: x.shape[0] > 1, _ort_oom)
    with pytest.warns(RuntimeWarning):
        got = est.estimate_boxes(img, boxes)
    np.testing.assert_allclose([f.angles for f in got], [f.angles for f in ref], atol=1e-3)


def test_estimator_device_crops_fall_back_to_cpu_crops(ckpt: Path) -> None:
    """Out of memory while cropping on the device: OpenCV crops from then on."""
    img = np.random.default_rng(2).integers(0, 256, (240, 320, 3), dtype=np.uint8)
    boxes = [[10.0, 20.0, 90.0, 100.0], [150.0, 40.0, 230.0, 120.0]]
    ref = HeadPoseEstimator(ckpt, device="cpu", backend="torch", detector=None,
                            preprocess="numpy").estimate_boxes(img, boxes)
    est = HeadPoseEstimator(ckpt, device="cpu", backend="torch", detector=None,
                            preprocess="torch")
    calls: list[int] = []

    def upload(rgb: np.ndarray, slot: int = 0) -> Any:
        calls.append(1)
        raise _cuda_oom()

    est._upload = upload  # type: ignore[method-assign]
    with pytest.warns(RuntimeWarning, match="cropping on the CPU"):
        got = est.estimate_boxes(img, boxes)
    np.testing.assert_allclose([f.angles for f in got], [f.angles for f in ref], atol=1e-3)
    est.estimate_boxes(img, boxes)
    assert calls == [1], "the device path was tried again after running out of memory"
