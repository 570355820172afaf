# Copyright 2026 The ldl_pose_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""Bins, Gaussian label distributions, expectation and spread."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from ldl_pose_ros.model import (
    ModelConfig,
    bin_centers,
    bin_centers_np,
    bin_index,
    expectation_and_std,
    expectation_and_std_np,
    gaussian_labels,
    gaussian_labels_np,
)


def test_bin_centers_default_layout() -> None:
    cfg = ModelConfig()
    c = bin_centers_np(cfg)
    assert cfg.num_bins == 66
    assert c.shape == (66,)
    assert c[0] == pytest.approx(-97.5)
    assert c[-1] == pytest.approx(97.5)
    np.testing.assert_allclose(np.diff(c), 3.0)
    np.testing.assert_allclose(bin_centers(cfg).numpy(), c, atol=1e-6)


def test_bin_centers_custom_layout() -> None:
    cfg = ModelConfig(bin_min=-90, bin_max=90, bin_step=1)
    c = bin_centers_np(cfg)
    assert c.shape == (180,) and c[0] == -89.5 and c[-1] == 89.5


def test_bin_index_and_clamp() -> None:
    cfg = ModelConfig()
    a = torch.tensor([[-99.0, -97.6, 0.0], [0.1, 98.9, 150.0]])
    idx = bin_index(a, cfg)
    assert idx.tolist() == [[0, 0, 33], [33, 65, 65]]
    assert int(bin_index(torch.tensor([-300.0]), cfg)) == 0


@pytest.mark.parametrize(("sigma", "step"), [(1.0, 1.0), (3.0, 3.0), (6.0, 3.0), (2.0, 1.0)])
def test_labels_normalised_mean_and_spread(sigma: float, step: float) -> None:
    cfg = ModelConfig(sigma=sigma, bin_step=step)
    c = bin_centers(cfg)
    angles = torch.tensor([[0.0, 12.3, -40.7], [55.5, -1.4, 20.0]])
    lab = gaussian_labels(angles, c, sigma)
    assert lab.shape == (2, 3, cfg.num_bins)
    torch.testing.assert_close(lab.sum(-1), torch.ones(2, 3))
    assert bool((lab >= 0).all())
    mean, std = expectation_and_std(lab.double(), c.double())
    torch.testing.assert_close(mean, angles.double(), atol=2e-3, rtol=0)
    # A Gaussian sampled at spacing <= sigma keeps its mean and variance.
    torch.testing.assert_close(std, torch.full_like(std, sigma), atol=1e-3, rtol=0)


def test_labels_narrower_than_bins_are_biased() -> None:
    """A sigma much below bin_step degenerates to near one-hot labels (documented limitation)."""
    cfg = ModelConfig(sigma=0.5, bin_step=3.0)
    c = bin_centers(cfg)
    mean, _ = expectation_and_std(gaussian_labels(torch.tensor([[1.0, 0.0, 0.0]]), c, 0.5), c)
    assert abs(float(mean[0, 0]) - 1.0) > 0.1


def test_labels_truncated_at_range_edges() -> None:
    cfg = ModelConfig(sigma=6.0)
    c = bin_centers(cfg)
    angles = torch.tensor([[98.0, -98.0, 0.0]])
    lab = gaussian_labels(angles, c, cfg.sigma)
    torch.testing.assert_close(lab.sum(-1), torch.ones(1, 3))
    mean, std = expectation_and_std(lab, c)
    # Truncation pulls the mean inside the range and narrows the spread.
    assert 90.0 < float(mean[0, 0]) < 98.0
    assert -98.0 < float(mean[0, 1]) < -90.0
    assert float(std[0, 0]) < 6.0 and float(std[0, 2]) == pytest.approx(6.0, abs=1e-3)
    # Renormalised truncated Gaussian: equals the full one restricted to the bins.
    full = np.exp(-0.5 * ((bin_centers_np(cfg) - 98.0) / 6.0) ** 2)
    np.testing.assert_allclose(lab[0, 0].numpy(), full / full.sum(), atol=1e-6)


