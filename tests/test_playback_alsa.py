"""Real playback: `edgevc speak` through PyAudio and PortAudio into test-only ALSA devices.

No sound card is needed (tests/alsa/rig.py): `edgevc_file` is the ALSA `file` PCM, which
records every sample written to it; `edgevc_clock` (tests/alsa/pcm_edgevc_clock.c) is a
real-time device that records what it played, reports xruns and drops queued audio on
abort. Each edgevc runs in a child process with ALSA_CONFIG_PATH set, as a user would.

Skipped, with the reason, when PyAudio is missing or PortAudio cannot list the devices;
the clock tests also need a C compiler and the ALSA headers (what building PyAudio needs).
"""

import importlib.util
import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from edgevc.audio.io import load_audio

pytest.importorskip("pyaudio", reason="playback tests need PyAudio: pip install 'edgevc[device]'")


def _load_rig():
    path = Path(__file__).parent / "alsa" / "rig.py"
    spec = importlib.util.spec_from_file_location("edgevc_test_alsa_rig", path)
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod  # dataclasses look the module up by name
    spec.loader.exec_module(mod)
    return mod


rig_mod = _load_rig()
SHORT = "Turn left at the next corner."
LONG = ("This sentence is long enough to keep the speaker busy for several seconds, so that "
        "it can be stopped halfway through. After it comes another one, and then a third, "
        "which nobody should ever hear to the end.")


@pytest.fixture(scope="module")
def rig(tmp_path_factory):
    r = rig_mod.make_rig(tmp_path_factory.mktemp("alsa"))
    names, err = r.outputs()
    if err or rig_mod.FILE_DEVICE not in names:
        pytest.skip(f"PortAudio does not list the test ALSA devices: {err or names}")
    return r


@pytest.fixture
def clock(rig):
    if not rig.has_clock:
        pytest.skip(rig.clock_error)
    rig.reset()
    return rig


def speak(rig, *args, timeout=120):
    return subprocess.run([sys.executable, "-m", "edgevc", "speak", *map(str, args)],
                          env=rig.env, capture_output=True, text=True, timeout=timeout)


@pytest.fixture(scope="module")
def short_wav(rig, tmp_path_factory):
    """The WAV samples of SHORT, as int16 (what `--out` writes)."""
    path = tmp_path_factory.mktemp("wav") / "short.wav"
    r = speak(rig, SHORT, "--out", path)
    assert r.returncode == 0, r.stderr
    return np.rint(load_audio(path) * 32768).astype(np.int16)


def assert_is_wav_then_silence(played, wav, max_pad):
    # Exact equality, no tolerance: --out and playback both quantize with
    # float_to_pcm16, PortAudio gets int16 at the stream rate (no conversion), and both
    # ALSA devices store the bytes as given. The sink appends at most one period of
    # silence at the end (see PyAudioSink); nothing is added in front.
    assert len(played) >= len(wav), f"only {len(played)} of {len(wav)} samples reached the device"
    assert np.array_equal(played[:len(wav)], wav)
    assert len(played) - len(wav) <= max_pad
    assert not np.any(played[len(wav):])


def test_played_samples_equal_the_wav(rig, short_wav):
    rig.reset()
    r = speak(rig, SHORT, "--device", rig_mod.FILE_DEVICE, "--frames-per-buffer", 512, "--json")
    assert r.returncode == 0, r.stderr
    report = json.loads(r.stdout)
    assert report["out"] is None and isinstance(report["underruns"], int)
    played = rig.file_samples()
    assert_is_wav_then_silence(played, short_wav, max_pad=512)
    # The file PCM keeps everything written: the whole one-period pad is there, which
    # shows --frames-per-buffer reached the sink.
    assert len(played) - len(short_wav) == 512


