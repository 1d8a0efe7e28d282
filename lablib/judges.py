"""A held-out digit classifier (a "judge") for scoring generated 28x28 digits.

Labs 15 (VAE) and 16 (GANs) generate digits and need a number for how digit-like they
are. The judge is a small CNN trained on the *training* split of
:func:`lablib.datasets.load_mnist` (real MNIST online; scikit-learn's real handwritten
digits, upscaled to 28x28, offline) and scored on its test split. It never sees a
generated image while training, so it judges samples the way a reader would: "which digit
is this, and how sure am I?".

- :func:`digit_judge` trains (once per process and settings) and returns the Keras model;
  its held-out accuracy is in ``model.test_accuracy`` and printed once.
- :func:`judge_samples` summarises the judge's verdict on a batch of images: mean
  confidence, the predicted-class histogram and its entropy, and (for conditional
  samples) the share classified as the requested class.

These are measurements, not exercises: nothing here computes a graded quantity of a lab.
"""

from __future__ import annotations

import math
from typing import Any, Sequence

import numpy as np

__all__ = ["digit_judge", "judge_samples"]

N_CLASSES = 10
_CACHE: dict[tuple[Any, ...], Any] = {}


def _default_epochs(n_train: int) -> int:
    """About 16,000 training images seen: 12 epochs of the 1,347 offline digits, 1 of MNIST."""
    return max(1, min(12, math.ceil(16_000 / max(n_train, 1))))


def _build(seed: int):
    import keras
    from keras import layers

    def init(k):
        return keras.initializers.GlorotUniform(seed=seed * 100 + k)

    return keras.Sequential([
        keras.Input((28, 28, 1)),
        layers.Conv2D(16, 3, padding="same", activation="relu", kernel_initializer=init(1)),
        layers.MaxPooling2D(),
        layers.Conv2D(32, 3, padding="same", activation="relu", kernel_initializer=init(2)),
        layers.MaxPooling2D(),
        layers.Flatten(),
        layers.Dropout(0.3, seed=seed * 100 + 3),
        layers.Dense(64, activation="relu", kernel_initializer=init(4)),
        layers.Dense(N_CLASSES, activation="softmax", kernel_initializer=init(5)),
    ], name="digit_judge")


def _batches(x: np.ndarray, y: np.ndarray, *, epochs: int, batch_size: int, seed: int):
    """A seeded PyDataset: every epoch a fresh permutation, drawn from our own generator.

    Shuffling ourselves (instead of ``fit(shuffle=True)``) keeps the judge reproducible for a
    seed without touching the global random state of the lab that asks for it.
    """
    import keras

    rng = np.random.default_rng(seed)
    order = np.concatenate([rng.permutation(len(x)) for _ in range(epochs)])

    class Batches(keras.utils.PyDataset):
        def __len__(self):
            return math.ceil(len(order) / batch_size)

        def __getitem__(self, i):
            idx = order[i * batch_size:(i + 1) * batch_size]
            return x[idx], y[idx]

    return Batches()


def _as_images(images: Any) -> np.ndarray:
    """``(n, 28, 28[, 1])``, uint8 in [0, 255] or float in [0, 1] -> float32 ``(n, 28, 28, 1)``."""
    x = np.asarray(images)
    if x.dtype == np.uint8:
        x = x.astype(np.float32) / 255.0
    x = x.astype(np.float32, copy=False)
    if x.ndim == 3:
        x = x[..., None]
    if x.ndim != 4 or x.shape[1:] != (28, 28, 1):
        raise ValueError(f"the judge reads (n, 28, 28, 1) images; got shape {np.shape(images)}")
    return x


