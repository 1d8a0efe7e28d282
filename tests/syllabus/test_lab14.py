"""Lab 14 (autoencoders): the numbers the lab states, pinned by third-party code.

Nothing here calls a student exercise: the references are Keras layers and losses, NumPy
closed forms, scikit-learn, scikit-image and SciPy.
"""

import keras
import numpy as np
import pytest
from keras import layers
from scipy import stats
from skimage import metrics as skmetrics
from sklearn.decomposition import PCA
from sklearn.metrics import roc_auc_score

from lablib import datasets

rng = np.random.default_rng(14)


def test_slides_loss_is_784_times_keras_mse():
    """1/n sum_i ||x_i - x_hat_i||^2 sums over the 784 pixels; Keras's MSE averages over them."""
    x, x_hat = rng.random((6, 28, 28, 1)), rng.random((6, 28, 28, 1))
    slides = np.mean(np.sum((x - x_hat).reshape(6, -1) ** 2, axis=1))
    keras_mse = float(keras.losses.MeanSquaredError()(x.reshape(6, -1), x_hat.reshape(6, -1)))
    assert slides == pytest.approx(784 * keras_mse, rel=1e-5)
    # the lab's warning: on (n, 28, 28, 1) images Keras's function averages the last axis only
    per_pixel = keras.ops.convert_to_numpy(keras.losses.mean_squared_error(x, x_hat))
    assert per_pixel.shape == (6, 28, 28)


def conv_encoder(latent_dim):
    return keras.Sequential([
        keras.Input((28, 28, 1)),
        layers.Conv2D(32, 3, strides=2, padding="same", activation="relu"),
        layers.Conv2D(64, 3, strides=2, padding="same", activation="relu"),
        layers.Flatten(),
        layers.Dense(latent_dim),
    ])


def conv_decoder(latent_dim):
    return keras.Sequential([
        keras.Input((latent_dim,)),
        layers.Dense(7 * 7 * 64, activation="relu"),
        layers.Reshape((7, 7, 64)),
        layers.Conv2DTranspose(32, 3, strides=2, padding="same", activation="relu"),
        layers.Conv2DTranspose(1, 3, strides=2, padding="same", activation="sigmoid"),
    ])


@pytest.mark.parametrize("latent_dim", [2, 16, 32])
def test_conv_autoencoder_table_shapes_and_parameter_counts(latent_dim):
    """The lab's table: 28x28x1 -> 14x14x32 -> 7x7x64 -> L -> 7x7x64 -> 14x14x32 -> 28x28x1."""
    encoder, decoder = conv_encoder(latent_dim), conv_decoder(latent_dim)
    assert [tuple(l.output.shape[1:]) for l in encoder.layers] == [
        (14, 14, 32), (7, 7, 64), (3136,), (latent_dim,)]
    assert [tuple(l.output.shape[1:]) for l in decoder.layers] == [
        (3136,), (7, 7, 64), (14, 14, 32), (28, 28, 1)]
    assert encoder.count_params() == 320 + 18496 + 3137 * latent_dim
    assert decoder.count_params() == (latent_dim + 1) * 3136 + 18464 + 289


def test_dense_autoencoder_parameter_count_printed_by_the_lab():
    """784 -> 256 -> 32 -> 256 -> 784 has 419,120 parameters."""
    model = keras.Sequential([keras.Input((784,)), layers.Dense(256), layers.Dense(32),
                              layers.Dense(256), layers.Dense(784)])
    assert model.count_params() == 419_120


def test_psnr_closed_forms_with_skimage():
    ref = np.zeros((10, 10))
    assert skmetrics.peak_signal_noise_ratio(ref, ref + 0.1, data_range=1.0) == pytest.approx(20.0)
    assert skmetrics.peak_signal_noise_ratio(ref, ref + 0.01, data_range=1.0) == pytest.approx(40.0)
    halving = (skmetrics.peak_signal_noise_ratio(ref, ref + 0.05, data_range=1.0)
               - skmetrics.peak_signal_noise_ratio(ref, ref + 0.1, data_range=1.0))
    assert halving == pytest.approx(20 * np.log10(2))  # 6.02 dB per halving of the error
    assert halving == pytest.approx(6.0206, abs=1e-4)


def test_digits28_lie_in_a_64_dimensional_linear_subspace():
    """The lab's explanation of why PCA does so well: 8x8 scans enlarged linearly."""
    (x_train, _), _ = datasets.load_digits28()
    flat = x_train.reshape(len(x_train), -1).astype("float64") / 255.0
    kept = PCA(n_components=64, random_state=0).fit(flat).explained_variance_ratio_.sum()
    assert kept > 0.9999
    kept_32 = PCA(n_components=32, random_state=0).fit(flat).explained_variance_ratio_.sum()
    assert kept_32 < 0.99  # ... while 32 components do not (PCA at L=32 is not exact)


def test_anomaly_split_counts():
    """Normal = digits 0-4 (train on 4/5 of them, calibrate on 1/5), anomalies = test 5-9."""
    (_, y_train), (_, y_test) = datasets.load_digits28()
    normal_train = int(np.isin(y_train, [0, 1, 2, 3, 4]).sum())
    assert normal_train == 675 and normal_train // 5 == 135 and normal_train - 135 == 540
    assert int(np.isin(y_test, [0, 1, 2, 3, 4]).sum()) == 226
    assert int((~np.isin(y_test, [0, 1, 2, 3, 4])).sum()) == 224


def test_threshold_example_is_numpy_linear_quantile():
    # (n - 1) * 0.95 = 94.05: between the 95th and 96th values of 1..100
    assert np.quantile(np.arange(1.0, 101.0), 0.95) == pytest.approx(95.05)


def test_roc_auc_is_the_probability_an_anomaly_outscores_a_normal_image():
    """The lab's reading of ROC-AUC, checked against SciPy's Mann-Whitney U."""
    normal, anomalous = rng.normal(0, 1, 300), rng.normal(1, 1, 200)
    scores = np.concatenate([normal, anomalous])
    labels = np.r_[np.zeros(300), np.ones(200)]
    u = stats.mannwhitneyu(anomalous, normal).statistic
    assert roc_auc_score(labels, scores) == pytest.approx(u / (300 * 200))
    assert roc_auc_score(labels, rng.random(500)) == pytest.approx(0.5, abs=0.08)
