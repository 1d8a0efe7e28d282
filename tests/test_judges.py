"""lablib.judges: the held-out digit classifier and its verdict on a batch of images.

The verdict is checked against scipy.stats.entropy and hand-counted fixtures with a
fixed-output stand-in model; the trained judge is checked on the loader's test split.
"""

import time

import numpy as np
import pytest
import scipy.stats

from lablib import judges
from lablib.datasets import load_digits28


class FixedModel:
    """Stands in for a Keras model: ``predict`` returns the given probabilities."""

    def __init__(self, probs):
        self.probs = np.asarray(probs, dtype=np.float32)
        self.seen = None

    def predict(self, x, batch_size=None, verbose=0):
        self.seen = x
        return self.probs[: len(x)]


def one_hot(classes, confidence=1.0):
    classes = np.asarray(classes)
    probs = np.full((len(classes), 10), (1 - confidence) / 9, dtype=np.float64)
    probs[np.arange(len(classes)), classes] = confidence
    return probs


def test_judge_samples_counts_confidence_entropy_accuracy():
    classes = [3, 3, 3, 7, 7, 0]
    model = FixedModel(one_hot(classes, confidence=0.8))
    images = np.zeros((6, 28, 28, 1), np.float32)
    out = judges.judge_samples(model, images, requested=[3, 3, 1, 7, 2, 0])
    assert out["class_counts"] == [1, 0, 0, 3, 0, 0, 0, 2, 0, 0]
    assert all(isinstance(c, int) for c in out["class_counts"])
    assert out["confidence"] == pytest.approx(0.8, abs=1e-6)
    assert out["class_entropy"] == pytest.approx(scipy.stats.entropy([1, 3, 2], base=2), abs=1e-9)
    assert out["accuracy"] == pytest.approx(4 / 6)
    assert list(out["predictions"]) == classes
    assert "accuracy" not in judges.judge_samples(model, np.zeros((6, 28, 28), np.float32))


def test_judge_samples_entropy_bounds_and_input_forms():
    even = FixedModel(one_hot(np.arange(20) % 10))
    entropy = judges.judge_samples(even, np.zeros((20, 28, 28)))["class_entropy"]
    assert entropy == pytest.approx(np.log2(10))
    same = FixedModel(one_hot([4] * 5))
    assert judges.judge_samples(same, np.zeros((5, 28, 28)))["class_entropy"] == 0.0
    rng = np.random.default_rng(0)
    probs = rng.dirichlet(np.ones(10), size=50)
    out = judges.judge_samples(FixedModel(probs), np.zeros((50, 28, 28, 1)))
    assert out["confidence"] == pytest.approx(probs.max(axis=1).mean(), rel=1e-6)
    # uint8 images are rescaled to [0, 1], (n, 28, 28) gets a channel axis
    model = FixedModel(one_hot([1, 2]))
    judges.judge_samples(model, np.full((2, 28, 28), 255, np.uint8))
    assert model.seen.shape == (2, 28, 28, 1) and model.seen.dtype == np.float32
    assert model.seen.max() == 1.0


def test_judge_samples_rejects_bad_input():
    model = FixedModel(one_hot([1, 2]))
    with pytest.raises(ValueError, match="28, 28, 1"):
        judges.judge_samples(model, np.zeros((2, 32, 32, 3)))
    with pytest.raises(ValueError, match="requested"):
        judges.judge_samples(model, np.zeros((2, 28, 28)), requested=[1])
    with pytest.raises(ValueError, match="at least one"):
        judges.judge_samples(model, np.zeros((0, 28, 28)))


def test_digit_judge_is_accurate_held_out_and_memoized(monkeypatch):
    monkeypatch.setenv("LABLIB_OFFLINE", "1")
    model = judges.digit_judge(seed=0)
    assert model.output_shape == (None, 10) and model.input_shape == (None, 28, 28, 1)
    assert model.n_train == 1347 and model.n_test == 450 and "not MNIST" in model.data_source
    # on the offline digits' test split (never trained on) the judge must be a good reader
    assert model.test_accuracy >= 0.93
    (_, _), (x_test, y_test) = load_digits28()
    verdict = judges.judge_samples(model, x_test, requested=y_test)
    assert verdict["accuracy"] == pytest.approx(model.test_accuracy)
    assert verdict["class_entropy"] > 3.2 and verdict["confidence"] > 0.9
    probs = model.predict(x_test[:8, ..., None] / 255.0, verbose=0)
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, atol=1e-5)
    # memoized: the second call returns the same model without retraining
    start = time.perf_counter()
    assert judges.digit_judge(seed=0) is model
    assert time.perf_counter() - start < 0.5
    # uniform noise is not a digit: the judge is much less sure of it than of real digits
    noise = np.random.default_rng(0).random((200, 28, 28)).astype(np.float32)
    assert judges.judge_samples(model, noise)["confidence"] < verdict["confidence"] - 0.2