def test_labels_far_outside_range_are_finite() -> None:
    cfg = ModelConfig()
    lab = gaussian_labels(torch.tensor([[400.0, -400.0, 0.0]]), bin_centers(cfg), 1.0)
    assert bool(torch.isfinite(lab).all())
    assert float(lab[0, 0, -1]) == pytest.approx(1.0)
    assert float(lab[0, 1, 0]) == pytest.approx(1.0)


def test_numpy_matches_torch() -> None:
    cfg = ModelConfig()
    rng = np.random.default_rng(0)
    angles = rng.uniform(-90, 90, (5, 3))
    lab_t = gaussian_labels(torch.tensor(angles), bin_centers(cfg), 3.0).numpy()
    lab_n = gaussian_labels_np(angles, bin_centers_np(cfg), 3.0)
    np.testing.assert_allclose(lab_t, lab_n, atol=1e-6)
    m_t, s_t = expectation_and_std(torch.tensor(lab_n), torch.tensor(bin_centers_np(cfg)))
    m_n, s_n = expectation_and_std_np(lab_n, bin_centers_np(cfg))
    np.testing.assert_allclose(m_t.numpy(), m_n, atol=1e-9)
    np.testing.assert_allclose(s_t.numpy(), s_n, atol=1e-9)


def test_expectation_and_std_exact() -> None:
    c = torch.tensor([-1.0, 0.0, 1.0, 2.0])
    p = torch.tensor([[0.0, 1.0, 0.0, 0.0], [0.5, 0.0, 0.5, 0.0], [0.25, 0.25, 0.25, 0.25]])
    mean, std = expectation_and_std(p, c)
    torch.testing.assert_close(mean, torch.tensor([0.0, 0.0, 0.5]))
    torch.testing.assert_close(std, torch.tensor([0.0, 1.0, 1.25**0.5]), atol=1e-5, rtol=0)


def test_sigma_must_be_positive() -> None:
    with pytest.raises(ValueError):
        gaussian_labels(torch.zeros(1, 3), bin_centers(ModelConfig()), 0.0)


def _peaked(angles: np.ndarray, centers: np.ndarray, sigma: float) -> np.ndarray:
    return np.stack([gaussian_labels_np(a, centers, sigma) for a in angles])


def test_converted_median_follows_the_conversion_and_the_mirror() -> None:
    from ldl_pose_ros.model.angles import convert_angles
    from ldl_pose_ros.model.distribution import converted_median_np

    centers = np.arange(-97.5, 99.0, 3.0)
    head = np.array([[10.0, -5.0, 3.0], [40.0, 20.0, -10.0], [75.0, 10.0, 5.0],
                     [-80.0, -30.0, 0.0]])
    # narrow distributions: the median is the converted angle (up to the bin grid)
    probs = _peaked(head, centers, 1.0)
    med = converted_median_np(probs, centers, "head", "dataset")
    np.testing.assert_allclose(med, convert_angles(head, "head", "dataset"), atol=1.5)
    # mirrored distributions: exactly negated yaw and roll, the same pitch
    mirrored = probs.copy()
    mirrored[:, 0], mirrored[:, 2] = probs[:, 0, ::-1], probs[:, 2, ::-1]
    back = converted_median_np(mirrored, centers, "head", "dataset")
    np.testing.assert_allclose(back, med * np.array([-1.0, 1.0, -1.0]), atol=1e-4)
    # a wide distribution at a profile: the median stays inside the range of the
    # converted grid, and no jump between neighbouring poses
    wide = _peaked(np.array([[80.0, 15.0, 0.0], [81.0, 15.0, 0.0]]), centers, 8.0)
    a, b = converted_median_np(wide, centers, "head", "dataset")
    assert np.all(np.abs(a - b) < 3.0), (a, b)
