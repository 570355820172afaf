# Copyright 2026 The ldl_pose_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""Dataset readers, identity splits, source mixing and the torch dataset, on generated files."""

from __future__ import annotations

import numpy as np
import pytest
from _training_fixtures import (
    BIWI_K,
    make_300wlp,
    make_aflw2000,
    make_biwi,
    make_csv_folder,
    make_pointing04,
    write_image,
)

from ldl_pose_ros.core.crop import crop_faces, to_network_input
from ldl_pose_ros.core.geometry import euler_to_matrix, matrix_to_euler
from ldl_pose_ros.model.config import ModelConfig
from training.datasets import (
    PoseDataset,
    Sample,
    biwi_matrix_to_euler,
    landmark_box,
    load_rgb,
    load_source,
    loose_box,
    mix_sources,
    parse_pointing04_name,
    read_300wlp,
    read_aflw2000,
    read_biwi,
    read_csv_folder,
    read_pointing04,
    split_by_identity,
    write_csv_folder,
)


def test_landmark_box_ignores_negative_points() -> None:
    pts = np.array([[10.0, 50.0, -1.0, 30.0], [20.0, 60.0, -1.0, -3.0]])
    np.testing.assert_allclose(landmark_box(pts), [10, 20, 50, 60])
    np.testing.assert_allclose(landmark_box(pts.T), [10, 20, 50, 60])
    assert landmark_box(np.full((2, 5), -1.0)) is None


def test_loose_box_margins() -> None:
    np.testing.assert_allclose(loose_box(np.array([0, 0, 100, 50]), 0.2),
                               [-12, -20, 112, 56])


def test_read_300wlp(tmp_path) -> None:
    labels = make_300wlp(tmp_path)
    test = read_300wlp(tmp_path, train=False, margin=0.0)
    assert len(test) == 4
    by_stem = {s.name.rsplit("/", 1)[-1][:-4]: s for s in test}
    for stem, ang in labels.items():
        np.testing.assert_allclose(by_stem[stem].angles, ang, atol=1e-4)
        assert by_stem[stem].margin_range is None
    # pt2d box with the negative landmarks ignored
    np.testing.assert_allclose(by_stem["AFW_1000_1_0"].box, [20, 25, 60, 65])
    # per-view landmarks from the landmarks/ folder win over pt2d
    np.testing.assert_allclose(by_stem["AFW_1000_2_1"].box, [30, 20, 70, 60])
    assert by_stem["AFW_1000_1_1"].identity == "AFW_1000_1"
    assert len({s.identity for s in test}) == 2
    train = read_300wlp(tmp_path, train=True, margin_range=(0.1, 0.3))
    assert all(s.margin_range == (0.1, 0.3) for s in train)
    assert len(read_300wlp(tmp_path, max_abs_deg=35.0)) == 3  # yaw 40 dropped


def test_read_aflw2000_filter_and_landmarks(tmp_path) -> None:
    make_aflw2000(tmp_path)
    kept = read_aflw2000(tmp_path, margin=0.0)
    assert [s.identity for s in kept] == ["image00001", "image00002"]
    np.testing.assert_allclose(kept[0].angles, [30, 10, -5], atol=1e-4)
    np.testing.assert_allclose(kept[0].box, [20, 25, 60, 65])  # -1 entries ignored
    assert len(read_aflw2000(tmp_path, filter_large=False)) == 3
    s3 = read_aflw2000(tmp_path, landmarks="pt3d_68", margin=0.0)[0]
    np.testing.assert_allclose(s3.box, [10, 12, 70, 72])


def test_biwi_decoding_matches_geometry() -> None:
    for ang in [(20.0, -10.0, 5.0), (-60.0, 30.0, 15.0), (3.3, 7.6, -1.6)]:
        m = euler_to_matrix(*ang)
        np.testing.assert_allclose(biwi_matrix_to_euler(m), ang, atol=1e-9)
        np.testing.assert_allclose(matrix_to_euler(m), ang, atol=1e-9)


