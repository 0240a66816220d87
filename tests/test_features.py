import numpy as np
import pytest

from edgevc.audio.features import log_mel, mel_filterbank
from edgevc.audio.params import SPEAKER_MEL, SYNTH_MEL

torch = pytest.importorskip("torch")


def test_filterbank_covers_the_band_without_gaps():
    fb = mel_filterbank(SYNTH_MEL)
    assert fb.shape == (80, 513)
    # every bin from 50 Hz to 7.9 kHz falls in some filter
    hz = np.linspace(0, 8000, 513)
    assert (fb[:, (hz > 50) & (hz < 7900)].sum(axis=0) > 0).all()


def test_a_tone_lights_up_the_matching_band():
    sr = 16000
    t = np.arange(sr) / sr
    for f in (300, 1000, 4000):
        mel = log_mel(np.sin(2 * np.pi * f * t).astype(np.float32), SYNTH_MEL)
        centre = np.argmax(mel_filterbank(SYNTH_MEL)[:, int(f / 8000 * 512)])
        assert abs(int(np.argmax(mel.mean(axis=0))) - int(centre)) <= 1


@pytest.mark.parametrize("params", [SYNTH_MEL, SPEAKER_MEL])
def test_numpy_features_match_the_training_features(params):
    from edgevc.export.features import LogMel
    wav = np.random.default_rng(0).normal(0, 0.1, 16000).astype(np.float32)
    ref = LogMel(params)(torch.from_numpy(wav)[None])[0].numpy()
    got = log_mel(wav, params)
    assert got.shape == ref.shape == (16000 // params.hop_length + 1, params.n_mels)
    np.testing.assert_allclose(got, ref, atol=2e-3)
