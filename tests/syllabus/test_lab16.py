"""Lab 16 (GANs): the numbers the lab states, computed by third-party code.

References: ``keras.losses.BinaryCrossentropy`` and ``tf.GradientTape`` for the GAN losses and
their gradients, ``scipy.linalg.sqrtm`` for the Frechet distance, ``skimage.metrics`` for PSNR
and SSIM (against an SSIM written here from Wang et al. 2004 with skimage's stated defaults), and
plain arithmetic for the slides' SRGAN figure. No student exercise is called (they are not in
lablib). Float tolerances: rtol 1e-5 for float32 Keras values, 1e-9 for float64 arithmetic.
"""

from __future__ import annotations

import os

import numpy as np
import pytest
import scipy.linalg
from scipy import ndimage

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
keras = pytest.importorskip("keras")
tf = pytest.importorskip("tensorflow")
skimage_metrics = pytest.importorskip("skimage.metrics")

# The slides' figure (seed 003, from Ledig et al. 2017): PSNR in dB / SSIM, 4x upscaling.
SRGAN_FIGURE = {"bicubic": (21.59, 0.6423), "SRResNet": (23.44, 0.7777), "SRGAN": (20.34, 0.6562)}


def test_the_slides_srgan_figure_orders_distortion_and_sharpness_as_the_lab_says():
    (b_db, b_ssim), (r_db, r_ssim), (g_db, g_ssim) = SRGAN_FIGURE.values()
    assert r_db > b_db > g_db  # SRResNet best PSNR, SRGAN below bicubic
    assert r_ssim > g_ssim > b_ssim  # SSIM: SRGAN just above bicubic, SRResNet best
    assert round(g_ssim - b_ssim, 4) == 0.0139


@pytest.mark.parametrize(("name", "rmse"), [("bicubic", 21.2), ("SRResNet", 17.2), ("SRGAN", 24.5)])
def test_the_slides_psnr_values_as_rms_errors_in_grey_levels(name, rmse):
    db = SRGAN_FIGURE[name][0]
    exact = 255 / 10 ** (db / 20)
    assert round(exact, 1) == rmse  # what the lab prints
    reference, estimate = np.zeros(16), np.full(16, exact)
    assert skimage_metrics.peak_signal_noise_ratio(
        reference, estimate, data_range=255
    ) == pytest.approx(db, rel=1e-9)


def test_the_game_at_equilibrium_costs_log_4_and_the_discriminator_loss_is_keras_bce():
    bce = keras.losses.BinaryCrossentropy(from_logits=True)
    zeros = np.zeros((8, 1), "float32")  # logits 0: D = 1/2 on everything
    total = float(bce(np.ones_like(zeros), zeros)) + float(bce(np.zeros_like(zeros), zeros))
    assert total == pytest.approx(np.log(4), rel=1e-5)
    assert np.log(4) == pytest.approx(1.386, abs=5e-4)


def test_generator_gradients_are_d_and_one_minus_d_against_the_logit():
    bce = keras.losses.BinaryCrossentropy(from_logits=True, reduction="sum")
    d = np.array([1e-4, 1e-3, 0.01, 0.5, 0.99, 0.999], dtype=np.float64)
    logits = tf.Variable(np.log(d / (1 - d)).reshape(-1, 1).astype("float32"))
    with tf.GradientTape(persistent=True) as tape:
        saturating = -bce(np.zeros((len(d), 1), "float32"), logits)  # sum of log(1 - D)
        non_saturating = bce(np.ones((len(d), 1), "float32"), logits)  # sum of -log D
    d32 = 1 / (1 + np.exp(-logits.numpy()[:, 0].astype(np.float64)))
    g_sat = tape.gradient(saturating, logits).numpy()[:, 0]
    g_ns = tape.gradient(non_saturating, logits).numpy()[:, 0]
    np.testing.assert_allclose(g_sat, -d32, rtol=1e-4, atol=1e-7)
    np.testing.assert_allclose(g_ns, -(1 - d32), rtol=1e-4, atol=1e-7)
    # the lab's example: at D(G(z)) = 1e-3 the saturating loss passes on 1/999 of the gradient
    assert g_ns[1] / g_sat[1] == pytest.approx(999, rel=1e-3)


def test_softplus_is_finite_where_log_of_one_minus_sigmoid_is_not():
    a = np.float32(20.0)
    assert float(keras.ops.sigmoid(a)) == 1.0  # float32 rounds 1 - 2e-9 to 1
    assert float(keras.ops.softplus(a)) == pytest.approx(20.000000002, rel=1e-7)
    with np.errstate(divide="ignore"):
        assert np.log(np.float32(1) - np.float32(keras.ops.sigmoid(a))) == -np.inf


def test_an_even_spread_over_ten_digits_is_log2_10_bits():
    share = np.full(10, 0.1)
    assert -np.sum(share * np.log2(share)) == pytest.approx(np.log2(10))
    assert round(np.log2(10), 2) == 3.32


def test_frechet_distance_closed_forms_with_scipy_sqrtm():
    def fd(m1, s1, m2, s2):  # the formula of Heusel et al. 2017, with SciPy's matrix root
        root = np.real(scipy.linalg.sqrtm(s1 @ s2))
        return float(np.sum((m1 - m2) ** 2) + np.trace(s1 + s2 - 2 * root))

    # 1-D: (mu1 - mu2)^2 + (sigma1 - sigma2)^2, the lab's example 5.0
    assert fd(np.array([1.0]), np.array([[4.0]]), np.array([3.0]), np.array([[1.0]])) == (
        pytest.approx(5.0, rel=1e-9)
    )
    v1, v2 = np.array([0.5, 2.0, 3.0]), np.array([1.0, 1.0, 0.1])
    assert fd(np.zeros(3), np.diag(v1), np.ones(3), np.diag(v2)) == pytest.approx(
        3 + np.sum((np.sqrt(v1) - np.sqrt(v2)) ** 2), rel=1e-9
    )


def test_the_labs_ssim_recipe_is_skimages_default():
    """7x7 uniform window, the 49/48 sample-covariance factor, K1 = 0.01, K2 = 0.03, and the
    mean over the map without its 3-pixel border: written here, compared with skimage."""
    rng = np.random.default_rng(0)
    x = rng.uniform(size=(40, 33))
    y = np.clip(0.7 * x + rng.normal(0, 0.1, x.shape) + 0.1, 0, 1)

    def mean(img):
        return ndimage.uniform_filter(img, size=7)

    mx, my = mean(x), mean(y)
    k = 49 / 48
    vx, vy, vxy = k * (mean(x * x) - mx**2), k * (mean(y * y) - my**2), k * (mean(x * y) - mx * my)
    c1, c2 = 0.01**2, 0.03**2
    ssim_map = ((2 * mx * my + c1) * (2 * vxy + c2)) / ((mx**2 + my**2 + c1) * (vx + vy + c2))
    ours = ssim_map[3:-3, 3:-3].mean()
    assert skimage_metrics.structural_similarity(x, y, data_range=1.0) == pytest.approx(
        ours, rel=1e-9
    )