def test_read_biwi(tmp_path) -> None:
    labels = make_biwi(tmp_path)
    samples = read_biwi(tmp_path, face_size_mm=200.0, center_offset_y=0.0)
    assert len(samples) == 4
    for s in samples:
        key = f"{s.identity}/{s.name.rsplit('/', 1)[-1].replace('_rgb.png', '')}"
        np.testing.assert_allclose(s.angles, labels[key], atol=1e-6)
        # head centre (10, -8, 1000) mm projects to (53, 36); side = 500 * 200 / 1000
        np.testing.assert_allclose(s.box, [53 - 50, 36 - 50, 53 + 50, 36 + 50], atol=1e-9)
    assert {s.identity for s in read_biwi(tmp_path, persons=["2"])} == {"02"}
    assert BIWI_K[0, 0] == 500.0
    box_file = tmp_path / "ann.txt"
    box_file.write_text("#;image;tl_x;tl_y;br_x;br_y;yaw;pitch;roll;\n"
                        "db/01/frame_00000_rgb.png;1;2;30;40;0;0;0\n")
    from_file = read_biwi(tmp_path, box_file=box_file)
    assert len(from_file) == 1
    np.testing.assert_allclose(from_file[0].box, [1, 2, 30, 40])


def test_pointing04_names_and_csv(tmp_path) -> None:
    info = parse_pointing04_name("person05149+0+45.jpg")
    assert info == {"person": 5, "series": 1, "image_index": 49, "tilt": 0, "pan": 45}
    info = parse_pointing04_name("person01101-60-90")
    assert (info["tilt"], info["pan"]) == (-60, -90)
    make_pointing04(tmp_path)
    samples = read_pointing04(tmp_path, persons=[1, 3], box_scale=1.0)
    assert len(samples) == 6 and {s.identity for s in samples} == {"P01", "P03"}
    s = next(x for x in samples if x.name.endswith("-30+45.jpg"))
    np.testing.assert_allclose(s.angles[:2], [45, -30])  # yaw = pan, pitch = tilt
    np.testing.assert_allclose(s.mask, [1, 1, 0])  # roll unknown
    np.testing.assert_allclose(s.box, [33, 22, 63, 58])  # cx cy w h -> x1 y1 x2 y2
    scaled = read_pointing04(tmp_path, persons=[1], box_scale=2.0)[0]
    np.testing.assert_allclose(scaled.box, [18, 4, 78, 76])


def test_pointing04_original_layout(tmp_path) -> None:
    make_pointing04(tmp_path, with_csv=False)
    samples = read_pointing04(tmp_path, box_scale=1.0)
    assert len(samples) == 9
    s = next(x for x in samples if x.name.endswith("person02102+15-90.jpg"))
    np.testing.assert_allclose(s.angles[:2], [-90, 15])
    np.testing.assert_allclose(s.box, [33, 22, 63, 58])


def test_csv_folder_roundtrip(tmp_path) -> None:
    path = make_csv_folder(tmp_path)
    samples = read_csv_folder(path)
    assert len(samples) == 4
    assert [s.identity for s in samples] == ["p0", "p1", "p0", "p1"]
    np.testing.assert_allclose(samples[1].mask, [1, 1, 0])  # empty roll cell
    assert samples[2].weight == 0.5 and samples[0].weight == 1.0
    np.testing.assert_allclose(samples[3].angles, [15, -4, -6])
    assert len(read_csv_folder(path, min_weight=0.9)) == 3
    out = write_csv_folder(tmp_path / "copy.csv", samples)
    again = read_csv_folder(out)
    for a, b in zip(samples, again, strict=True):
        np.testing.assert_allclose(a.box, b.box)
        np.testing.assert_allclose(a.angles * a.mask, b.angles * b.mask)
        np.testing.assert_allclose(a.mask, b.mask)
        assert a.weight == b.weight


@pytest.mark.parametrize("header", [
    "file,x1,y1,x2,y2,yaw,pitch",  # roll missing
    "file,x1,y1,x2,y2,yaw,pitch,roll,score",  # unknown column
    "file,y1,x1,x2,y2,yaw,pitch,roll",  # wrong order
])
def test_csv_folder_rejects_other_columns(tmp_path, header: str) -> None:
    p = tmp_path / "bad.csv"
    p.write_text(header + "\n")
    with pytest.raises(ValueError, match="columns"):
        read_csv_folder(p)


def test_csv_folder_rejects_bad_rows(tmp_path) -> None:
    p = tmp_path / "bad.csv"
    p.write_text("file,x1,y1,x2,y2,yaw,pitch,roll\na.jpg,0,0,10,10,abc,0,0\n")
    with pytest.raises(ValueError, match=":2"):
        read_csv_folder(p)


