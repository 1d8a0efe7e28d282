"""Lab 15 (variational autoencoders): the numbers the lab states, from third-party code.

The KL divergence is computed here by numerical integration (scipy.integrate.quad) and
by Monte Carlo with scipy.stats densities, never with the lab's closed-form exercise; the
Bernoulli reconstruction term with Keras's binary cross-entropy; the quantile grid with
scipy.stats.norm; the Inception score with scipy.stats.entropy; the architecture's shapes
and parameter counts with Keras. Tolerances are stated per test.
"""

import os

import numpy as np
import pytest
import scipy.integrate
import scipy.stats

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
keras = pytest.importorskip("keras")
layers = keras.layers


def kl_quad(mu, sigma):
    """KL(N(mu, sigma^2) || N(0, 1)) by numerical integration of q log(q / p)."""
    q, p = scipy.stats.norm(mu, sigma), scipy.stats.norm(0, 1)
    value, _ = scipy.integrate.quad(lambda z: q.pdf(z) * (q.logpdf(z) - p.logpdf(z)),
                                    mu - 12 * sigma, mu + 12 * sigma, points=[mu], limit=200)
    return value


def test_kl_special_cases_in_the_lab():
    # the prior itself: 0; mean 1, sigma 1: 1/2; mean 0, sigma 2: (4 - 1 - log 4) / 2 = 0.8069
    assert kl_quad(0.0, 1.0) == pytest.approx(0.0, abs=1e-10)
    assert kl_quad(1.0, 1.0) == pytest.approx(0.5, rel=1e-8)
    assert kl_quad(0.0, 2.0) == pytest.approx(0.5 * (4 - 1 - np.log(4)), rel=1e-8)
    assert 0.5 * (4 - 1 - np.log(4)) == pytest.approx(0.8069, abs=1e-4)
    # the lab's Monte-Carlo table: "shifted mean" (1, -2) with sigma 1 is 1/2 + 4/2 = 2.5 nats
    assert kl_quad(1.0, 1.0) + kl_quad(-2.0, 1.0) == pytest.approx(2.5, rel=1e-8)


def test_kingma_welling_formula_matches_monte_carlo():
    """-1/2 sum(1 + log s^2 - mu^2 - s^2) against a 400,000-sample estimate (within 5 s.e.)."""
    mu, log_var = np.array([0.9, -0.3]), np.array([-2.5, -1.8])
    sigma = np.exp(0.5 * log_var)
    z = mu + sigma * np.random.default_rng(0).standard_normal((400_000, 2))
    terms = np.sum(scipy.stats.norm(mu, sigma).logpdf(z) - scipy.stats.norm.logpdf(z), axis=1)
    formula = -0.5 * np.sum(1 + log_var - mu**2 - np.exp(log_var))
    assert abs(formula - terms.mean()) < 5 * terms.std() / np.sqrt(len(terms))
    assert formula == pytest.approx(1.7237, abs=1e-4)  # the table's "typical encoder output"
    assert formula == pytest.approx(sum(kl_quad(m, s) for m, s in zip(mu, sigma)), rel=1e-7)


def test_bernoulli_reconstruction_numbers():
    """Logit 0 costs log 2 per pixel: 784 log 2 = 543.4 nats per 28 x 28 image (Keras BCE)."""
    x = np.ones((1, 784), "float32")
    bce = keras.ops.convert_to_numpy(
        keras.ops.binary_crossentropy(x, np.zeros_like(x), from_logits=True))
    assert float(bce.sum()) == pytest.approx(784 * np.log(2), rel=1e-6)
    assert 784 * np.log(2) == pytest.approx(543.4, abs=0.05)
    # Keras's loss *averages* over the last axis: the summed ELBO term is 784 times larger
    mean_bce = keras.losses.binary_crossentropy(x, np.zeros_like(x), from_logits=True)
    assert float(keras.ops.convert_to_numpy(mean_bce)[0]) == pytest.approx(np.log(2), rel=1e-6)


def test_gaussian_quantile_grid_values():
    q = scipy.stats.norm.ppf(np.linspace(0.05, 0.95, 3))
    np.testing.assert_allclose(q, [-1.6449, 0.0, 1.6449], atol=1e-4)
    # equally spaced quantiles: each cell of a 10-point grid holds 10% of the prior's mass
    q10 = scipy.stats.norm.ppf(np.linspace(0.05, 0.95, 10))
    np.testing.assert_allclose(np.diff(scipy.stats.norm.cdf(q10)), 0.1, atol=1e-12)


def test_inception_score_and_spread_bounds():
    """IS = exp(mean KL(p(y|x) || p(y))) is 10 for confident, evenly spread classes, 1 for none."""
    def inception(p):
        return np.exp(np.mean([scipy.stats.entropy(row, p.mean(axis=0)) for row in p]))

    assert inception(np.eye(10)[np.arange(50) % 10]) == pytest.approx(10.0, rel=1e-9)
    assert inception(np.tile([0.7, 0.2, 0.1], (20, 1))) == pytest.approx(1.0, rel=1e-9)
    assert inception(np.eye(3)[[0, 1, 0, 1]]) == pytest.approx(2.0, rel=1e-9)
    # class spread in bits runs from 0 to log2(10) = 3.32
    assert scipy.stats.entropy(np.ones(10), base=2) == pytest.approx(3.3219, abs=1e-4)


def test_architecture_shapes_and_parameter_counts():
    """The lab's encoder and decoder (written out here): shapes and the printed counts."""
    inputs = keras.Input((28, 28, 1))
    h = layers.Conv2D(32, 3, strides=2, padding="same", activation="relu")(inputs)
    h = layers.Conv2D(64, 3, strides=2, padding="same", activation="relu")(h)
    assert tuple(h.shape[1:]) == (7, 7, 64)
    h = layers.Dense(128, activation="relu")(layers.Flatten()(h))
    encoder = keras.Model(inputs, [layers.Dense(2)(h), layers.Dense(2)(h)])
    assert encoder.count_params() == 320 + 18_496 + 401_536 + 2 * 258 == 420_868
    z = keras.Input((2,))
    g = layers.Reshape((7, 7, 32))(layers.Dense(7 * 7 * 32, activation="relu")(z))
    g = layers.Conv2DTranspose(64, 3, strides=2, padding="same", activation="relu")(g)
    g = layers.Conv2DTranspose(32, 3, strides=2, padding="same", activation="relu")(g)
    decoder = keras.Model(z, layers.Conv2D(1, 3, padding="same")(g))
    assert tuple(decoder.output.shape[1:]) == (28, 28, 1)
    assert decoder.count_params() == 4_704 + 18_496 + 18_464 + 289 == 41_953
