"""Barge-in at the sound card: `edgevc serve` plays through PyAudio and PortAudio into the
test-only real-time ALSA device (tests/alsa/), and POST /stop, a Wyoming stop or SIGUSR1
must silence it within 100 ms, by the device's own clock and sample count.

Skipped, with the reason, without PyAudio, the serve extra, or the clock device (which
needs a C compiler and the ALSA headers).
"""

import asyncio
import importlib.util
import json
import signal
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from conftest import serve_process

pytest.importorskip("pyaudio", reason="playback tests need PyAudio: pip install 'edgevc[device]'")
pytest.importorskip("aiohttp", reason="serve tests need edgevc[serve]")
pytest.importorskip("wyoming", reason="serve tests need edgevc[serve]")

LONG = " ".join(["This sentence keeps the speaker busy for a while, so it can be stopped."] * 10)
SHORT = "Turn left at the next corner."


def _load_rig():
    path = Path(__file__).parent / "alsa" / "rig.py"
    spec = importlib.util.spec_from_file_location("edgevc_test_alsa_rig_serve", path)
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod
    spec.loader.exec_module(mod)
    return mod


rig_mod = _load_rig()


@pytest.fixture(scope="module")
def rig(tmp_path_factory):
    r = rig_mod.make_rig(tmp_path_factory.mktemp("alsa"))
    names, err = r.outputs()
    if err or rig_mod.FILE_DEVICE not in names:
        pytest.skip(f"PortAudio does not list the test ALSA devices: {err or names}")
    if not r.has_clock:
        pytest.skip(r.clock_error)
    return r


@pytest.fixture(scope="module")
def server(rig):
    # 4096-frame periods (256 ms): a stop that waited for a period to play out would miss.
    with serve_process(["--uri", "tcp://127.0.0.1:0", "--http", "127.0.0.1:0",
                        "--device", rig_mod.CLOCK_DEVICE, "--frames-per-buffer", "4096"],
                       rig.env, graceful_stop=True) as running:
        yield running


def _post(url, body):
    req = urllib.request.Request(url, json.dumps(body).encode(),
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=30) as r:
        return r.status, json.load(r)


def _wyoming_stop(addr):
    from wyoming.client import AsyncTcpClient
    from wyoming.event import Event
    host, port = addr.removeprefix("tcp://").rsplit(":", 1)

    async def go():
        async with AsyncTcpClient(host, int(port)) as c:
            await c.write_event(Event("stop", {"queue": "drop"}))
    asyncio.run(go())


def _wait_events(rig, pred, timeout=30):
    deadline = time.monotonic() + timeout
    while True:
        events = rig.clock_events()
        if pred(events):
            return events
        assert time.monotonic() < deadline, events
        time.sleep(0.005)


@pytest.mark.parametrize("how", ["http", "wyoming", "sigusr1"])
def test_stop_silences_the_card_within_100ms(rig, server, how):
    p, addrs = server
    rig.reset()
    assert _post(addrs["http"] + "/speak", {"text": LONG})[0] == 202
    _post(addrs["http"] + "/speak", {"text": SHORT})  # dropped by the stop
    events = _wait_events(rig, lambda ev: any(e[0] == "start" for e in ev))
    time.sleep(0.3)  # mid-sentence
    t_stop = time.monotonic()  # CLOCK_MONOTONIC, the clock the device logs in
    if how == "http":
        assert _post(addrs["http"] + "/stop", {})[1]["stopped"] is True
    elif how == "wyoming":
        _wyoming_stop(addrs["wyoming"])
    else:
        p.send_signal(signal.SIGUSR1)
    events = _wait_events(rig, lambda ev: ev and ev[-1][0] == "close", 10)
    names = [e[0] for e in events]
    assert names[0] == "start" and "xrun" not in names, names
    start = events[0][1]
    stop = next(e for e in events if e[0] == "stop")
    assert stop[1] - t_stop < 0.1  # the sound stopped (queued audio dropped) ...
    played = len(rig.clock_samples())
    assert played / 16000 - (t_stop - start) < 0.1  # ... having played < 100 ms more
    time.sleep(0.3)
    assert [e[0] for e in rig.clock_events()].count("start") == 1  # the queue was dropped
    assert p.poll() is None
    health = json.load(urllib.request.urlopen(addrs["http"] + "/health", timeout=10))
    assert health["audio_output"]["ok"] is True and health["audio_output"]["fallback"] is False


def test_an_utterance_plays_to_its_last_sample(rig, server):
    import numpy as np

    from edgevc.audio.io import float_to_pcm16
    from edgevc.voice import Voice
    _p, addrs = server
    rig.reset()
    _post(addrs["http"] + "/speak", {"text": SHORT})
    _wait_events(rig, lambda ev: ev and ev[-1][0] == "close")
    want = np.frombuffer(float_to_pcm16(Voice.load().synthesize(SHORT)), "<i2")
    played = rig.clock_samples()
    assert len(played) >= len(want) and np.array_equal(played[:len(want)], want)
    assert not np.any(played[len(want):])
