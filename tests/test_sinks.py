import io
import sys
import wave

import numpy as np
import pytest

from edgevc.audio.io import load_audio
from edgevc.audio.sinks import PyAudioSink, RawSink, WavSink, open_sink
from edgevc.errors import EdgevcError


def test_wav_sink_roundtrip(tmp_path):
    p = tmp_path / "out.wav"
    x = (0.5 * np.sin(np.arange(16000) / 10)).astype(np.float32)
    with WavSink(p, 16000) as s:
        for i in range(0, len(x), 1000):
            s.write(x[i:i + 1000])
        assert not p.exists()  # published only on close
    with wave.open(str(p)) as w:
        assert (w.getnchannels(), w.getsampwidth(), w.getframerate(), w.getnframes()) == (1, 2, 16000, 16000)
    y = load_audio(p)
    assert np.max(np.abs(y - x)) < 1e-3
    assert [f.name for f in tmp_path.iterdir()] == ["out.wav"]


def test_wav_sink_abort_leaves_no_file(tmp_path):
    p = tmp_path / "out.wav"
    with pytest.raises(KeyboardInterrupt):
        with WavSink(p, 16000) as s:
            s.write(np.zeros(100, np.float32))
            raise KeyboardInterrupt
    assert list(tmp_path.iterdir()) == []
    s = WavSink(p, 16000)
    s.write(np.zeros(100, np.float32))
    s.close(ok=False)
    s.close()  # second close is a no-op, does not publish
    assert list(tmp_path.iterdir()) == []


def test_wav_sink_abort_keeps_existing_file(tmp_path):
    p = tmp_path / "out.wav"
    p.write_bytes(b"previous")
    with pytest.raises(RuntimeError):
        with WavSink(p, 16000) as s:
            s.write(np.zeros(100, np.float32))
            raise RuntimeError("synthesis failed")
    assert p.read_bytes() == b"previous"


def test_raw_sink_bytes():
    buf = io.BytesIO()
    s = RawSink(buf, 16000)
    s.write(np.array([0.0, 0.5, -1.0, 1.5], np.float32))
    s.close()
    assert buf.getvalue() == np.array([0, 16384, -32767, 32767], "<i2").tobytes()


class _BrokenPipe(io.RawIOBase):
    def __init__(self):
        self.calls = 0

    def writable(self):
        return True

    def write(self, b):
        self.calls += 1
        raise BrokenPipeError(32, "Broken pipe")


def test_raw_sink_broken_pipe_is_quiet():
    stream = _BrokenPipe()
    s = RawSink(stream, 16000)
    s.write(np.zeros(10, np.float32))  # no exception
    assert s.broken
    s.write(np.zeros(10, np.float32))  # dropped, stream not touched again
    assert stream.calls == 1
    s.close()


def test_pyaudio_missing_gives_install_hint(monkeypatch):
    monkeypatch.setitem(sys.modules, "pyaudio", None)  # makes `import pyaudio` fail
    with pytest.raises(EdgevcError, match=r"pip install 'edgevc\[device\]'"):
        PyAudioSink(16000)
    with pytest.raises(EdgevcError, match="PyAudio"):
        open_sink(None, 16000)


class _FakeStream:
    def __init__(self, host_frames):
        self.host_frames = host_frames
        self.queued = 0
        self.written = b""
        self.stopped = self.closed = False

    def get_write_available(self):
        return self.host_frames - self.queued

    def write(self, data, num_frames):
        self.written += data
        self.queued = min(self.host_frames, num_frames)

    def stop_stream(self):
        self.stopped = True

    def close(self):
        self.closed = True


class _FakePyAudioModule:
    paInt16 = 8

    def __init__(self, stream):
        self.stream = stream
        self.terminated = False
        self.open_kwargs = None
        mod = self

        class PyAudio:
            def open(self, **kw):
                mod.open_kwargs = kw
                return mod.stream

            def terminate(self):
                mod.terminated = True

        self.PyAudio = PyAudio


def test_pyaudio_sink_counts_underruns_and_drains(monkeypatch):
    stream = _FakeStream(host_frames=2048)
    fake = _FakePyAudioModule(stream)
    monkeypatch.setitem(sys.modules, "pyaudio", fake)
    s = PyAudioSink(16000, frames_per_buffer=512, device_index=3)
    assert fake.open_kwargs["output_device_index"] == 3
    assert fake.open_kwargs["frames_per_buffer"] == 512
    s.write(np.zeros(512, np.float32))  # first write: never an underrun
    s.write(np.zeros(512, np.float32))  # buffer still has data queued
    assert s.underruns == 0
    stream.queued = 0  # the device played everything: starved
    s.write(np.zeros(512, np.float32))
    assert s.underruns == 1
    with s:
        pass
    assert stream.stopped and stream.closed and fake.terminated
    assert len(stream.written) == 3 * 512 * 2


def test_pyaudio_sink_abort_does_not_drain(monkeypatch):
    stream = _FakeStream(host_frames=2048)
    fake = _FakePyAudioModule(stream)
    monkeypatch.setitem(sys.modules, "pyaudio", fake)
    s = PyAudioSink(16000)
    s.write(np.zeros(10, np.float32))
    s.close(ok=False)
    assert not stream.stopped and stream.closed and fake.terminated


def test_open_sink_kinds(tmp_path):
    s = open_sink(str(tmp_path / "x.wav"), 16000)
    assert isinstance(s, WavSink)
    s.close(ok=False)
    r = open_sink("-", 16000)
    assert isinstance(r, RawSink) and r.stream is sys.stdout.buffer
