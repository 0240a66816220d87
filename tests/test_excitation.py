import numpy as np
import pytest

from edgevc.audio.excitation import (
    LOOKAHEAD,
    ExcitationPhase,
    VoicingModel,
    cepstral_f0,
    voicing_features,
)
from edgevc.audio.features import stft
from edgevc.audio.istft import StreamingISTFT
from edgevc.audio.params import SYNTH_MEL

SR = SYNTH_MEL.sample_rate
N_FEATURES = SYNTH_MEL.n_mels + 2
ALWAYS_VOICED = VoicingModel(np.zeros(N_FEATURES), 1.0)
NEVER_VOICED = VoicingModel(np.zeros(N_FEATURES), -1.0)


def vowel(f0: float, seconds: float = 1.0, glide: float = 0.0) -> np.ndarray:
    """Harmonics of f0 (gliding by `glide` Hz over the signal) under a two-formant envelope."""
    t = np.arange(int(seconds * SR)) / SR
    f = f0 + glide * t / seconds
    phi = 2 * np.pi * np.cumsum(f) / SR
    out = np.zeros_like(t)
    for k in range(1, int(SR / 2 / (f0 + max(glide, 0)))):
        fk = k * f0
        gain = np.exp(-((fk - 700) / 300) ** 2) + 0.5 * np.exp(-((fk - 1800) / 400) ** 2) + 0.02
        out += gain * np.cos(k * phi)
    return (0.3 * out / np.abs(out).max()).astype(np.float32)


def spectra(wav):
    s = stft(wav, SYNTH_MEL)
    return s.real.astype(np.float32), s.imag.astype(np.float32)


def run(stage: ExcitationPhase, real, imag, chunk: int):
    parts = [stage.push(real[i:i + chunk], imag[i:i + chunk]) for i in range(0, len(real), chunk)]
    parts.append(stage.finish())
    return np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts])


def resynthesise(real, imag):
    ist = StreamingISTFT(SYNTH_MEL)
    return np.concatenate([ist.push(real, imag), ist.finish()])


def inconsistency(real, imag) -> float:
    """How far the STFT of the resynthesised waveform is from the magnitudes asked for
    (relative spectral distance): a phase that no real signal has cannot keep them."""
    target = np.hypot(real, imag)
    got = np.abs(stft(resynthesise(real, imag), SYNTH_MEL))[:len(target)]
    return float(np.linalg.norm(got - target) / np.linalg.norm(target))


@pytest.mark.parametrize("f0", [110.0, 180.0, 260.0])
def test_cepstral_f0_finds_the_fundamental_of_a_harmonic_spectrum(f0):
    real, imag = spectra(vowel(f0))
    est, peak = cepstral_f0(np.hypot(real, imag)[5:-5], SYNTH_MEL)
    assert np.median(np.abs(est / f0 - 1)) < 0.02
    noise_real, noise_imag = spectra(np.random.default_rng(0).normal(0, 0.1, SR).astype(np.float32))
    _, noise_peak = cepstral_f0(np.hypot(noise_real, noise_imag)[5:-5], SYNTH_MEL)
    assert np.median(peak) > 3 * np.median(noise_peak)  # the voicing model's strongest cue


def test_magnitudes_pass_through_and_every_frame_comes_out():
    real, imag = spectra(vowel(150.0, glide=40.0))
    out_r, out_i = run(ExcitationPhase(SYNTH_MEL, ALWAYS_VOICED), real, imag, 16)
    assert out_r.shape == real.shape
    np.testing.assert_allclose(np.hypot(out_r, out_i), np.hypot(real, imag), rtol=1e-4, atol=1e-6)


def test_output_lags_by_the_lookahead_and_finish_flushes():
    real, imag = spectra(vowel(150.0))
    stage = ExcitationPhase(SYNTH_MEL, ALWAYS_VOICED)
    first, _ = stage.push(real[:10], imag[:10])
    assert len(first) == 10 - LOOKAHEAD
    rest, _ = stage.finish()
    assert len(rest) == LOOKAHEAD


def test_chunking_does_not_change_the_output():
    real, imag = spectra(vowel(140.0, seconds=1.5, glide=60.0))
    rng = np.random.default_rng(1)
    model = VoicingModel(rng.normal(size=N_FEATURES) * 0.05, 0.0)  # some frames voiced, some not
    whole = run(ExcitationPhase(SYNTH_MEL, model), real, imag, 10_000)
    for chunk in (1, 3, 7, 32):
        parts = run(ExcitationPhase(SYNTH_MEL, model), real, imag, chunk)
        np.testing.assert_array_equal(parts[0], whole[0])
        np.testing.assert_array_equal(parts[1], whole[1])


@pytest.mark.parametrize("f0", [125.0, 200.0])
def test_excitation_phase_makes_harmonic_magnitudes_consistent(f0):
    """The point of the stage: given a voiced magnitude with a phase no signal has (here
    scrambled, as an untrained vocoder's would be), the pulse-train phase makes a waveform
    whose spectrum is the magnitude asked for; noise phase (unvoiced) cannot."""
    real, imag = spectra(vowel(f0))
    phase = np.random.default_rng(2).uniform(-np.pi, np.pi, real.shape)
    scrambled = np.hypot(real, imag) * np.exp(1j * phase)
    before = inconsistency(scrambled.real, scrambled.imag)
    voiced = inconsistency(*run(ExcitationPhase(SYNTH_MEL, ALWAYS_VOICED), scrambled.real, scrambled.imag, 32))
    unvoiced = inconsistency(*run(ExcitationPhase(SYNTH_MEL, NEVER_VOICED), scrambled.real, scrambled.imag, 32))
    assert before > 0.5
    assert voiced < 0.2 and voiced < before / 3
    assert unvoiced > 2 * voiced


