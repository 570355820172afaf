# Copyright 2026 The ldl_pose_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""The ONNX file shipped beside a checkpoint: written, verified, used, and ignored when stale."""

from __future__ import annotations

import warnings
from pathlib import Path

import pytest
import torch

from ldl_pose_ros.model import LDLHeadPoseNet, ModelConfig, PoseNetRunner, save_checkpoint
from ldl_pose_ros.model.export import main as export_main
from ldl_pose_ros.model.export import verify_onnx
from ldl_pose_ros.model.onnx_cache import (
    META_SHA256,
    file_sha256,
    onnx_weights_sha256,
    sibling_onnx_path,
)
from ldl_pose_ros.resources import DEFAULT_WEIGHTS


def _tiny(path: Path, seed: int) -> Path:
    torch.manual_seed(seed)
    cfg = ModelConfig(input_size=48, width_mult=0.25)
    net = LDLHeadPoseNet(cfg)
    with torch.no_grad():
        for head in net.heads:
            head.weight.normal_(0.0, 0.5)
    return save_checkpoint(path, net.eval(), cfg)


@pytest.fixture()
def cache_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    d = tmp_path / "cache"
    monkeypatch.setenv("LDL_POSE_CACHE_DIR", str(d))
    return d


def test_export_writes_sibling_that_the_runner_uses(tmp_path: Path, cache_dir: Path) -> None:
    ckpt = _tiny(tmp_path / "m.ckpt", 0)
    assert export_main(["--weights", str(ckpt)]) == 0
    onnx_file = sibling_onnx_path(ckpt)
    assert onnx_file == tmp_path / "m.onnx" and onnx_file.is_file()
    assert onnx_weights_sha256(onnx_file) == file_sha256(ckpt)
    assert verify_onnx(ckpt, onnx_file) < 1e-3
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        runner = PoseNetRunner(ckpt, device="cpu", backend="onnx", threads=1)
    assert runner.onnx_path == onnx_file
    assert not cache_dir.exists(), "a matching shipped ONNX file needs no export"
    assert export_main(["--weights", str(ckpt), "--check-only"]) == 0


def test_stale_sibling_is_ignored(tmp_path: Path, cache_dir: Path) -> None:
    ckpt = _tiny(tmp_path / "m.ckpt", 0)
    assert export_main(["--weights", str(ckpt)]) == 0
    _tiny(ckpt, 1)  # the checkpoint changes; the ONNX file beside it is now stale
    with pytest.raises(ValueError, match="hash"):
        verify_onnx(ckpt, sibling_onnx_path(ckpt))
    assert export_main(["--weights", str(ckpt), "--check-only"]) == 1
    with pytest.warns(UserWarning, match="not exported from"):
        runner = PoseNetRunner(ckpt, device="cpu", backend="onnx", threads=1)
    assert runner.onnx_path.parent == cache_dir
    assert onnx_weights_sha256(runner.onnx_path) == file_sha256(ckpt)


def test_auto_backend_is_onnx_on_cpu(tmp_path: Path, cache_dir: Path) -> None:
    ckpt = _tiny(tmp_path / "m.ckpt", 0)
    runner = PoseNetRunner(ckpt, device="cpu")
    assert runner.backend == "onnx" and runner.threads >= 1


def test_shipped_default_onnx_matches_checkpoint() -> None:
    if not DEFAULT_WEIGHTS.is_file():
        pytest.skip("no shipped default checkpoint yet")
    onnx_file = sibling_onnx_path(DEFAULT_WEIGHTS)
    assert onnx_file.is_file(), (
        f"{onnx_file.name} is missing: run `python -m ldl_pose_ros.model.export`"
    )
    assert onnx_weights_sha256(onnx_file) is not None, f"{onnx_file} has no {META_SHA256}"
    assert verify_onnx(DEFAULT_WEIGHTS, onnx_file) < 1e-3


def test_facemesh_prelu_exports_without_the_prelu_op(tmp_path: Path, cache_dir: Path) -> None:
    """PReLU leaves the graph as Clip/Mul/Add (ONNX Runtime's PRelu is slow).

    The export still matches torch, and the shipped default file is of that kind too.
    """
    import onnx
    import onnxruntime as ort

    from ldl_pose_ros.model.onnx_cache import export_onnx_bytes

    torch.manual_seed(0)
    cfg = ModelConfig(backbone="facemesh", input_size=64)
    net = LDLHeadPoseNet(cfg).eval()
    with torch.no_grad():  # negative inputs to every PReLU, with slopes unlike the default
        for m in net.modules():
            if isinstance(m, torch.nn.PReLU):
                m.weight.uniform_(-0.5, 0.9)
    ckpt = save_checkpoint(tmp_path / "fm.ckpt", net, cfg)
    data = export_onnx_bytes(ckpt)
    ops = {n.op_type for n in onnx.load_model_from_string(data).graph.node}
    assert "PRelu" not in ops and "Clip" in ops
    x = torch.randn(3, 3, 64, 64)
    sess = ort.InferenceSession(data, providers=["CPUExecutionProvider"])
    got = sess.run(None, {"input": x.numpy()})[0]
    with torch.no_grad():
        ref = torch.softmax(net(x), dim=-1).numpy()
    assert abs(got - ref).max() < 1e-5
    shipped = sibling_onnx_path(DEFAULT_WEIGHTS)
    if shipped.is_file():
        assert "PRelu" not in {n.op_type for n in onnx.load(str(shipped)).graph.node}
