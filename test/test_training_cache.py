# Copyright 2026 The ldl_pose_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""The packed training cache: packing, reading back, crops, size budget, config ``base``."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import yaml
from _training_fixtures import face_sources_data, make_face_sources

from training import pack_cache as pc
from training.config import ConfigError, load_config
from training.datasets import cache as fmt
from training.datasets.registry import load_source
from training.datasets.torch_dataset import PoseDataset
from training.sources import load_sources

REPO = Path(__file__).resolve().parents[1]
MODEL = {"backbone": "mobilenetv3_small", "input_size": 64, "width_mult": 0.5,
         "crop_scale": 1.5, "crop_shift_y": 0.05}
AUGMENT = {"flip": 0.5, "scale_jitter": 0.15, "shift_jitter": 0.08, "rotate_p": 0.7,
           "rotate_deg": 35.0, "color_p": 0.5, "blur_p": 0.2, "erase_p": 0.3}


def _config(tmp_path: Path, ext: str = ".png", **top) -> Path:
    csvs = make_face_sources(tmp_path / "data", ext=ext)
    cfg = {
        "name": "tiny_cache", "seed": 1, "model": MODEL, "augment": AUGMENT,
        "train": {"epochs": 2, "batch_size": 4, "threads": 1, "allow_identity_overlap": True},
        "data": face_sources_data(csvs, (0.6, 0.4)),
        **top,
    }
    path = tmp_path / "tiny.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return path


def _pack(tmp_path: Path, ext: str = ".png", **kwargs) -> tuple[Path, dict]:
    path = _config(tmp_path, ext)
    out = tmp_path / "cache"
    manifest = pc.pack_cache(load_config(path), out, ext=ext, log=lambda m: None, **kwargs)
    return out, manifest


def _folder_bytes(path: Path) -> int:
    return sum(p.stat().st_size for p in path.iterdir())


def _originals(tmp_path: Path) -> dict[str, list]:
    cfg = load_config(tmp_path / "tiny.yaml")
    return {s.name: samples for s, samples in load_sources(cfg.data.train + cfg.data.val,
                                                           train=True)}


def test_packed_samples_read_back_with_their_labels(tmp_path: Path) -> None:
    out, manifest = _pack(tmp_path, box_px=1000)
    originals = _originals(tmp_path)
    images = {r["id"]: r for r in fmt._read_gz_csv(out / fmt.IMAGE_INDEX, fmt.IMAGE_COLUMNS)}
    rows = fmt._read_gz_csv(out / fmt.SAMPLE_INDEX, fmt.SAMPLE_COLUMNS)
    assert len(rows) == 6 + 6 + 2  # everything fits: both box sources and the validation
    for name, samples in originals.items():
        cached = fmt.read_cache(out, source=name)
        mine = [r for r in rows if r["source"] == name]
        assert len(cached) == len(mine) == len(samples)
        by_file = {Path(s.image).name: s for s in samples}
        for s, row in zip(cached, mine, strict=True):
            img = images[row["image"]]
            orig = by_file[Path(img["file"]).name]
            np.testing.assert_array_equal(s.angles, orig.angles)
            np.testing.assert_array_equal(s.mask, orig.mask)
            assert s.weight == orig.weight and s.identity == orig.identity
            scale = np.array([float(img["sx"]), float(img["sy"])] * 2)
            back = s.box / scale + np.array([float(img["x0"]), float(img["y0"])] * 2)
            np.testing.assert_allclose(back, orig.box, rtol=0, atol=1e-9)
            assert isinstance(s.image, bytes)
    assert any(not s.mask.all() for s in fmt.read_cache(out, source="lm"))  # roll unknown
    # The detector box and the landmark box of one image share one stored copy.
    train_rows = [r for r in rows if r["part"] == "train"]
    assert len({r["image"] for r in train_rows}) == 6
    assert manifest["parts"]["train"]["n_images"] == 6
    assert manifest["bytes"] == _folder_bytes(out)
    assert {s["name"]: s["n_samples"] for s in manifest["parts"]["train"]["sources"]} == {
        "det": 6, "lm": 6}
    # Images whose face is far from the border were cut (no image keeps its file here).
    assert manifest["parts"]["train"]["verbatim_images"] < 6