def digit_judge(*, seed: int = 0, epochs: int | None = None, verbose: int = 0):
    """Train (or reuse) the held-out digit classifier.

    Args:
        seed: seeds the weights, dropout and the shuffling; the same seed gives the same judge.
        epochs: training epochs; None picks about 16,000 images seen (12 epochs of the 1,347
            offline digits, 1 epoch of MNIST's 60,000).
        verbose: passed to ``fit`` (0 silent, 2 one line per epoch).

    Returns:
        A compiled ``keras.Model``: input ``(n, 28, 28, 1)`` float32 in [0, 1], output
        ``(n, 10)`` softmax probabilities. Attributes ``test_accuracy`` (float, on the loader's
        test split, which the judge never trains on), ``n_train``, ``n_test`` and
        ``data_source`` (the loader's one-line description). The result is memoized per
        process for each ``(seed, epochs, data mode)``, so a second call does not retrain;
        treat the model as read-only.
    """
    import keras

    from lablib.datasets import load_mnist
    from lablib.datasets.remote import offline

    key = (int(seed), epochs, offline())
    if key in _CACHE:
        return _CACHE[key]

    data = load_mnist()
    (x_train, y_train), (x_test, y_test) = data
    x_train, x_test = _as_images(x_train), _as_images(x_test)
    y_train, y_test = y_train.astype("int32"), y_test.astype("int32")
    n_epochs = _default_epochs(len(x_train)) if epochs is None else int(epochs)

    model = _build(int(seed))
    model.compile(optimizer=keras.optimizers.Adam(2e-3), loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"], jit_compile=False)
    model.fit(_batches(x_train, y_train, epochs=n_epochs, batch_size=64, seed=int(seed)),
              epochs=1, verbose=verbose)
    probs = model.predict(x_test, batch_size=512, verbose=0)
    accuracy = float(np.mean(np.argmax(probs, axis=1) == y_test))

    model.test_accuracy = accuracy
    model.n_train, model.n_test = len(x_train), len(x_test)
    model.data_source = data.source
    print(f"lablib.judges: digit judge trained on {len(x_train):,} digits ({n_epochs} epochs), "
          f"test accuracy {accuracy:.1%} on {len(x_test):,} held-out digits")
    _CACHE[key] = model
    return model


def judge_samples(model, images: Any, requested: Sequence[int] | None = None) -> dict[str, Any]:
    """What the judge thinks of a batch of (generated) digits.

    Args:
        model: a classifier from :func:`digit_judge` (any model mapping ``(n, 28, 28, 1)`` to
            ``(n, 10)`` probabilities).
        images: ``(n, 28, 28)`` or ``(n, 28, 28, 1)``, float in [0, 1] (uint8 in [0, 255] is
            rescaled).
        requested: optional ``n`` ints in 0..9, the class each image was asked to be.

    Returns:
        A dict with
        ``"confidence"``: float, the mean over images of the highest class probability;
        ``"class_counts"``: list of 10 ints, how many images were predicted as each class;
        ``"class_entropy"``: float, the entropy in bits of that histogram (0 when every image
        gets the same class, ``log2(10) = 3.32`` when the classes are spread evenly);
        ``"predictions"``: int array ``(n,)``, the predicted classes;
        and, when ``requested`` is given, ``"accuracy"``: the share predicted as requested.
    """
    x = _as_images(images)
    if len(x) == 0:
        raise ValueError("judge_samples needs at least one image")
    probs = np.asarray(model.predict(x, batch_size=512, verbose=0), dtype=np.float64)
    predictions = np.argmax(probs, axis=1)
    counts = np.bincount(predictions, minlength=N_CLASSES)
    share = counts[counts > 0] / len(x)
    result = {
        "confidence": float(np.mean(np.max(probs, axis=1))),
        "class_counts": [int(c) for c in counts],
        "class_entropy": float(abs(-np.sum(share * np.log2(share)))),
        "predictions": predictions,
    }
    if requested is not None:
        requested = np.asarray(requested).reshape(-1)
        if len(requested) != len(x):
            raise ValueError(f"requested has {len(requested)} classes for {len(x)} images")
        result["accuracy"] = float(np.mean(predictions == requested))
    return result
