# Copyright 2026 The ldl_pose_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""Pointing'04 written as recordings: images, camera_info and ground truth that reads back."""

from __future__ import annotations

import numpy as np
from _training_fixtures import make_pointing04

from ldl_pose_ros.bag import io
from ldl_pose_ros.bag.messages import pose_to_arrays
from ldl_pose_ros.core import geometry
from ldl_pose_ros.core.camera import nominal_intrinsics
from ldl_pose_ros.core.placement import network_angles
from training.datasets.pointing04 import read_pointing04
from training.pointing04_bags import GT_TOPIC, IMAGE_TOPIC, INFO_TOPIC, main


def test_series_bag_holds_the_images_and_their_labels(tmp_path) -> None:
    make_pointing04(tmp_path / "p04")
    assert main(["--root", str(tmp_path / "p04"), "--persons", "1", "2", "--series", "1",
                 "--out", str(tmp_path / "bags"), "--fps", "4", "--person-gap", "3"]) == 0
    samples = [s for s in read_pointing04(tmp_path / "p04", persons=[1, 2])]
    with io.BagReader(tmp_path / "bags" / "series1") as bag:
        assert {t: bag.topics[t].count for t in (IMAGE_TOPIC, INFO_TOPIC, GT_TOPIC)} == {
            IMAGE_TOPIC: 6, INFO_TOPIC: 6, GT_TOPIC: 6}
        images = [io.deserialize(m.data, m.msgtype) for m in bag.messages([IMAGE_TOPIC])]
        gts = [io.deserialize(m.data, m.msgtype) for m in bag.messages([GT_TOPIC])]
    stamps = [io.stamp_seconds(m.header.stamp) for m in images]
    np.testing.assert_allclose(np.diff(stamps), [0.25, 0.25, 3.25, 0.25, 0.25])
    for img, gt, s in zip(images, gts, samples, strict=True):
        assert bytes(img.data) == open(s.image, "rb").read()  # the original JPEG
        assert gt.header.stamp == img.header.stamp and gt.header.frame_id == img.header.frame_id
        p, q = pose_to_arrays(gt.pose)
        intr = nominal_intrinsics(96, 80, 60.0)
        c = intr.normalized((s.box[0] + s.box[2]) / 2, (s.box[1] + s.box[3]) / 2)
        got = network_angles(geometry.quaternion_to_matrix(q), c)
        np.testing.assert_allclose(got, [s.angles[0], s.angles[1], 0.0], atol=1e-6)
        assert p[2] > 0
    assert main(["--root", str(tmp_path / "p04"), "--out", str(tmp_path / "bags"),
                 "--series", "1"]) == 2  # exists: refused without --force