def _crop_differences(tmp_path: Path, out: Path) -> list[tuple[float, int]]:
    """Cache crop vs original crop, for 4 epochs of augmented crops of every packed sample.

    One ``(share of differing values, largest difference)`` per crop.
    """
    cfg = load_config(tmp_path / "tiny.yaml")
    model = cfg.model_config()
    originals = _originals(tmp_path)
    files = [Path(r["file"]).name for r in fmt._read_gz_csv(out / fmt.IMAGE_INDEX,
                                                            fmt.IMAGE_COLUMNS)]
    result = []
    for name in ("det", "lm", "val"):
        cached = fmt.read_cache(out, source=name)
        by_file = {Path(s.image).name: s for s in originals[name]}
        rows = [r for r in fmt._read_gz_csv(out / fmt.SAMPLE_INDEX, fmt.SAMPLE_COLUMNS)
                if r["source"] == name]
        aligned = [by_file[files[int(r["image"])]] for r in rows]
        augment = None if name == "val" else cfg.augment
        a = PoseDataset(aligned, model, augment, seed=5)
        b = PoseDataset(cached, model, augment, seed=5)
        for epoch in range(4):
            a.set_epoch(epoch)
            b.set_epoch(epoch)
            for i in range(len(a)):
                ca, aa, ma = a.crop(i)
                cb, ab, mb = b.crop(i)
                np.testing.assert_array_equal(aa, ab)
                np.testing.assert_array_equal(ma, mb)
                diff = np.abs(ca.astype(int) - cb.astype(int))
                result.append((float((diff > 0).mean()), int(diff.max())))
    return result


def test_cached_crops_equal_the_crops_of_the_original_images(tmp_path: Path,
                                                              monkeypatch: pytest.MonkeyPatch
                                                              ) -> None:
    """Lossless cuts with the margin of the augmentation: every augmented crop is the same.

    Up to OpenCV's fixed-point interpolation (positions are quantised to 1/32 pixel, so
    the same position in a shifted image can round the other way): a few values by a
    grey level or two.  A margin too small for the augmentation (the control) gives
    replicated borders instead: whole rows of the crop differ.
    """
    out, _ = _pack(tmp_path, box_px=1000)
    diffs = _crop_differences(tmp_path, out)
    assert len(diffs) == 4 * 14
    assert max(share for share, _ in diffs) < 0.01
    assert max(d for _, d in diffs) <= 4
    assert sum(share == 0 for share, _ in diffs) > len(diffs) / 2
    monkeypatch.setattr(pc, "crop_reach", lambda model, augment: 0.8)
    small = tmp_path / "small_margin"
    pc.pack_cache(load_config(tmp_path / "tiny.yaml"), small, ext=".png", box_px=1000,
                  log=lambda m: None)
    assert max(share for share, _ in _crop_differences(tmp_path, small)) > 0.05


