import io
import sys
import wave

import numpy as np
import pytest

from edgevc.audio.io import float_to_pcm16, load_audio
from edgevc.errors import EdgevcError
from edgevc.playback import sinks
from edgevc.playback.sinks import PyAudioSink, RawSink, WavSink, open_sink


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


class _FakeClock:
    """Stands in for the sink's `time` module: sleeping advances the clock."""

    def __init__(self):
        self.now = 0.0
        self.sleeps = []

    def monotonic(self):
        return self.now

    def sleep(self, s):
        self.sleeps.append(s)
        self.now += s


class _FakeDevice:
    """A PortAudio output stream in blocking mode over a device that plays `rate` frames
    per second of the fake clock (or everything at once when `instant`)."""

    def __init__(self, clock, host_frames=512, rate=16000, instant=False):
        self.clock, self.host_frames, self.rate, self.instant = clock, host_frames, rate, instant
        self.queued = 0.0
        self.last = 0.0
        self.written = b""
        self.starved = 0  # times the device really ran dry while playing
        self.queued_at_stop = None
        self.stopped = self.closed = False

    def _play(self):
        if self.written:
            due = (self.clock.now - self.last) * self.rate
            if self.instant or due > self.queued:
                if self.queued and due > self.queued:
                    self.starved += 1
                self.queued = 0.0
            else:
                self.queued -= due
        self.last = self.clock.now

    def get_write_available(self):
        self._play()
        return self.host_frames - int(round(self.queued))

    def write(self, data, num_frames):
        # A real blocking write would wait here; the sink must never ask for more than fits.
        assert num_frames <= self.get_write_available(), "write would block"
        assert len(data) == 2 * num_frames
        self.written += data
        self.queued += num_frames
        self._play()

    def stop_stream(self):
        self.queued_at_stop = self.host_frames - self.get_write_available()
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


@pytest.fixture
def fake_clock(monkeypatch):
    clock = _FakeClock()
    monkeypatch.setattr(sinks, "time", clock)
    return clock


def _fake_sink(monkeypatch, stream, **kw):
    fake = _FakePyAudioModule(stream)
    monkeypatch.setitem(sys.modules, "pyaudio", fake)
    return PyAudioSink(16000, **kw), fake


def test_pyaudio_sink_paces_writes_and_plays_out_before_stopping(monkeypatch, fake_clock):
    dev = _FakeDevice(fake_clock, host_frames=512)
    s, fake = _fake_sink(monkeypatch, dev, frames_per_buffer=256, device_index=3)
    assert fake.open_kwargs["output_device_index"] == 3
    assert fake.open_kwargs["frames_per_buffer"] == 256
    x = (0.5 * np.sin(np.arange(3000) / 7)).astype(np.float32)
    s.write(x[:1000])  # more than the host buffer holds: must wait, in short sleeps
    s.write(x[1000:])
    assert fake_clock.sleeps and max(fake_clock.sleeps) <= PyAudioSink._MAX_SLEEP_S
    s.close()
    # All audio, then one period of silence; stopped only once the audio had played
    # (PortAudio's ALSA backend drops whatever is still queued at stop).
    pcm = np.frombuffer(dev.written, "<i2")
    assert np.array_equal(pcm[:3000], np.frombuffer(float_to_pcm16(x), "<i2"))
    assert len(pcm) == 3000 + 256 and not pcm[3000:].any()
    assert dev.stopped and dev.queued_at_stop <= 256
    assert dev.closed and fake.terminated
    assert s.underruns == dev.starved == 0


def test_pyaudio_sink_counts_real_underruns_only(monkeypatch, fake_clock):
    dev = _FakeDevice(fake_clock, host_frames=512)
    s, _ = _fake_sink(monkeypatch, dev, frames_per_buffer=256)
    block = np.zeros(256, np.float32)
    s.write(block)
    s.write(block)
    assert s.underruns == 0
    fake_clock.now += 0.5  # synthesis stalls for longer than the device buffer
    s.write(block)
    assert s.underruns == dev.starved == 1
    s.write(block)
    s.close()
    assert s.underruns == 1

    # A device that takes audio faster than real time (ALSA null or file PCM) always has
    # the whole buffer free; that is not starvation.
    instant = _FakeDevice(fake_clock, host_frames=512, instant=True)
    s2, _ = _fake_sink(monkeypatch, instant, frames_per_buffer=256)
    for _ in range(10):
        s2.write(block)
    assert s2.underruns == 0
    s2.close()


def test_pyaudio_sink_underruns_are_logged(monkeypatch, fake_clock, caplog):
    s, _ = _fake_sink(monkeypatch, _FakeDevice(fake_clock, host_frames=512), frames_per_buffer=256)
    s.write(np.zeros(256, np.float32))
    fake_clock.now += 1.0
    s.write(np.zeros(256, np.float32))
    with caplog.at_level("WARNING", logger="edgevc.playback.sinks"):
        s.close()
    assert "audio output underran 1 time(s)" in caplog.text


def test_pyaudio_sink_abort_does_not_drain(monkeypatch, fake_clock):
    dev = _FakeDevice(fake_clock, host_frames=2048)
    s, fake = _fake_sink(monkeypatch, dev)
    s.write(np.zeros(1000, np.float32))
    n_sleeps = len(fake_clock.sleeps)
    s.close(ok=False)
    assert not dev.stopped and dev.closed and fake.terminated
    assert len(fake_clock.sleeps) == n_sleeps  # no waiting for the queue to play
    assert len(dev.written) == 2000  # no silence padded


def test_open_sink_kinds(tmp_path):
    s = open_sink(str(tmp_path / "x.wav"), 16000)
    assert isinstance(s, WavSink)
    s.close(ok=False)
    r = open_sink("-", 16000)
    assert isinstance(r, RawSink) and r.stream is sys.stdout.buffer


def test_portaudio_noise_kept_off_stderr_but_python_errors_still_show(capfd):
    import os

    from edgevc.playback.portaudio import quiet_native_stderr

    with quiet_native_stderr():
        os.write(2, b"ALSA lib pcm.c: Unknown PCM cards.pcm.rear\n")
    os.write(2, b"after\n")
    assert capfd.readouterr().err == "after\n"
