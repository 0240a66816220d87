import wave

import numpy as np
import pytest
import soundfile as sf

from edgevc.audio.io import float_to_pcm16, load_audio, resample, write_wav
from edgevc.errors import InputError


def tone(freq, sr, seconds=1.0, amp=1.0):
    t = np.arange(int(sr * seconds)) / sr
    return (amp * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def dominant_freq(x, sr):
    spec = np.abs(np.fft.rfft(x * np.hanning(len(x))))
    return np.argmax(spec) * sr / len(x)


def test_resample_keeps_tone_frequency_and_amplitude():
    y = resample(tone(1000, 48000), 48000, 16000)
    mid = y[1000:-1000]  # away from the zero-padded edges
    assert abs(dominant_freq(mid, 16000) - 1000) < 5
    assert abs(np.max(np.abs(mid)) - 1.0) < 0.05


def test_resample_removes_tone_above_new_nyquist():
    y = resample(tone(10000, 48000), 48000, 16000)[1000:-1000]
    rms_db = 20 * np.log10(np.sqrt(np.mean(y ** 2)) / np.sqrt(0.5) + 1e-12)
    assert rms_db < -30


@pytest.mark.parametrize("sr_in,sr_out,n", [(48000, 16000, 48001), (44100, 16000, 44100),
                                            (22050, 16000, 12345), (8000, 16000, 8001),
                                            (16000, 44100, 777)])
def test_resample_length(sr_in, sr_out, n):
    y = resample(np.zeros(n, np.float32), sr_in, sr_out)
    assert abs(len(y) - round(n * sr_out / sr_in)) <= 1
    assert y.dtype == np.float32


def test_resample_upsampling_keeps_tone():
    y = resample(tone(440, 8000), 8000, 16000)[500:-500]
    assert abs(dominant_freq(y, 16000) - 440) < 5
    assert abs(np.max(np.abs(y)) - 1.0) < 0.05


def test_resample_identity_and_constant():
    x = np.random.default_rng(0).standard_normal(1000).astype(np.float32)
    assert np.array_equal(resample(x, 16000, 16000), x)
    y = resample(np.full(44100, 0.5, np.float32), 44100, 16000)
    assert np.allclose(y[200:-200], 0.5, atol=1e-3)


def test_load_audio_stereo_int16_44k(tmp_path):
    left = tone(1000, 44100, 0.5, 0.5)
    data = np.stack([left, -left * 0], axis=1)  # right channel silent -> mean halves it
    p = tmp_path / "a.wav"
    sf.write(p, data, 44100, subtype="PCM_16")
    y = load_audio(p)
    assert y.dtype == np.float32 and y.ndim == 1
    assert abs(len(y) - 8000) <= 1
    assert abs(np.max(np.abs(y[500:-500])) - 0.25) < 0.02
    assert abs(dominant_freq(y, 16000) - 1000) < 5


def test_load_audio_flac_and_float_peak(tmp_path):
    p = tmp_path / "a.flac"
    sf.write(p, tone(500, 16000, 0.25, 0.9), 16000)
    y = load_audio(p)
    assert len(y) == 4000 and abs(np.max(np.abs(y)) - 0.9) < 0.01
    q = tmp_path / "loud.wav"
    sf.write(q, tone(500, 16000, 0.25, 3.0), 16000, subtype="FLOAT")
    z = load_audio(q)
    assert np.max(np.abs(z)) <= 1.0 and np.max(np.abs(z)) > 0.95


def test_load_audio_errors_name_the_file(tmp_path):
    with pytest.raises(InputError, match=r"missing\.wav.*not found"):
        load_audio(tmp_path / "missing.wav")
    bad = tmp_path / "bad.wav"
    bad.write_bytes(b"this is not audio at all" * 10)
    with pytest.raises(InputError, match=r"bad\.wav.*cannot decode") as ei:
        load_audio(bad)
    assert "\n" not in str(ei.value)
    empty = tmp_path / "empty.wav"
    sf.write(empty, np.zeros(0, np.float32), 16000)
    with pytest.raises(InputError, match=r"empty\.wav.*no samples"):
        load_audio(empty)
    nan = tmp_path / "nan.wav"
    sf.write(nan, np.array([0.0, np.nan, 0.1], np.float32), 16000, subtype="FLOAT")
    with pytest.raises(InputError, match=r"nan\.wav.*NaN"):
        load_audio(nan)


def test_float_to_pcm16_clips_and_rounds():
    b = float_to_pcm16(np.array([0.0, 1.0, -1.0, 2.0, -2.0, 0.5, np.nan], np.float32))
    v = np.frombuffer(b, "<i2")
    assert v.tolist() == [0, 32767, -32767, 32767, -32767, 16384, 0]


def test_write_wav_roundtrip(tmp_path):
    p = tmp_path / "out.wav"
    x = tone(300, 16000, 0.5, 0.5)
    write_wav(p, x)
    with wave.open(str(p)) as w:
        assert (w.getnchannels(), w.getsampwidth(), w.getframerate(), w.getnframes()) == (1, 2, 16000, 8000)
    y = load_audio(p)
    assert np.max(np.abs(y - x)) < 1e-3
    assert [f.name for f in tmp_path.iterdir()] == ["out.wav"]  # no temp left behind


def test_write_wav_failure_keeps_existing_file(tmp_path, monkeypatch):
    p = tmp_path / "out.wav"
    p.write_bytes(b"old")

    def boom(*a, **k):
        raise OSError("disk full")

    monkeypatch.setattr("edgevc.audio.io.os.replace", boom)
    with pytest.raises(InputError, match=r"out.wav: cannot write \(disk full\)"):
        write_wav(p, np.zeros(100, np.float32))
    assert p.read_bytes() == b"old"
    assert [f.name for f in tmp_path.iterdir()] == ["out.wav"]


def test_write_wav_missing_folder(tmp_path):
    with pytest.raises(InputError, match="does not exist"):
        write_wav(tmp_path / "nope" / "out.wav", np.zeros(10, np.float32))
