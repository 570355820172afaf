# Copyright 2026 The ldl_pose_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""The network's Euler conventions (dataset, head) and the conversions between them."""

from __future__ import annotations

import numpy as np
import pytest

from ldl_pose_ros.core.geometry import euler_to_matrix, flip_euler, geodesic_deg
from ldl_pose_ros.model.angles import (
    MAX_ANGLE_STD,
    convert_angles,
    convert_std,
    head_euler_to_matrix,
    matrix_to_dataset_euler,
    matrix_to_head_euler,
)

RNG = np.random.default_rng(7)
ANGLES = np.column_stack([RNG.uniform(-99, 99, 500), RNG.uniform(-70, 70, 500),
                          RNG.uniform(-70, 70, 500)])


def test_head_convention_round_trip_and_same_rotation() -> None:
    head = convert_angles(ANGLES, "dataset", "head")
    assert np.all(geodesic_deg(head_euler_to_matrix(*head.T), euler_to_matrix(*ANGLES.T)) < 1e-4)
    back = convert_angles(head, "head", "dataset")
    assert np.all(geodesic_deg(euler_to_matrix(*back.T), euler_to_matrix(*ANGLES.T)) < 1e-4)
    np.testing.assert_allclose(matrix_to_head_euler(head_euler_to_matrix(*head.T)), head,
                               atol=1e-9)


def test_conventions_agree_for_small_angles_and_about_single_axes() -> None:
    for a in ([5.0, -3.0, 2.0], [-8.0, 6.0, -4.0]):
        np.testing.assert_allclose(convert_angles(np.array(a), "dataset", "head"), a, atol=1.0)
    for a in ([60.0, 0.0, 0.0], [0.0, 40.0, 0.0], [0.0, 0.0, 30.0]):
        np.testing.assert_allclose(convert_angles(np.array(a), "dataset", "head"), a, atol=1e-9)


def test_profile_tilted_in_the_image_is_small_in_the_head_convention() -> None:
    # A yaw-80 face turned 10 degrees in the image plane: huge dataset pitch and roll.
    tilted = matrix_to_dataset_euler(euler_to_matrix(0.0, 0.0, 10.0) @ euler_to_matrix(80.0, 0, 0))
    assert abs(tilted[1]) > 40 and abs(tilted[2]) > 40
    head = convert_angles(tilted, "dataset", "head")
    assert abs(head[0] - 80.0) < 1.0 and abs(head[1]) < 11.0 and abs(head[2]) < 3.0


def test_mirror_negates_yaw_and_roll_in_both_conventions() -> None:
    head = convert_angles(ANGLES, "dataset", "head")
    flipped = np.stack(flip_euler(*ANGLES.T), -1)
    np.testing.assert_allclose(convert_angles(flipped, "dataset", "head"),
                               head * np.array([-1.0, 1.0, -1.0]), atol=1e-9)


def test_dataset_branch_keeps_yaw_beyond_90_with_small_pitch_and_roll() -> None:
    np.testing.assert_allclose(matrix_to_dataset_euler(euler_to_matrix(95.0, 10.0, 5.0)),
                               [95.0, 10.0, 5.0], atol=1e-9)
    np.testing.assert_allclose(matrix_to_dataset_euler(euler_to_matrix(-30.0, 10.0, 5.0)),
                               [-30.0, 10.0, 5.0], atol=1e-9)


def test_std_propagation() -> None:
    a = np.array([[10.0, 5.0, 3.0], [80.0, 0.0, 0.0]])
    s = np.full((2, 3), 3.0)
    out = convert_std(a, s, "head", "dataset")
    np.testing.assert_allclose(out[0], 3.0, atol=0.2)  # near frontal: unchanged
    # Near the dataset convention's singularity pitch and roll become uncertain.
    assert out[1, 1] > 10.0 and out[1, 2] > 10.0 and abs(out[1, 0] - 3.0) < 0.5
    np.testing.assert_array_equal(convert_std(a, s, "head", "head"), s)
    # At the singularity itself the first-order figure would exceed "anywhere": capped.
    wide = convert_std(np.array([[89.9, 0.0, 0.0]]), np.full((1, 3), 20.0), "head", "dataset")
    assert wide[0, 1] == MAX_ANGLE_STD and wide[0, 2] == MAX_ANGLE_STD


def test_unknown_convention_is_refused() -> None:
    with pytest.raises(ValueError, match="angle convention"):
        convert_angles(ANGLES, "dataset", "quaternion")


def test_runner_outputs_the_dataset_convention(tmp_path) -> None:
    """A head-convention checkpoint predicts dataset-convention angles."""
    torch = pytest.importorskip("torch")
    from ldl_pose_ros.model import LDLHeadPoseNet, ModelConfig, PoseNetRunner, save_checkpoint
    from ldl_pose_ros.model.distribution import bin_centers_np

    cfg = ModelConfig(backbone="mobilenetv3_small", input_size=32, width_mult=0.25,
                      angle_convention="head")
    torch.manual_seed(0)
    path = save_checkpoint(tmp_path / "head.ckpt", LDLHeadPoseNet(cfg), cfg)
    runner = PoseNetRunner(path, device="cpu", backend="torch")
    centers = bin_centers_np(cfg)
    head = np.array([79.5, 10.5, 1.5])  # on bin centres
    probs = np.zeros((1, 3, cfg.num_bins))
    for k in range(3):
        probs[0, k, int(np.argmin(np.abs(centers - head[k])))] = 1.0
    mean, std = runner.postprocess(probs)
    expect = convert_angles(head, "head", "dataset")
    np.testing.assert_allclose(mean[0], expect, atol=1e-6)
    assert abs(mean[0, 1]) > 30.0  # the dataset convention's coupled pitch at yaw ~80
    assert np.all(np.isfinite(std))
