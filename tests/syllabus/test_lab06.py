"""Lab 06 (IMDB with dense networks): the model's size and the encodings, against Keras.

Counts compared exactly; the multi-hot reference is ``keras.layers.CategoryEncoding``.
"""

import os

import numpy as np
import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
keras = pytest.importorskip("keras")


def test_the_slide_model_has_160305_parameters():
    model = keras.Sequential(
        [
            keras.Input((10_000,)),
            keras.layers.Dense(16, activation="relu"),
            keras.layers.Dense(16, activation="relu"),
            keras.layers.Dense(1, activation="sigmoid"),
        ]
    )
    assert model.count_params() == (10_000 * 16 + 16) + (16 * 16 + 16) + (16 + 1) == 160_305
    assert model.output_shape == (None, 1)


def test_multi_hot_counts_a_repeated_word_once():
    encode = keras.layers.CategoryEncoding(5, output_mode="multi_hot")
    out = keras.ops.convert_to_numpy(encode(np.array([[1, 3, 1, 1], [0, 3, 3, 4]])))
    np.testing.assert_array_equal(out, [[0, 1, 0, 1, 0], [1, 0, 0, 1, 1]])


def test_float32_halves_the_memory_of_the_training_set():
    assert 25_000 * 10_000 * np.dtype("float32").itemsize == 1_000_000_000  # 1 GB
    assert 25_000 * 10_000 * np.dtype("float64").itemsize == 2_000_000_000


def test_index_offset_of_keras_imdb_encoding():
    # index = rank + 3: 0 padding, 1 start, 2 unknown; so num_words=10000 keeps ranks 1..9996
    ranks = {"the": 1, "movie": 2, "great": 3}
    reverse = {rank: word for word, rank in ranks.items()}
    assert " ".join(reverse.get(i - 3, "?") for i in [1, 4, 5, 2, 6]) == "? the movie ? great"
