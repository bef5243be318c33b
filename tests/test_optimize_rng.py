"""The optimizer's Python PCG64 (`passivx.optimize.rng.Pcg64`) draws exactly numpy's `default_rng` numbers."""
import random

import numpy as np
import pytest

from passivx.optimize.rng import Pcg64


def test_pcg64_equals_numpy_default_rng():
    """Random entropy lists (one word, several, ints above 2**32 and 2**64, zeros, more words than the pool
    holds): the first draws are numpy's, bit for bit."""
    rng = random.Random(3)
    for _ in range(2000):
        entropy = [rng.choice([0, 1, rng.randrange(2**32), rng.randrange(2**64), rng.randrange(2**200)])
                   for _ in range(rng.randint(1, 7))]
        ours, numpy = Pcg64(entropy), np.random.default_rng(entropy)
        assert [ours.random() for _ in range(12)] == [numpy.random() for _ in range(12)], entropy


def test_pcg64_search_entropy_and_long_streams():
    """The search's [seed, k] entropy, and 1000 draws of one generator."""
    for seed in (0, 1, 7, 2**31 + 5):
        for k in (0, 1, 2, 159, 10_000, 2**33):
            ours, numpy = Pcg64([seed, k]), np.random.default_rng([seed, k])
            assert [ours.random() for _ in range(10)] == numpy.random(10).tolist()
    ours, numpy = Pcg64([0, 5]), np.random.default_rng([0, 5])
    assert [ours.random() for _ in range(1000)] == numpy.random(1000).tolist()


def test_pcg64_rejects_negative_entropy():
    with pytest.raises(ValueError):
        Pcg64([-1, 3])
