# Copyright 2026 The ldl_pose_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""PoseNetRunner: torch and ONNX Runtime backends agree; ONNX export and caching."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from ldl_pose_ros.model import (
    CheckpointError,
    LDLHeadPoseNet,
    ModelConfig,
    PoseNetRunner,
    cached_onnx_path,
    export_onnx,
    save_checkpoint,
)


@pytest.fixture(scope="module")
def weights(tmp_path_factory: pytest.TempPathFactory) -> Path:
    torch.manual_seed(1)
    cfg = ModelConfig(input_size=48, width_mult=0.5)
    net = LDLHeadPoseNet(cfg)
    with torch.no_grad():  # calibrate BN statistics, sharpen heads: informative outputs
        for m in net.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.momentum = None
        net.train()(torch.randn(16, 3, 48, 48))
        for head in net.heads:
            head.weight.normal_(0, 1.0)
            head.bias.normal_(0, 1.0)
    path = tmp_path_factory.mktemp("w") / "small.ckpt"
    save_checkpoint(path, net.eval(), cfg)
    return path


@pytest.fixture(autouse=True)
def _cache_dir(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LDL_POSE_CACHE_DIR", str(tmp_path_factory.getbasetemp() / "onnx_cache"))


def _batch(n: int, size: int = 48, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal((n, 3, size, size)).astype(np.float32)


def test_torch_runner_basic(weights: Path) -> None:
    r = PoseNetRunner(weights, device="cpu", backend="torch", threads=1)
    assert r.device == "cpu" and r.backend == "torch"
    assert r.config.input_size == 48 and r.input_size == 48
    ang, std = r.predict(_batch(3))
    assert ang.shape == (3, 3) and std.shape == (3, 3)
    assert ang.dtype == np.float64
    assert np.all(np.abs(ang) < 99) and np.all(std > 0)
    assert np.ptp(ang[:, 0]) > 0.01  # inputs differ -> outputs differ


def test_onnx_matches_torch(weights: Path) -> None:
    rt = PoseNetRunner(weights, device="cpu", backend="torch")
    ro = PoseNetRunner(weights, device="cpu", backend="onnx", threads=1)
    assert ro.backend == "onnx" and ro.device == "cpu"
    assert "CPUExecutionProvider" in ro.providers
    for n in (1, 5):  # dynamic batch
        x = _batch(n, seed=n)
        at, st = rt.predict(x)
        ao, so = ro.predict(x)
        np.testing.assert_allclose(ao, at, atol=1e-3)
        np.testing.assert_allclose(so, st, atol=1e-3)
    pt, po = rt.probabilities(_batch(2)), ro.probabilities(_batch(2))
    assert po.shape == (2, 3, 66)
    np.testing.assert_allclose(po.sum(-1), 1.0, atol=1e-5)
    np.testing.assert_allclose(po, pt, atol=1e-5)


def test_onnx_cache_reused(weights: Path) -> None:
    p1 = cached_onnx_path(weights)
    mtime = p1.stat().st_mtime_ns
    p2 = cached_onnx_path(weights)
    assert p1 == p2 and p2.stat().st_mtime_ns == mtime


def test_export_onnx_file(weights: Path, tmp_path: Path) -> None:
    import onnx

    out = export_onnx(weights, tmp_path / "m.onnx")
    model = onnx.load(str(out))
    onnx.checker.check_model(model)
    inp, outp = model.graph.input[0], model.graph.output[0]
    assert inp.name == "input" and outp.name == "probs"
    assert inp.type.tensor_type.shape.dim[0].dim_param  # dynamic batch
    assert [d.dim_value for d in outp.type.tensor_type.shape.dim[1:]] == [3, 66]


def test_empty_batch_and_shape_errors(weights: Path) -> None:
    r = PoseNetRunner(weights, device="cpu")
    a, s = r.predict(np.zeros((0, 3, 48, 48), np.float32))
    assert a.shape == (0, 3) and s.shape == (0, 3)
    with pytest.raises(ValueError):
        r.predict(np.zeros((1, 3, 64, 64), np.float32))
    with pytest.raises(ValueError):
        r.predict(np.zeros((3, 48, 48), np.float32))
    a, _ = r.predict(_batch(1).astype(np.float64))  # cast to float32
    assert a.shape == (1, 3)


def test_bad_arguments(weights: Path, tmp_path: Path) -> None:
    with pytest.raises(ValueError):
        PoseNetRunner(weights, backend="tensorflow")
    with pytest.raises(ValueError):
        PoseNetRunner(weights, device="tpu")
    with pytest.raises(CheckpointError):
        PoseNetRunner(tmp_path / "missing.ckpt")
    with pytest.raises(CheckpointError):
        PoseNetRunner(tmp_path / "missing.ckpt", backend="onnx")
    if not torch.cuda.is_available():
        with pytest.raises(RuntimeError):
            PoseNetRunner(weights, device="cuda")


def test_auto_device(weights: Path) -> None:
    r = PoseNetRunner(weights, device="auto")
    assert r.device == ("cuda" if torch.cuda.is_available() else "cpu")
    assert "PoseNetRunner(" in repr(r)


@pytest.mark.parametrize("backend", ["torch", "onnx"])
def test_mirror_average_is_exactly_mirror_consistent(weights: Path, backend: str) -> None:
    x = _batch(4, seed=3)
    plain = PoseNetRunner(weights, device="cpu", backend=backend, threads=1,
                          mirror_average=False)
    avg = PoseNetRunner(weights, device="cpu", backend=backend, threads=1, mirror_average=True)
    a, sa = avg.predict(x)
    b, sb = avg.predict(np.ascontiguousarray(x[..., ::-1]))
    # the mirrored crops: yaw and roll negated, pitch and every std the same
    np.testing.assert_allclose(b, a * np.array([-1.0, 1.0, -1.0]), atol=1e-4)
    np.testing.assert_allclose(sb, sa, atol=1e-4)
    # without averaging the (untrained) network is far from that, and the average is
    # the mean of the two distributions
    p, q = plain.probabilities(x), plain.probabilities(np.ascontiguousarray(x[..., ::-1]))
    pb, _ = plain.predict(np.ascontiguousarray(x[..., ::-1]))
    assert np.abs(pb[:, 0] + plain.predict(x)[0][:, 0]).max() > 0.1
    expected = 0.5 * (p + np.concatenate([q[:, :1, ::-1], q[:, 1:2], q[:, 2:, ::-1]], axis=1))
    np.testing.assert_allclose(avg.probabilities(x), expected, atol=1e-5)


def test_mirror_average_needs_symmetric_bins(tmp_path: Path) -> None:
    cfg = ModelConfig(input_size=48, width_mult=0.5, bin_min=-90.0, bin_max=99.0)
    path = tmp_path / "asym.ckpt"
    save_checkpoint(path, LDLHeadPoseNet(cfg).eval(), cfg)
    with pytest.raises(ValueError, match="symmetric"):
        PoseNetRunner(path, device="cpu", backend="torch", threads=1, mirror_average=True)
    assert not PoseNetRunner(path, device="cpu", backend="torch", threads=1,
                             mirror_average=False).mirror_average


def test_spinning_thread_pools_are_a_choice_of_the_caller(
        weights: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """ONNX Runtime's pool spins by default (a network alone), not when asked.

    The node detects beside the network: build_estimator turns spinning off when the
    network's threads take every core.  Both sessions give the same results.
    """
    from ldl_pose_ros.core import pipeline
    from ldl_pose_ros.core.params import DEFAULTS
    from ldl_pose_ros.model import runner as runner_mod

    def allow_spinning(options: object) -> str | None:
        try:
            return options.get_session_config_entry("session.intra_op.allow_spinning")
        except RuntimeError:  # not set: ONNX Runtime's default, spinning
            return None

    spin = PoseNetRunner(weights, device="cpu", backend="onnx", threads=2)
    still = PoseNetRunner(weights, device="cpu", backend="onnx", threads=2, spinning=False)
    assert allow_spinning(spin._session_options) != "0"
    assert allow_spinning(still._session_options) == "0"
    x = _batch(3)
    np.testing.assert_array_equal(spin.probabilities(x), still.probabilities(x))

    monkeypatch.setattr(runner_mod, "usable_cpus", lambda: 2)
    for threads, entry in ((2, "0"), (1, None)):
        params = DEFAULTS.replace(weights=str(weights), threads=threads, backend="onnx",
                                  device="cpu", detector="haar")
        est = pipeline.build_estimator(params, warm_up=False)
        got = allow_spinning(est.runner._session_options)
        assert (got == "0") == (entry == "0"), (threads, got)