def _samples(ids: list[str]) -> list[Sample]:
    return [Sample(f"{i}_{k}.jpg", [0, 0, 1, 1], [0, 0, 0], identity=i)
            for i in ids for k in range(3)]


def test_split_by_identity_is_disjoint() -> None:
    samples = _samples([f"id{i}" for i in range(10)])
    train, test = split_by_identity(samples, test_fraction=0.3, seed=1)
    assert {s.identity for s in train}.isdisjoint({s.identity for s in test})
    assert len({s.identity for s in test}) == 3 and len(train) + len(test) == 30
    assert split_by_identity(samples, 0.3, seed=1) == (train, test)  # seeded
    train, test = split_by_identity(samples, test_identities=["id0", "id9"])
    assert {s.identity for s in test} == {"id0", "id9"}


def test_mix_sources_shares() -> None:
    a, b = _samples(["a"]), _samples(["b", "c", "d"])
    samples, p = mix_sources([(a, 1.0), (b, 3.0), ([], 5.0)])
    assert len(samples) == 12
    np.testing.assert_allclose(p[:3].sum(), 0.25)
    np.testing.assert_allclose(p[3:].sum(), 0.75)
    np.testing.assert_allclose(p[3:], 0.75 / 9)


def test_load_source_specs(tmp_path) -> None:
    make_pointing04(tmp_path / "p04")
    s = load_source({"type": "pointing04", "root": str(tmp_path / "p04"), "persons": [2]})
    assert {x.identity for x in s} == {"P02"}
    s = load_source({"type": "pointing04", "root": str(tmp_path / "p04"),
                     "exclude_identities": [1], "limit": 2})
    assert len(s) == 2 and all(x.identity != "P01" for x in s)
    make_csv_folder(tmp_path / "c")
    assert len(load_source({"type": "csv", "root": str(tmp_path / "c")})) == 4
    with pytest.raises(ValueError, match="type"):
        load_source({"type": "nope", "root": "x"})
    with pytest.raises(ValueError, match="no samples"):
        load_source({"type": "pointing04", "root": str(tmp_path / "p04"), "persons": [9]})


def test_pose_dataset_uses_the_shared_crop(tmp_path) -> None:
    img = write_image(tmp_path / "a.png", 90, 70, seed=3)
    cfg = ModelConfig(input_size=32, crop_scale=1.3, crop_shift_y=0.05)
    s = Sample(str(img), [20, 15, 60, 55], [10, -5, 3], [1, 1, 0], 0.7, "x")
    ds = PoseDataset([s], cfg)
    x, angles, mask, weight = ds[0]
    assert x.shape == (3, 32, 32) and x.dtype.is_floating_point
    expected = to_network_input(
        crop_faces(load_rgb(str(img)), s.box[None], 32, 1.3, 0.05), cfg.mean, cfg.std)[0]
    np.testing.assert_allclose(x.numpy(), expected, atol=1e-6)
    np.testing.assert_allclose(angles.numpy(), [10, -5, 3])
    np.testing.assert_allclose(mask.numpy(), [1, 1, 0])
    assert float(weight) == pytest.approx(0.7)


def test_pose_dataset_random_margin_is_reproducible(tmp_path) -> None:
    from training.augment import AugmentConfig

    img = write_image(tmp_path / "a.png", 90, 70, seed=4)
    s = Sample(str(img), [25, 20, 55, 50], [0, 0, 0], landmark_box=[25, 20, 55, 50],
               margin_range=(0.1, 0.4))
    cfg = ModelConfig(input_size=32)
    ds = PoseDataset([s], cfg, AugmentConfig.off(), seed=5)
    a = ds.crop(0)[0]
    assert np.array_equal(a, ds.crop(0)[0])
    ds.set_epoch(1)
    assert not np.array_equal(a, ds.crop(0)[0])


def test_load_source_identity_split(tmp_path) -> None:
    make_300wlp(tmp_path / "lp")
    spec = {"type": "300wlp", "root": str(tmp_path / "lp"), "split": {"fraction": 0.5, "seed": 0}}
    train = load_source({**spec, "split": {**spec["split"], "part": "train"}})
    test = load_source({**spec, "split": {**spec["split"], "part": "test"}}, train=False)
    assert len(train) == 2 and len(test) == 2
    assert {s.identity for s in train}.isdisjoint({s.identity for s in test})
    assert all(s.margin_range is not None for s in train)
    assert all(s.margin_range is None for s in test)
