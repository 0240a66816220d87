import numpy as np
import pytest

from edgevc.audio.istft import StreamingISTFT
from edgevc.audio.params import SYNTH_MEL

BINS = SYNTH_MEL.n_fft // 2 + 1


def spectra(frames=37, seed=0):
    rng = np.random.default_rng(seed)
    return (rng.normal(size=(frames, BINS)).astype(np.float32),
            rng.normal(size=(frames, BINS)).astype(np.float32))


def whole(real, imag):
    s = StreamingISTFT(SYNTH_MEL)
    return np.concatenate([s.push(real, imag), s.finish()])


@pytest.mark.parametrize("chunk", [1, 3, 8, 36])
def test_chunked_equals_whole(chunk):
    real, imag = spectra()
    s = StreamingISTFT(SYNTH_MEL)
    parts = [s.push(real[i:i + chunk], imag[i:i + chunk]) for i in range(0, len(real), chunk)]
    got = np.concatenate([*parts, s.finish()])
    np.testing.assert_array_equal(got, whole(real, imag))
    assert len(got) == len(real) * SYNTH_MEL.hop_length


def test_matches_torch_istft():
    torch = pytest.importorskip("torch")
    from edgevc.export.features import istft
    real, imag = spectra()
    ref = istft(torch.from_numpy(real)[None], torch.from_numpy(imag)[None],
                len(real) * SYNTH_MEL.hop_length)[0].numpy()
    np.testing.assert_allclose(whole(real, imag), ref, atol=1e-4)


def test_round_trip_of_a_signal():
    """STFT then streaming iSTFT gives the signal back (away from the edges)."""
    from edgevc.audio.features import analysis_window
    sig = np.random.default_rng(1).normal(size=64 * SYNTH_MEL.hop_length).astype(np.float32)
    half = SYNTH_MEL.n_fft // 2
    padded = np.pad(sig, (half, half), mode="reflect")
    n = len(sig) // SYNTH_MEL.hop_length
    frames = np.stack([padded[t * SYNTH_MEL.hop_length:t * SYNTH_MEL.hop_length + SYNTH_MEL.n_fft]
                       for t in range(n)]) * analysis_window(SYNTH_MEL)
    spec = np.fft.rfft(frames, axis=1)
    out = whole(spec.real.astype(np.float32), spec.imag.astype(np.float32))
    np.testing.assert_allclose(out[:-half], sig[:-half], atol=1e-4)