def test_realtime_device_plays_to_the_end_without_underruns(clock, short_wav):
    r = speak(clock, SHORT, "--device", rig_mod.CLOCK_DEVICE, "--json")
    assert r.returncode == 0, r.stderr
    # Every sample was heard, the last period too (PortAudio's ALSA backend drops what is
    # queued on stop; the sink has to wait for it to play out).
    assert_is_wav_then_silence(clock.clock_samples(), short_wav, max_pad=4096)
    events = [e[0] for e in clock.clock_events()]
    assert "xrun" not in events and events[-1] == "close"
    assert json.loads(r.stdout)["underruns"] == 0
    assert "underran" not in r.stderr


_STARVE = """
import json, logging, sys, time
import numpy as np
from edgevc.playback.sinks import PyAudioSink
from edgevc.runtime.devices import output_device_index
from edgevc.playback.player import play

logging.basicConfig(level=logging.WARNING, format="%(levelname)s: %(message)s")
rate, gaps = 16000, int(sys.argv[1])
t = np.arange(rate // 5) / rate
tone = (0.3 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)  # 200 ms per chunk

def chunks():  # a synthesizer that stalls `gaps` times for longer than the device buffer
    for i in range(gaps + 1):
        if i:
            time.sleep(0.4)
        yield tone

sink = PyAudioSink(rate, 256, output_device_index(sys.argv[2]))
with sink:
    stats = play(chunks(), sink, buffer_samples=rate)
print(json.dumps({"underruns": stats.underruns, "played": stats.samples_played}))
"""


def test_underruns_are_counted_and_reported(clock):
    gaps = 3
    r = subprocess.run([sys.executable, "-c", _STARVE, str(gaps), rig_mod.CLOCK_DEVICE],
                       env=clock.env, capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    report = json.loads(r.stdout.strip().splitlines()[-1])
    xruns = [e for e in clock.clock_events() if e[0] == "xrun"]
    assert len(xruns) == gaps  # the device really ran dry once per stall
    assert report["underruns"] == gaps
    assert f"audio output underran {gaps} time(s)" in r.stderr
    # Nothing lost around the underruns: every sample was played, in order.
    played = clock.clock_samples()
    assert report["played"] == 3200 * (gaps + 1)
    assert len(played) >= report["played"]
    assert np.count_nonzero(played[:report["played"]]) > 0.9 * report["played"]


@pytest.mark.parametrize("sig, code", [(signal.SIGINT, 130), (signal.SIGTERM, 143)],
                         ids=["SIGINT", "SIGTERM"])
def test_signal_stops_the_sound_within_100ms(clock, sig, code):
    # 4096 frames = 256 ms periods: a sink that blocks in PortAudio for a period at a
    # time (where Python cannot run signal handlers) would miss 100 ms most of the time.
    p = subprocess.Popen([sys.executable, "-m", "edgevc", "speak", LONG, "--device",
                          rig_mod.CLOCK_DEVICE, "--frames-per-buffer", "4096"], env=clock.env,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 60
        while not any(e[0] == "start" for e in clock.clock_events()):
            assert p.poll() is None, p.communicate()[1]
            assert time.monotonic() < deadline, "playback never started"
            time.sleep(0.01)
        time.sleep(0.3)  # mid-sentence
        t_signal = time.monotonic()  # CLOCK_MONOTONIC, the clock the device logs in
        p.send_signal(sig)
        _, err = p.communicate(timeout=30)
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
    assert p.returncode == code, err
    assert "Traceback" not in err and "edgevc: error" not in err, err
    events = clock.clock_events()
    names = [e[0] for e in events]
    assert names[0] == "start" and "xrun" not in names and names[-1] == "close", names
    start = events[0][1]
    stop = next(e for e in events if e[0] == "stop")
    # The sound stopped (queued audio dropped) within 100 ms of the signal ...
    assert stop[1] - t_signal < 0.1
    # ... and the device played at most 100 ms of audio after it, by its own count.
    played = len(clock.clock_samples())
    assert played == stop[2]
    assert played / 16000 - (t_signal - start) < 0.1
