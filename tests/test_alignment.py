import numpy as np
import pytest

pytest.importorskip("torch")

from edgevc.export.models.aligner import beta_binomial_prior, monotonic_alignment


def test_mas_recovers_a_known_alignment():
    true = np.array([3, 1, 5, 2, 4])
    owner = np.repeat(np.arange(len(true)), true)
    rng = np.random.default_rng(0)
    log_p = np.log(np.full((len(owner), len(true)), 0.02) + rng.uniform(0, 0.01, (len(owner), len(true))))
    log_p[np.arange(len(owner)), owner] = np.log(0.9)
    np.testing.assert_array_equal(monotonic_alignment(log_p), true)


def test_mas_gives_every_phoneme_a_frame_and_uses_every_frame():
    rng = np.random.default_rng(1)
    for T, N in [(5, 5), (40, 7), (200, 60)]:
        d = monotonic_alignment(rng.normal(size=(T, N)))
        assert d.sum() == T and (d >= 1).all()


def test_prior_is_a_distribution_along_the_diagonal():
    p = np.exp(beta_binomial_prior(10, 50))
    np.testing.assert_allclose(p.sum(axis=1), 1.0, atol=1e-5)
    peaks = p.argmax(axis=1)
    assert peaks[0] == 0 and peaks[-1] == 9 and (np.diff(peaks) >= 0).all()
