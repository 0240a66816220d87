"""benchmarks/speaker_emphasis.py: the embedding it clones with, and the mean it pushes from."""

import numpy as np
import pytest

from benchmarks.speaker_emphasis import emphasised, training_mean
from edgevc.errors import InputError


def _unit(v):
    return v / np.linalg.norm(v)


def test_alpha_zero_keeps_the_voice_and_more_alpha_moves_it_away_from_the_mean():
    rng = np.random.default_rng(0)
    mu, e = rng.normal(size=256), _unit(rng.normal(size=256))
    assert np.allclose(emphasised(e, mu, 0.0), e, atol=1e-6)
    cos = [float(emphasised(e, mu, a) @ _unit(mu)) for a in (0.0, 0.5, 1.0, 3.0)]
    assert cos == sorted(cos, reverse=True) and cos[0] > cos[-1] + 0.05
    assert np.isclose(np.linalg.norm(emphasised(e, mu, 2.0)), 1.0, atol=1e-5)


def test_training_mean_counts_only_transcribed_utterances(tmp_path):
    emb = np.array([[1.0, 0.0], [0.0, 1.0], [5.0, 5.0]], np.float32)
    ids_off = np.array([0, 3, 5, 5])  # the third utterance has no text
    np.savez(tmp_path / "c.npz", emb=emb, ids_off=ids_off)
    assert np.allclose(training_mean(tmp_path / "c.npz"), [0.5, 0.5])


@pytest.mark.parametrize("content", [None, b"not a cache"])
def test_training_mean_of_a_missing_or_bad_cache_is_one_line(tmp_path, content):
    path = tmp_path / "c.npz"
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(InputError, match="not a feature cache"):
        training_mean(path)