def _phase_of(real, imag):
    return np.angle(real + 1j * imag)


def test_hybrid_takes_the_excitation_phase_only_in_voiced_frames_below_its_band():
    real, imag = spectra(vowel(150.0, glide=30.0))
    bins = np.arange(real.shape[1]) * SR / SYNTH_MEL.n_fft
    low, high = bins < 1000, bins >= 1000
    full = run(ExcitationPhase(SYNTH_MEL, ALWAYS_VOICED), real, imag, 16)
    hybrid = run(ExcitationPhase(SYNTH_MEL, ALWAYS_VOICED, band_hz=1000), real, imag, 16)
    np.testing.assert_allclose(np.hypot(*hybrid), np.hypot(real, imag), rtol=1e-4, atol=1e-6)
    loud = np.hypot(real, imag) > 1e-3  # where a phase is defined
    own, exc, got = _phase_of(real, imag), _phase_of(*full), _phase_of(*hybrid)
    assert np.allclose(got[:, low][loud[:, low]], exc[:, low][loud[:, low]], atol=1e-3)
    assert np.allclose(got[:, high][loud[:, high]], own[:, high][loud[:, high]], atol=1e-3)
    assert not np.allclose(exc[:, high][loud[:, high]], own[:, high][loud[:, high]], atol=1e-3)
    unvoiced = run(ExcitationPhase(SYNTH_MEL, NEVER_VOICED, band_hz=1000), real, imag, 16)
    np.testing.assert_allclose(unvoiced[0], real, rtol=1e-4, atol=1e-6)  # untouched
    np.testing.assert_allclose(unvoiced[1], imag, rtol=1e-4, atol=1e-6)


def test_the_margin_makes_fewer_frames_voiced():
    real, imag = spectra(vowel(150.0))
    bias = 0.5  # every frame's logit: voiced at margin 0, not at margin 1
    model = VoicingModel(np.zeros(N_FEATURES), bias)
    for margin, voiced in ((0.0, True), (1.0, False)):
        stage = ExcitationPhase(SYNTH_MEL, model, band_hz=1000, margin=margin)
        out = run(stage, real, imag, 16)
        assert all(v == voiced for v in stage.is_voiced)
        assert np.allclose(out[0], real, rtol=1e-4, atol=1e-6) != voiced  # unvoiced: untouched


def test_hybrid_output_does_not_depend_on_chunking():
    real, imag = spectra(vowel(140.0, seconds=1.5, glide=60.0))
    model = VoicingModel(np.random.default_rng(1).normal(size=N_FEATURES) * 0.05, 0.0)
    whole = run(ExcitationPhase(SYNTH_MEL, model, band_hz=1000), real, imag, 10_000)
    for chunk in (1, 5, 32):
        parts = run(ExcitationPhase(SYNTH_MEL, model, band_hz=1000), real, imag, chunk)
        np.testing.assert_array_equal(parts[0], whole[0])
        np.testing.assert_array_equal(parts[1], whole[1])


def test_voicing_features_shape_and_low_band_share():
    real, imag = spectra(vowel(150.0))
    mag = np.hypot(real, imag)
    _, peak = cepstral_f0(mag, SYNTH_MEL)
    f = voicing_features(mag, peak, SYNTH_MEL)
    assert f.shape == (len(mag), N_FEATURES)
    noise = np.abs(stft(np.random.default_rng(0).normal(0, 0.1, SR), SYNTH_MEL))
    _, noise_peak = cepstral_f0(noise, SYNTH_MEL)
    # a vowel with formants at 700 and 1800 Hz keeps most energy below 1 kHz; white noise 1/8
    assert np.median(f[:, -1]) > 0.5
    assert np.median(voicing_features(noise, noise_peak, SYNTH_MEL)[:, -1]) < 0.2


@pytest.mark.parametrize("bad", [{"weights": [0.0] * 5, "bias": 0.0},
                                 {"weights": [float("nan")] * N_FEATURES, "bias": 0.0},
                                 {"weights": [0.0] * N_FEATURES, "bias": float("inf")}])
def test_voicing_model_rejects_malformed_weights(bad):
    with pytest.raises(ValueError, match="voicing weights"):
        VoicingModel.from_dict(bad, SYNTH_MEL.n_mels)


def test_voicing_model_round_trips():
    m = VoicingModel(np.arange(N_FEATURES) / 10.0, -0.5)
    again = VoicingModel.from_dict(m.to_dict(), SYNTH_MEL.n_mels)
    np.testing.assert_array_equal(again.weights, m.weights)
    assert again.bias == m.bias


def test_logistic_fit_recovers_a_linear_rule():
    pytest.importorskip("torch")
    from edgevc.export.train_voicing import fit_logistic
    rng = np.random.default_rng(0)
    x = rng.normal(size=(4000, 6)) * [1, 5, 0.1, 1, 1, 1] + [0, 3, 0, 0, 0, 0]
    y = (x[:, 0] - 0.2 * x[:, 1] + 0.5 > 0).astype(float)
    w, b = fit_logistic(x, y)
    assert ((x @ w + b > 0) == (y > 0)).mean() > 0.97
