"""lablib.mixtures: the ring of Gaussians and its mode count, against SciPy and closed forms.

The nearest-centre assignment is checked against ``scipy.spatial.distance.cdist``; the
share of true samples within 3 std is the closed form ``1 - exp(-9/2)`` of a 2D Gaussian
(tolerance: 4 binomial standard errors).
"""

import numpy as np
import pytest
from scipy.spatial.distance import cdist

from lablib import mixtures


def test_centers_are_evenly_spaced_on_the_circle():
    c = mixtures.ring_centers(8, radius=2.0)
    assert c.shape == (8, 2)
    np.testing.assert_allclose(np.linalg.norm(c, axis=1), 2.0, atol=1e-12)
    np.testing.assert_allclose(c[0], [2.0, 0.0], atol=1e-12)
    np.testing.assert_allclose(c[2], [0.0, 2.0], atol=1e-12)  # counter-clockwise, 45 degrees apart
    gaps = np.linalg.norm(c - np.roll(c, 1, axis=0), axis=1)
    np.testing.assert_allclose(gaps, 2 * 2.0 * np.sin(np.pi / 8), atol=1e-12)
    with pytest.raises(ValueError):
        mixtures.ring_centers(0)


def test_samples_are_seeded_float32_and_spread_over_the_modes():
    a, b = mixtures.sample_ring(5000, seed=3), mixtures.sample_ring(5000, seed=3)
    assert a.shape == (5000, 2) and a.dtype == np.float32
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, mixtures.sample_ring(5000, seed=4))
    nearest = cdist(a, mixtures.ring_centers(8)).argmin(axis=1)
    share = np.bincount(nearest, minlength=8) / len(a)
    assert np.all(np.abs(share - 1 / 8) < 4 * np.sqrt(1 / 8 * 7 / 8 / len(a)))
    offsets = a - mixtures.ring_centers(8)[nearest]
    assert abs(offsets.std() - 0.02) < 0.001


def test_true_samples_cover_every_mode_with_the_closed_form_quality():
    x = mixtures.sample_ring(20000, seed=0, std=0.05, radius=1.0, n_modes=6)
    cov = mixtures.mode_coverage(x, std=0.05, radius=1.0, n_modes=6)
    p = 1 - np.exp(-4.5)  # P(|N(0, s^2 I_2)| <= 3 s): a Rayleigh tail
    assert cov["covered"] == 6 and cov["n"] == 20000 and len(cov["counts"]) == 6
    assert abs(cov["high_quality"] - p) < 4 * np.sqrt(p * (1 - p) / len(x))


def test_counts_match_a_scipy_nearest_centre_assignment():
    rng = np.random.default_rng(1)
    x = rng.uniform(-2.5, 2.5, size=(3000, 2))
    d = cdist(x, mixtures.ring_centers(8))
    good = d.min(axis=1) <= 0.3
    expected = np.bincount(d.argmin(axis=1)[good], minlength=8)
    cov = mixtures.mode_coverage(x, std=0.1, min_share=0.0)
    assert cov["counts"] == expected.tolist()
    assert cov["high_quality"] == pytest.approx(good.mean())
    assert cov["covered"] == int(np.sum(expected > 0))


def test_a_collapsed_generator_covers_one_mode_and_far_samples_none():
    centers = mixtures.ring_centers(8)
    collapsed = centers[5] + 0.01 * np.random.default_rng(0).normal(size=(1000, 2))
    cov = mixtures.mode_coverage(collapsed)
    assert cov["covered"] == 1 and cov["counts"][5] == 1000 and sum(cov["counts"]) == 1000
    assert mixtures.mode_coverage(np.zeros((100, 2)))["covered"] == 0  # the centre of the ring
    assert mixtures.mode_coverage(np.zeros((100, 2)))["high_quality"] == 0.0


def test_min_share_decides_when_a_few_samples_make_a_mode():
    centers = mixtures.ring_centers(8)
    x = np.concatenate([np.repeat(centers[:1], 990, axis=0), np.repeat(centers[1:2], 10, axis=0)])
    assert mixtures.mode_coverage(x, min_share=0.01)["covered"] == 2  # 10 of 1000 = 1%
    assert mixtures.mode_coverage(x, min_share=0.02)["covered"] == 1
    with pytest.raises(ValueError):
        mixtures.mode_coverage(np.zeros((5, 3)))