def test_jpeg_cuts_are_close_and_large_faces_are_shrunk(tmp_path: Path) -> None:
    out, manifest = _pack(tmp_path, ext=".jpg", box_px=24)
    cfg = load_config(tmp_path / "tiny.yaml")
    rows = fmt._read_gz_csv(out / fmt.IMAGE_INDEX, fmt.IMAGE_COLUMNS)
    assert all(float(r["sx"]) < 1 and r["verbatim"] == "0" for r in rows)  # faces of 30-55 px
    for s in fmt.read_cache(out, source="lm"):  # the smaller of the two boxes of an image
        assert max(s.box[2] - s.box[0], s.box[3] - s.box[1]) == pytest.approx(24, abs=0.5)
    assert manifest["geometry"]["box_px"] == {"train": 24, "val": 24}
    # At the default resolution the JPEG cut gives nearly the crop of the original.
    out2 = tmp_path / "cache2"
    pc.pack_cache(cfg, out2, log=lambda m: None)
    original = PoseDataset(_originals(tmp_path)["val"], cfg.model_config(), None)
    cached = PoseDataset(fmt.read_cache(out2, source="val"), cfg.model_config(), None)
    by_name = {Path(s.image).name: i for i, s in enumerate(original.samples)}
    files = [Path(r["file"]).name for r in fmt._read_gz_csv(out2 / fmt.IMAGE_INDEX,
                                                            fmt.IMAGE_COLUMNS)]
    for i, row in enumerate(r for r in fmt._read_gz_csv(out2 / fmt.SAMPLE_INDEX,
                                                         fmt.SAMPLE_COLUMNS)
                            if r["source"] == "val"):
        diff = np.abs(original.crop(by_name[files[int(row["image"])]])[0].astype(int)
                      - cached.crop(i)[0].astype(int))
        assert diff.mean() < 3.0


def test_size_budget_and_mixing_proportions(tmp_path: Path) -> None:
    full, _ = _pack(tmp_path, box_px=1000)
    per_image = _folder_bytes(full) / 8  # 6 training + 2 validation images
    budget_mb = (3.5 * per_image + 20000) / 2**20  # room for about three training images
    out = tmp_path / "small"
    manifest = pc.pack_cache(load_config(tmp_path / "tiny.yaml"), out, max_mb=budget_mb,
                             val_share=0.0, ext=".png", box_px=1000, log=lambda m: None)
    assert _folder_bytes(out) == manifest["bytes"] <= budget_mb * 2**20
    train = manifest["parts"]["train"]
    assert 0 < train["n_images"] < 6 and manifest["parts"]["val"]["n_samples"] == 0
    counts = {s["name"]: s["n_samples"] for s in train["sources"]}
    assert counts["det"] == counts["lm"] == train["n_images"]  # each image brings both boxes
    assert {s["name"]: s["n_available"] for s in train["sources"]} == {"det": 6, "lm": 6}
    with pytest.raises(ValueError, match="nothing fits|pretrained"):
        pc.pack_cache(load_config(tmp_path / "tiny.yaml"), tmp_path / "none", max_mb=0.001,
                      log=lambda m: None)


def test_mixing_weights_decide_the_next_source(tmp_path: Path) -> None:
    """Sources that do not share images fill in the proportions of their weights."""
    csvs = make_face_sources(tmp_path / "a", n_images=9, n_val=0)
    other = make_face_sources(tmp_path / "b", n_images=9, n_val=0)
    cfg = yaml.safe_load(_config(tmp_path).read_text())
    cfg["data"] = {"train": [
        {"type": "csv", "name": "a", "root": str(csvs["det"]), "weight": 2.0},
        {"type": "csv", "name": "b", "root": str(other["det"]), "weight": 1.0}], "val": []}
    path = tmp_path / "mix.yaml"
    path.write_text(yaml.safe_dump(cfg))
    full = pc.pack_cache(load_config(path), tmp_path / "full", ext=".png", box_px=1000,
                         log=lambda m: None)
    per_image = full["parts"]["train"]["bytes"] / 18
    out = tmp_path / "mix"
    manifest = pc.pack_cache(load_config(path), out, max_mb=(6.5 * per_image + 20000) / 2**20,
                             ext=".png", box_px=1000, log=lambda m: None)
    counts = {s["name"]: s["n_samples"] for s in manifest["parts"]["train"]["sources"]}
    assert counts["a"] + counts["b"] >= 4
    assert abs(counts["a"] - 2 * counts["b"]) <= 2


