"""Tests for lablib.datasets.synthetic.reviews: encoding, determinism, and a cheap proxy
that the sentiment is in the review words (a small dense net reaches 80-90% on them; that
was measured once by hand and is documented in the module)."""

from __future__ import annotations

import numpy as np
import pytest

from lablib.datasets.synthetic import reviews as generated

# --- review corpus --------------------------------------------------------------------


@pytest.fixture(scope="module")
def corpus():
    return generated.make_review_corpus(61, 40, seed=11)


def test_review_corpus_structure(corpus):
    (x_train, y_train), (x_test, y_test), word_index = corpus
    assert isinstance(x_train, list) and len(x_train) == 61 and len(x_test) == 40
    assert all(isinstance(s, list) for s in x_train + x_test)
    assert all(type(w) is int for s in x_train[:5] for w in s)  # plain ints, like Keras
    assert y_train.dtype == np.int64 and y_train.shape == (61,)
    assert y_test.dtype == np.int64 and y_test.shape == (40,)
    assert set(np.unique(np.concatenate([y_train, y_test]))) == {0, 1}
    assert sorted(np.bincount(y_train).tolist()) == [30, 31]
    assert np.bincount(y_test).tolist() == [20, 20]
    lengths = [len(s) for s in x_train + x_test]
    assert min(lengths) >= 40 and max(lengths) <= 400


def test_word_index_contiguous_ranks(corpus):
    *_, word_index = corpus
    assert len(word_index) > 12_000
    assert sorted(word_index.values()) == list(range(1, len(word_index) + 1))
    assert all(isinstance(w, str) and w.isalpha() and w.islower() for w in word_index)


def test_word_index_orders_by_frequency_then_alphabet(corpus):
    (x_train, _), (x_test, _), word_index = corpus
    ranks = np.concatenate([np.array(s) for s in x_train + x_test])
    counts = np.bincount(ranks, minlength=len(word_index) + 1)
    by_rank = sorted(word_index, key=word_index.get)
    counts_by_rank = counts[1:]
    assert (np.diff(counts_by_rank) <= 0).all()  # rank 1 is the most frequent word
    for a, b, ca, cb in zip(by_rank, by_rank[1:], counts_by_rank, counts_by_rank[1:]):
        if ca == cb:
            assert a < b  # ties broken alphabetically
    assert by_rank[0] == "the"


def test_sequences_only_use_existing_ranks(corpus):
    (x_train, _), (x_test, _), word_index = corpus
    ranks = np.concatenate([np.array(s) for s in x_train + x_test])
    assert ranks.min() >= 1 and ranks.max() <= len(word_index)


def test_review_corpus_determinism(corpus):
    again = generated.make_review_corpus(61, 40, seed=11)
    assert again[0][0] == corpus[0][0] and again[1][0] == corpus[1][0]
    np.testing.assert_array_equal(again[0][1], corpus[0][1])
    assert again[2] == corpus[2]
    other = generated.make_review_corpus(61, 40, seed=12)
    assert other[0][0] != corpus[0][0]


def test_review_lexicon_is_consistent():
    lex = generated._lexicon()
    assert len(set(lex.words)) == len(lex.words) > 12_000
    pos = set(np.array(lex.words)[lex.sentiment_ids[+1]])
    neg = set(np.array(lex.words)[lex.sentiment_ids[-1]])
    assert len(pos) >= 140 and len(neg) >= 140 and not pos & neg
    assert {"not", "never", "hardly", "but"} <= set(lex.words)


def test_reviews_carry_their_label():
    # Cheap proxy for learnability: counting positive minus negative words (ignoring
    # negation) agrees with the label for most, but not all, reviews.
    (x, y), _, word_index = generated.make_review_corpus(400, 0, seed=1)
    lex = generated._lexicon()
    rank = {w: r for w, r in word_index.items()}
    pos = {rank[lex.words[i]] for i in lex.sentiment_ids[+1]}
    neg = {rank[lex.words[i]] for i in lex.sentiment_ids[-1]}
    score = np.array([sum(w in pos for w in s) - sum(w in neg for w in s) for s in x])
    agree = ((score > 0) == (y == 1)).mean()
    assert 0.7 < agree < 0.97


def test_num_words_10000_truncation_matters():
    # keras.datasets.imdb(num_words=10000) keeps ranks up to 9,996 (index_from=3).
    (x, _), (xt, _), _ = generated.make_review_corpus(1000, 1000, seed=0)
    ranks = np.concatenate([np.array(s) for s in x + xt])
    assert len(np.unique(ranks)) > 12_000  # more distinct words than the model sees
    assert 0.005 < (ranks > 9_996).mean() < 0.05  # a few percent of tokens become "oov"
