"""export/gmm_ubm.py: the MFCC GMM-UBM speaker-identification judge, on synthetic voices.

A synthetic "speaker" here is a harmonic source (its own pitch range) through formants
that move between a shared set of vowels, scaled by its own vocal-tract factor, as a
longer or shorter vocal tract does. Two clips of one speaker share the scale and the
pitch, not the vowel sequence, so the judge must learn the voice, not the clip.
"""

import numpy as np
import pytest

from edgevc.errors import InputError
from edgevc.export.gmm_ubm import GmmUbm, map_adapt_means, mfcc_features, train_ubm

SR = 16000
VOWELS = np.array([(300, 2300, 3000), (400, 2000, 2600), (700, 1200, 2500),
                   (500, 900, 2400), (350, 800, 2300), (600, 1700, 2600)], float)
BANDWIDTHS = np.array([80.0, 110.0, 160.0])
# (mean f0 in Hz, formant scale): five voices
SPEAKERS = {"low": (95.0, 1.15), "deep": (115.0, 1.0), "mid": (140.0, 0.9),
            "high": (200.0, 0.82), "child": (260.0, 0.74)}


def voice(f0: float, scale: float, seconds: float, seed: int, tilt_db_per_oct: float = 0.0):
    """A vowel sequence (120 ms each) of one synthetic speaker, peak 0.5."""
    rng = np.random.default_rng(seed)
    n = int(seconds * SR)
    t = np.arange(n) / SR
    f0t = f0 * (1 + 0.06 * np.sin(2 * np.pi * rng.uniform(0.5, 2) * t + rng.uniform(0, 6)))
    phase = 2 * np.pi * np.cumsum(f0t) / SR
    seg = int(0.12 * SR)
    formants = scale * VOWELS[rng.integers(len(VOWELS), size=n // seg + 1)].repeat(seg, 0)[:n]
    wav = np.zeros(n)
    for h in range(1, int(7000 / f0) + 1):
        fh = h * f0t
        env = sum(1 / (1 + ((fh - formants[:, i]) / BANDWIDTHS[i]) ** 2) for i in range(3))
        env = env * 2.0 ** (tilt_db_per_oct / 6.02 * np.log2(fh / 500))
        wav += env * (fh < 7500) * np.sin(h * phase) / np.sqrt(h)
    wav *= 0.6 + 0.4 * np.sin(2 * np.pi * 3 * t) ** 2  # syllable-rate loudness
    wav += 0.002 * rng.standard_normal(n) * np.abs(wav).max()
    return 0.5 * wav / np.abs(wav).max()


@pytest.fixture(scope="module")
def enrolled():
    enroll = {spk: voice(f0, sc, 4.0, seed=k) for k, (spk, (f0, sc)) in enumerate(SPEAKERS.items())}
    return GmmUbm(components=16, seed=0).fit(enroll), enroll


def test_synthetic_speakers_are_identified_far_above_chance(enrolled):
    judge, _ = enrolled
    hits = [judge.identify(voice(f0, sc, 1.5, seed=100 + 10 * k + i)) == spk
            for k, (spk, (f0, sc)) in enumerate(SPEAKERS.items()) for i in range(4)]
    assert np.mean(hits) >= 0.85, hits  # chance: 20 %


def test_a_constant_channel_does_not_change_who_it_is(enrolled):
    """Cepstral mean normalisation: a spectral tilt the enrollment never had (a different
    microphone) is a constant cepstral offset, removed per clip."""
    judge, _ = enrolled
    hits = [judge.identify(voice(f0, sc, 1.5, seed=300 + k + 7 * i, tilt_db_per_oct=-6.0)) == spk
            for k, (spk, (f0, sc)) in enumerate(SPEAKERS.items()) for i in range(2)]
    assert np.mean(hits) >= 0.9, hits  # without the normalisation: 70 %


def test_scores_are_deterministic_under_a_seed(enrolled):
    judge, enroll = enrolled
    clip = voice(140.0, 0.9, 1.5, seed=7)
    again = GmmUbm(components=16, seed=0).fit(enroll)
    assert np.array_equal(judge.scores(clip), again.scores(clip))
    assert judge.speakers == list(SPEAKERS)


def test_map_adaptation_moves_only_as_far_as_the_data_allows(enrolled):
    judge, enroll = enrolled
    x = mfcc_features(enroll["mid"])
    assert judge.ubm is not None
    stiff = map_adapt_means(judge.ubm, x, relevance=1e12)  # no trust in the data: the UBM
    assert np.allclose(stiff.means, judge.ubm.means)
    own = judge.scores(enroll["mid"])
    assert own[judge.speakers.index("mid")] > 0 and int(np.argmax(own)) == judge.speakers.index("mid")


def test_features_are_mean_normalised_mfccs_with_deltas():
    x = mfcc_features(voice(140.0, 0.9, 1.0, seed=1))
    assert x.shape[1] == 40 and len(x) > 80
    assert np.allclose(x[:, :20].mean(0), 0, atol=1e-9)
    assert np.all(np.isfinite(x))


@pytest.mark.parametrize("wav, message", [
    (np.zeros(0), "empty audio"),
    (np.full(SR // 5, 0.1), "0.20 s of audio"),
    (np.zeros(SR), "0 frames of speech"),
    (np.array([0.1, np.nan] * SR), "non-finite"),
    (np.zeros((2, SR)), "expected mono"),
])
def test_bad_audio_is_one_line_input_error(wav, message):
    with pytest.raises(InputError, match=message) as e:
        mfcc_features(wav, what="clip x")
    assert str(e.value).startswith("clip x: ") and "\n" not in str(e.value)


def test_bad_enrollment_is_one_line_input_error(enrolled):
    _, enroll = enrolled
    with pytest.raises(InputError, match="at least 2 speakers"):
        GmmUbm(components=4).fit({"mid": enroll["mid"]})
    with pytest.raises(InputError, match="speaker b enrollment: empty audio"):
        GmmUbm(components=4).fit({"a": enroll["mid"], "b": np.zeros(0)})
    with pytest.raises(InputError, match="needs at least 640") as e:
        train_ubm(mfcc_features(enroll["mid"][: SR]), components=64)
    assert "\n" not in str(e.value)
