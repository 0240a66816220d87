"""The public API (edgevc/voice.py): same audio as the synthesizer, config applied exactly,
WAV out, stoppable playback, and the README's example run as written."""

import io
import re
import shutil
import threading
import time
import wave
from pathlib import Path

import numpy as np
import pytest

import edgevc
from edgevc import SynthesisConfig, Voice
from edgevc.errors import InputError
from edgevc.runtime.bundle import default_bundle_dir

A, B = "Turn left at the next corner.", "The museum opens at 10:30."


@pytest.fixture(scope="module")
def voice():
    return Voice.load()


@pytest.fixture(scope="module")
def parts(voice):
    return voice.synthesize(A), voice.synthesize(B)


def test_default_config_is_the_synthesizers_audio(voice, parts):
    both = f"{A} {B}"
    chunks = list(voice.stream(both))
    assert len(chunks) > 1  # streamed, not one block at the end
    np.testing.assert_array_equal(np.concatenate(chunks),
                                  np.concatenate(list(voice.synth.stream(both))))
    np.testing.assert_array_equal(np.concatenate(chunks), np.concatenate(parts))


def test_sentence_silence_goes_between_sentences_only(voice, parts):
    a, b = parts
    got = voice.synthesize(f"{A} {B}", config=SynthesisConfig(sentence_silence=0.25))
    gap = int(0.25 * voice.sample_rate)
    assert len(got) == len(a) + gap + len(b)
    np.testing.assert_array_equal(got[:len(a)], a)
    assert not np.any(got[len(a):len(a) + gap])
    np.testing.assert_array_equal(got[len(a) + gap:], b)
    # one sentence: no silence at all
    np.testing.assert_array_equal(voice.synthesize(A, config=SynthesisConfig(sentence_silence=1)), a)


def test_volume_scales_and_rate_shortens(voice, parts):
    a = parts[0]
    np.testing.assert_allclose(voice.synthesize(A, config=SynthesisConfig(volume=0.5)), 0.5 * a,
                               rtol=1e-6, atol=1e-7)
    fast = voice.synthesize(A, config=SynthesisConfig(rate=2.0))
    slow = voice.synthesize(A, config=SynthesisConfig(rate=0.5))
    assert 0.35 < len(fast) / len(a) < 0.65
    assert 1.6 < len(slow) / len(a) < 2.4


def test_speaker_as_path_or_vector(voice, tmp_path):
    path = tmp_path / "me.npy"
    shutil.copy(voice.synth.bundle.default_speaker_path, path)
    vec = voice.load_speaker(path)
    np.testing.assert_array_equal(voice.synthesize(A, str(path)), voice.synthesize(A, vec))
    with pytest.raises(InputError, match="not found"):
        voice.synthesize(A, tmp_path / "nobody.npy")


@pytest.mark.parametrize("field, value", [("rate", 0.1), ("rate", float("nan")), ("rate", True),
                                          ("volume", -1), ("volume", "loud"),
                                          ("sentence_silence", 60), ("phase", "loud")])
def test_bad_config_is_one_input_error(voice, field, value):
    with pytest.raises(InputError, match=field if field != "phase" else "phase"):
        voice.stream(A, config=SynthesisConfig(**{field: value}))


def test_phase_per_call_matches_a_synthesizer_built_with_it(voice):
    if voice.synth.bundle.voicing is None:
        pytest.skip("bundle has no voicing model")
    from edgevc.runtime.synthesizer import Synthesizer
    other = Synthesizer(voice.synth.bundle, voice.profile, "hybrid")
    np.testing.assert_array_equal(voice.synthesize(A, config=SynthesisConfig(phase="hybrid")),
                                  other.synthesize(A))
    assert voice.synth.phase == voice.synth.bundle.phase  # the call did not change the default


def test_to_wav_path_and_stream(voice, parts, tmp_path):
    out = tmp_path / "a.wav"
    secs = voice.to_wav(A, out)
    with wave.open(str(out)) as w:
        assert (w.getframerate(), w.getnchannels(), w.getsampwidth()) == (16000, 1, 2)
        assert w.getnframes() == len(parts[0])
    assert secs == pytest.approx(len(parts[0]) / 16000)
    buf = io.BytesIO()
    voice.to_wav(A, buf)
    pcm = np.frombuffer(buf.getvalue()[44:], "<i2")
    assert len(pcm) == len(parts[0])
    assert np.array_equal(pcm, np.frombuffer(out.read_bytes()[44:], "<i2"))
    with pytest.raises(InputError, match="text is empty"):
        voice.to_wav("  ", tmp_path / "b.wav")
    assert not (tmp_path / "b.wav").exists()
    with pytest.raises(InputError, match=r"only \.wav"):
        voice.to_wav(A, tmp_path / "b.mp3")


class ClockSink:
    """A fake sound card that takes audio in real time and records what it was given."""

    sample_rate, block_size = 16000, 1024

    def __init__(self):
        self.samples, self.closed_ok = 0, None

    def write(self, x):
        time.sleep(len(x) / self.sample_rate)
        self.samples += len(x)

    def close(self, ok=True):
        self.closed_ok = ok


def test_play_stops_within_tens_of_ms_when_asked(voice):
    sink, stop = ClockSink(), threading.Event()
    text = " ".join([A, B] * 5)  # about 15 s
    done = {}

    def run():
        done["stats"] = voice.play(text, sink=sink, stop=stop)
        done["t"] = time.monotonic()

    t = threading.Thread(target=run)
    t.start()
    time.sleep(0.5)
    t_stop = time.monotonic()
    stop.set()
    t.join(10)
    assert not t.is_alive()
    assert done["t"] - t_stop < 0.1
    assert 0.3 * 16000 < sink.samples < 0.7 * 16000
    assert sink.closed_ok is False  # aborted: what the card holds is dropped, not played out


def test_play_into_a_sink_plays_everything(voice, parts):
    sink = type("Instant", (ClockSink,), {"write": lambda s, x: setattr(s, "samples", s.samples + len(x))})()
    stats = voice.play(A, sink=sink)
    assert sink.samples == stats.samples_played == len(parts[0])


def test_readme_example_runs_as_written(tmp_path, monkeypatch):
    readme = (Path(__file__).parents[1] / "README.md").read_text()
    section = readme[readme.index("### Python API"):]
    code = re.search(r"```python\n(.*?)```", section, re.S).group(1)
    shutil.copy(default_bundle_dir() / "default_speaker.npy", tmp_path / "me.npy")
    monkeypatch.chdir(tmp_path)
    exec(compile(code, "README.md", "exec"), {})
    with wave.open(str(tmp_path / "table.wav")) as w:
        x = np.frombuffer(w.readframes(w.getnframes()), "<i2")
    assert len(x) > 16000 and np.abs(x).max() > 1000


def test_import_edgevc_stays_light():
    import subprocess
    import sys
    r = subprocess.run([sys.executable, "-c", "import edgevc, sys; print('onnxruntime' in sys.modules,"
                        " 'numpy' in sys.modules); from edgevc import Voice; print(Voice.__name__)"],
                       capture_output=True, text=True, timeout=60)
    assert r.stdout.split() == ["False", "False", "Voice"], r.stderr
    assert sorted(edgevc.__all__) == ["SynthesisConfig", "Voice", "__version__"]