def test_damaged_or_unknown_caches_are_refused(tmp_path: Path) -> None:
    out, _ = _pack(tmp_path)
    with pytest.raises(ValueError, match="no packed source 'nope'.*det, lm, val"):
        fmt.read_cache(out, source="nope")
    with pytest.raises(ValueError, match="not a training cache"):
        fmt.read_cache(tmp_path / "data")
    blob = bytearray((out / fmt.IMAGES).read_bytes())
    blob[100] ^= 0xFF
    (out / fmt.IMAGES).write_bytes(bytes(blob))
    manifest = json.loads((out / fmt.MANIFEST).read_text())
    (out / fmt.MANIFEST).write_text(json.dumps(manifest))  # a new stamp: read again
    with pytest.raises(ValueError, match="SHA-256 differs"):
        fmt.read_cache(out, source="det")


def test_validation_only_data_is_never_packed(tmp_path: Path) -> None:
    path = _config(tmp_path)
    raw = yaml.safe_load(path.read_text())
    dev = tmp_path / "aflw2000_dev"
    (tmp_path / "data").rename(dev)
    for part in ("train", "val"):
        for s in raw["data"][part]:
            s["root"] = s["root"].replace(str(tmp_path / "data"), str(dev))
    path.write_text(yaml.safe_dump(raw))
    with pytest.raises(ValueError, match="validation-only"):
        pc.pack_cache(load_config(path), tmp_path / "c", log=lambda m: None)


def test_command_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = _config(tmp_path)
    out = tmp_path / "cli"
    assert pc.main(["--config", str(path), "--out", str(out), "--max-mb", "5"]) == 0
    printed = capsys.readouterr().out
    assert "train: 12 samples on 6 images" in printed and "det" in printed
    assert pc.main(["--config", str(path), "--out", str(out)]) == 2  # holds a cache
    assert pc.main(["--config", str(path), "--out", str(out), "--force"]) == 0
    assert pc.main(["--config", str(path), "--out", str(tmp_path / "data")]) == 2  # not a cache
    assert (tmp_path / "data" / "det.csv").is_file()  # left alone
    assert not list(tmp_path.glob(".pack_*"))


def test_cache_sources_in_a_config(tmp_path: Path) -> None:
    out, _ = _pack(tmp_path)
    spec = {"type": "cache", "root": str(out), "source": "lm"}
    assert len(load_source(spec)) == 6
    cfg = {"name": "c", "model": MODEL, "data": {"train": [{**spec, "bogus": 1}]}}
    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump(cfg))
    with pytest.raises(ConfigError, match="unknown key bogus for a cache source"):
        load_config(path)


def test_config_base_is_merged_under_the_file(tmp_path: Path) -> None:
    base = _config(tmp_path)
    child = tmp_path / "sub" / "child.yaml"
    child.parent.mkdir()
    child.write_text(yaml.safe_dump({"base": "../tiny.yaml", "name": "child",
                                     "train": {"batch_size": 8}}))
    cfg = load_config(child)
    parent = load_config(base)
    assert cfg.name == "child" and cfg.train.batch_size == 8
    assert cfg.train.epochs == parent.train.epochs and cfg.model == parent.model
    assert cfg.data == parent.data
    loop = tmp_path / "loop.yaml"
    loop.write_text(yaml.safe_dump({"base": "loop.yaml"}))
    with pytest.raises(ConfigError, match="extends itself"):
        load_config(loop)


def test_gpu_config_trains_the_default_model_on_its_packed_data() -> None:
    configs = REPO / "training" / "configs"
    gpu, default = (load_config(configs / f"{n}.yaml") for n in ("default_model_gpu",
                                                               "default_model"))
    assert gpu.model_config() == default.model_config()
    assert gpu.augment == default.augment and gpu.schedule == default.schedule
    for part in ("train", "val"):
        mine, theirs = getattr(gpu.data, part), getattr(default.data, part)
        assert [(s.name, s.weight) for s in mine] == [(s.name, s.weight) for s in theirs]
        assert all(s.type == "cache" and s.options["source"] == s.name for s in mine)
    assert gpu.pretrained == f"cache/{Path(str(default.pretrained)).name}"
    assert gpu.train.max_minutes and gpu.train.normalise_on_device and gpu.train.amp
