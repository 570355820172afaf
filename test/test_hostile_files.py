# Copyright 2026 The ldl_pose_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""Files trusted by their name (issue 15): checkpoints, their digest, the ONNX export cache.

A checkpoint needs its content digest (a legacy file loads only when asked to); a
compressed (zip-bomb) or oversized checkpoint is refused without being expanded;
every ONNX model, shipped beside the checkpoint or cached, is compared with the
checkpoint's own network before it is used; the cache lives in a folder private
to the user (mode 0700) and never falls back to a shared temporary folder;
``training/ship_model.py`` writes the digest and the matching ONNX file.
"""

from __future__ import annotations

import json
import os
import stat
import tempfile
import warnings
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch
from _hostile import LEGACY_ENV, MARKER, TEMP_PREFIX, nan_checkpoint

from ldl_pose_ros.model import LDLHeadPoseNet, ModelConfig, PoseNetRunner, save_checkpoint
from ldl_pose_ros.model.checkpoint import CheckpointError, read_checkpoint
from ldl_pose_ros.model.onnx_cache import META_SHA256, export_onnx, file_sha256
from ldl_pose_ros.resources import DEFAULT_WEIGHTS

#: The largest checkpoint read (README: 1 GiB).
MAX_CHECKPOINT_BYTES = 1 << 30


def _tiny(path: Path, seed: int) -> Path:
    torch.manual_seed(seed)
    cfg = ModelConfig(input_size=64, width_mult=0.25)
    net = LDLHeadPoseNet(cfg)
    with torch.no_grad():  # distinct outputs per seed (random features are near zero)
        for head in net.heads:
            head.weight.normal_(0.0, 0.5)
            head.bias.normal_(0.0, 2.0)
    return save_checkpoint(path, net.eval(), cfg)


@pytest.fixture()
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    d = tmp_path / "cache" / "onnx"
    monkeypatch.setenv("LDL_POSE_CACHE_DIR", str(d))
    monkeypatch.setenv(LEGACY_ENV, "0")
    return d


def _batch(seed: int = 3) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal((4, 3, 64, 64)).astype(np.float32)


def test_documented_names() -> None:
    from ldl_pose_ros.core import output_paths
    from ldl_pose_ros.model import checkpoint

    assert (output_paths.MARKER, output_paths.TEMP_PREFIX) == (MARKER, TEMP_PREFIX)
    assert checkpoint.LEGACY_ENV == LEGACY_ENV
    assert checkpoint.MAX_CHECKPOINT_BYTES == MAX_CHECKPOINT_BYTES


# -- the digest ------------------------------------------------------------------------------


def test_shipped_checkpoint_carries_its_digest() -> None:
    if not DEFAULT_WEIGHTS.is_file():
        pytest.skip("no shipped default checkpoint")
    raw = torch.load(DEFAULT_WEIGHTS, weights_only=True)
    assert isinstance(raw.get("sha256"), str) and len(raw["sha256"]) == 64
    assert read_checkpoint(DEFAULT_WEIGHTS, allow_legacy=False)["sha256"] == raw["sha256"]


def test_missing_digest_is_an_error_with_an_explicit_opt_out(tmp_path: Path, cache: Path,
                                                             monkeypatch: pytest.MonkeyPatch
                                                             ) -> None:
    good = _tiny(tmp_path / "good.ckpt", 0)
    raw = torch.load(good, weights_only=True)
    del raw["sha256"]
    legacy = tmp_path / "legacy.ckpt"
    torch.save(raw, legacy)
    with pytest.raises(CheckpointError, match="no content digest.*model.stamp"):
        read_checkpoint(legacy)
    with pytest.raises(CheckpointError, match="no content digest"):
        PoseNetRunner(legacy, device="cpu", backend="onnx")
    assert read_checkpoint(legacy, allow_legacy=True)["sha256"] is None
    monkeypatch.setenv(LEGACY_ENV, "1")
    PoseNetRunner(legacy, device="cpu", backend="torch")
    monkeypatch.setenv(LEGACY_ENV, "0")
    # Stamping a trusted legacy file: same config and tensors, now with the digest.
    from ldl_pose_ros.model.stamp import main as stamp_main

    stamped = tmp_path / "stamped.ckpt"
    assert stamp_main([str(legacy), str(stamped)]) == 0
    a, b = read_checkpoint(good), read_checkpoint(stamped)
    assert a["sha256"] == b["sha256"]
    assert all(torch.equal(a["state_dict"][k], b["state_dict"][k]) for k in a["state_dict"])
    assert stamp_main([str(legacy), str(legacy)]) == 2  # never in place


def test_any_training_checkpoint_loads_with_its_digest(tmp_path: Path) -> None:
    """Nothing is tied to one model: every ModelConfig saved by the package loads."""
    for k, cfg in enumerate((ModelConfig(input_size=64, width_mult=0.25),
                             ModelConfig(input_size=96, width_mult=0.25, bin_step=6.0,
                                         crop_scale=1.2, meta={"anything": [1, 2]}))):
        p = save_checkpoint(tmp_path / f"{k}.ckpt", LDLHeadPoseNet(cfg), cfg, half=bool(k))
        assert read_checkpoint(p, allow_legacy=False)["config"] == cfg


def test_compressed_checkpoint_is_not_expanded(tmp_path: Path, cache: Path) -> None:
    good = _tiny(tmp_path / "good.ckpt", 0)
    bomb = tmp_path / "deflated.ckpt"
    with zipfile.ZipFile(good) as zin, zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED) as zout:
        for info in zin.infolist():
            zout.writestr(info.filename, zin.read(info.filename), zipfile.ZIP_DEFLATED)
    with pytest.raises(CheckpointError, match="cannot read checkpoint .* is compressed"):
        read_checkpoint(bomb)


def test_oversized_checkpoint_is_refused_before_reading(tmp_path: Path) -> None:
    big = tmp_path / "big.ckpt"
    with open(big, "wb") as f:
        f.write(b"PK\x03\x04")
        f.truncate(MAX_CHECKPOINT_BYTES + 1)
    with pytest.raises(CheckpointError, match="more than any checkpoint"):
        read_checkpoint(big)


# -- ONNX models are checked by their results -----------------------------------------------


def _plant(onnx_from: Path, at: Path, claims: Path) -> None:
    """Export ``onnx_from`` to ``at``, recording the hash of ``claims`` (as a planted file)."""
    import onnx

    export_onnx(onnx_from, at)
    model = onnx.load(str(at))
    for prop in model.metadata_props:
        if prop.key == META_SHA256:
            prop.value = file_sha256(claims)
    onnx.save(model, str(at))


def test_planted_cache_entry_is_not_used(tmp_path: Path, cache: Path) -> None:
    weights = _tiny(tmp_path / "w.ckpt", 0)
    other = _tiny(tmp_path / "other.ckpt", 1)  # same shapes, other weights
    ref = PoseNetRunner(weights, device="cpu", backend="torch").predict(_batch())[0]
    planted = PoseNetRunner(weights, device="cpu", backend="onnx").onnx_path
    assert planted is not None and planted.parent == cache  # the export cache entry
    _plant(other, planted, claims=weights)
    with pytest.warns(UserWarning, match="not usable .*differ"):
        runner = PoseNetRunner(weights, device="cpu", backend="onnx")
    np.testing.assert_allclose(runner.predict(_batch())[0], ref, atol=1e-3)
    assert runner.onnx_path == planted  # replaced by a true export


def test_planted_sibling_is_refused(tmp_path: Path, cache: Path) -> None:
    weights = _tiny(tmp_path / "w.ckpt", 0)
    other = _tiny(tmp_path / "other.ckpt", 1)
    _plant(other, weights.with_suffix(".onnx"), claims=weights)
    with pytest.raises(CheckpointError, match="claims to be exported from .*differ"):
        PoseNetRunner(weights, device="cpu", backend="onnx")


def test_cache_folder_is_private(tmp_path: Path, cache: Path) -> None:
    weights = _tiny(tmp_path / "w.ckpt", 0)
    runner = PoseNetRunner(weights, device="cpu", backend="onnx")
    assert runner.onnx_path is not None and runner.onnx_path.parent == cache
    assert stat.S_IMODE(cache.stat().st_mode) == 0o700
    assert not runner.onnx_path.stat().st_mode & 0o077
    cache.chmod(0o777)  # an existing folder of this user is made private again
    PoseNetRunner(weights, device="cpu", backend="onnx")
    assert stat.S_IMODE(cache.stat().st_mode) == 0o700


def test_no_shared_fallback_when_the_cache_cannot_be_private(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    weights = _tiny(tmp_path / "w.ckpt", 0)
    monkeypatch.setenv(LEGACY_ENV, "0")
    not_a_dir = tmp_path / "file"
    not_a_dir.write_text("x")
    tmp_before = set(os.listdir(tempfile.gettempdir()))
    for cache in (not_a_dir, not_a_dir / "sub"):
        monkeypatch.setenv("LDL_POSE_CACHE_DIR", str(cache))
        with pytest.warns(UserWarning, match="cache not used"):
            runner = PoseNetRunner(weights, device="cpu", backend="onnx")
        assert runner.onnx_path is None  # exported in memory
        ref = PoseNetRunner(weights, device="cpu", backend="torch").predict(_batch())[0]
        np.testing.assert_allclose(runner.predict(_batch())[0], ref, atol=1e-3)
    if os.geteuid() == 0:  # a folder owned by another user is not used
        foreign = tmp_path / "foreign"
        foreign.mkdir(mode=0o700)
        os.chown(foreign, 65534, 65534)
        monkeypatch.setenv("LDL_POSE_CACHE_DIR", str(foreign))
        with pytest.warns(UserWarning, match="not private"):
            assert PoseNetRunner(weights, device="cpu", backend="onnx").onnx_path is None
        assert list(foreign.iterdir()) == []
    new = set(os.listdir(tempfile.gettempdir())) - tmp_before
    assert not [n for n in new if "ldl_pose" in n and "pytest" not in n], new


# -- network outputs -------------------------------------------------------------------------


def test_non_finite_outputs_are_refused_and_counted(tmp_path: Path, cache: Path) -> None:
    from ldl_pose_ros.core.estimator import HeadPoseEstimator
    from ldl_pose_ros.resources import DEMO_IMAGE

    weights = nan_checkpoint(tmp_path / "nan.ckpt")
    import cv2

    img = cv2.imread(str(DEMO_IMAGE))
    for backend in ("torch", "onnx"):
        est = HeadPoseEstimator(weights, device="cpu", backend=backend, detector=None)
        poses, timing = est.estimate_timed(img, boxes=[[176, 70, 272, 172], [10, 10, 90, 90]])
        assert poses == [] and timing.refused == 2 and est.refused_outputs == 2, backend


# -- ship_model ------------------------------------------------------------------------------


def test_ship_model_writes_digest_json_and_checked_onnx(tmp_path: Path, cache: Path) -> None:
    from training.ship_model import ship

    src = _tiny(tmp_path / "best.ckpt", 0)
    out = tmp_path / "weights" / "default.ckpt"
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        meta = ship(src, out, None, None)
    raw = torch.load(out, weights_only=True)
    assert raw["sha256"] == meta["sha256"] and raw["dtype"] == "float16"
    assert read_checkpoint(out, allow_legacy=False)["sha256"] == meta["sha256"]
    assert json.loads(out.with_suffix(".json").read_text())["meta"]["source_checkpoint"] == \
        "best.ckpt"
    runner = PoseNetRunner(out, device="cpu", backend="onnx")
    assert runner.onnx_path == out.with_suffix(".onnx")
    with pytest.raises(ValueError, match="is the input"):
        ship(out, out, None, None)
