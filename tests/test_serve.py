"""edgevc serve over the wire: the real HTTP and Wyoming servers on free loopback ports,
talked to with real clients (urllib; the `wyoming` package's own client, as Home
Assistant connects). The sound card is a fake that plays in real time and records what it
got and when it was stopped, so playback and barge-in are checked without hardware."""

import asyncio
import contextlib
import json
import shutil
import threading
import time
import urllib.error
import urllib.request
import wave
from io import BytesIO

import numpy as np
import pytest

pytest.importorskip("aiohttp", reason="serve tests need edgevc[serve]")
pytest.importorskip("wyoming", reason="serve tests need edgevc[serve]")

from wyoming.client import AsyncTcpClient
from wyoming.event import Event
from wyoming.info import Describe, Info
from wyoming.tts import Synthesize, SynthesizeVoice

from edgevc.serve.app import Server
from edgevc.serve.config import load_config
from edgevc.serve.output import AudioOutput
from edgevc.serve.service import Service
from edgevc.voice import SynthesisConfig, Voice

SHORT = "Turn left at the next corner."
LONG = " ".join(["This sentence keeps the speaker busy for a while, so it can be stopped."] * 8)
TOKEN = "test-token-123"


@pytest.fixture(scope="module")
def voice():
    return Voice.load()


@pytest.fixture(scope="module")
def me(voice, tmp_path_factory):
    folder = tmp_path_factory.mktemp("speakers")
    shutil.copy(voice.synth.bundle.default_speaker_path, folder / "me.npy")
    return folder


class FakeCard:
    """Takes audio at the real-time rate; records samples, job order and how it closed."""

    sample_rate, block_size = 16000, 1024

    def __init__(self, log):
        self.log, self.samples, self.closed = log, 0, None
        log.append(self)

    def write(self, x):
        time.sleep(len(x) / self.sample_rate)
        self.samples += len(x)

    def close(self, ok=True):
        if self.closed is None:
            self.closed = (ok, time.monotonic())


class Running:
    def __init__(self, service, addresses, loop):
        self.service, self.loop, self.cards = service, loop, []
        self.http = addresses.get("http")
        host, port = addresses["wyoming"].removeprefix("tcp://").rsplit(":", 1)
        self.wy_host, self.wy_port = host, int(port)

    def request(self, method, path, body=None, raw=None, headers=None, token=None):
        data = raw if raw is not None else (None if body is None else json.dumps(body).encode())
        h = {"Content-Type": "application/json"} if data is not None else {}
        if token:
            h["Authorization"] = f"Bearer {token}"
        h.update(headers or {})
        req = urllib.request.Request(self.http + path, data=data, method=method, headers=h)
        try:
            with urllib.request.urlopen(req, timeout=30) as r:
                return r.status, r.headers, r.read()
        except urllib.error.HTTPError as e:
            return e.code, e.headers, e.read()

    def json(self, method, path, body=None, **kw):
        status, _headers, data = self.request(method, path, body, **kw)
        return status, json.loads(data)

    def wyoming(self, coro_fn, timeout=60):
        async def go():
            async with AsyncTcpClient(self.wy_host, self.wy_port) as client:
                return await coro_fn(client)
        return asyncio.run(asyncio.wait_for(go(), timeout))


@contextlib.contextmanager
def running(voice, speakers=None, card_log=None, **overrides):
    """A Service behind both servers on free ports, its event loop in a thread."""
    cfg = load_config(uri="tcp://127.0.0.1:0", http="127.0.0.1:0",
                      speakers=str(speakers) if speakers else None, **overrides)
    log = card_log if card_log is not None else []
    output = AudioOutput(voice.sample_rate, 1024, None, "", open_sink=lambda name: FakeCard(log))
    service = Service(voice, cfg, output)
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    server = Server(service)
    addresses = asyncio.run_coroutine_threadsafe(server.start(), loop).result(30)
    r = Running(service, addresses, loop)
    r.cards = log
    try:
        yield r
    finally:
        asyncio.run_coroutine_threadsafe(server.close(), loop).result(30)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)


@pytest.fixture(scope="module")
def srv(voice, me):
    with running(voice, me) as r:
        yield r


def pcm(x):
    from edgevc.audio.io import float_to_pcm16
    return np.frombuffer(float_to_pcm16(x), "<i2")


def wait_for(cond, timeout=10):
    deadline = time.monotonic() + timeout
    while not cond():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.005)

# -- HTTP ------------------------------------------------------------------------------


def test_health_and_voices(srv):
    status, h = srv.json("GET", "/health")
    assert status == 200 and h["status"] == "ok" and h["queue"] == 0 and h["sample_rate"] == 16000
    status, v = srv.json("GET", "/voices")
    assert v == {"voices": [{"name": "default", "default": True}, {"name": "me", "default": False}]}


def test_new_speaker_file_appears_without_restart(voice, me, tmp_path):
    folder = tmp_path / "spk"
    folder.mkdir()
    with running(voice, folder) as r:
        assert [x["name"] for x in r.json("GET", "/voices")[1]["voices"]] == ["default"]
        shutil.copy(me / "me.npy", folder / "late.npy")
        assert [x["name"] for x in r.json("GET", "/voices")[1]["voices"]] == ["default", "late"]
        status, _, body = r.request("POST", "/speak", {"text": SHORT, "voice": "late", "play": False})
        assert status == 200 and len(body) > 10000


def test_speak_streams_back_the_wav_the_api_makes(srv, voice):
    body = {"text": f"{SHORT} {SHORT}", "voice": "me", "play": False, "rate": 1.2, "volume": 0.7,
            "sentence_silence": 0.2}
    status, headers, data = srv.request("POST", "/speak", body)
    assert status == 200 and headers["Content-Type"] == "audio/wav"
    with wave.open(BytesIO(data)) as w:
        assert (w.getframerate(), w.getnchannels(), w.getsampwidth()) == (16000, 1, 2)
        got = np.frombuffer(w.readframes(10 ** 9), "<i2")
    want = voice.synthesize(body["text"], voice.load_speaker(srv.service.speakers.folder / "me.npy"),
                            SynthesisConfig(1.2, 0.7, 0.2))
    np.testing.assert_array_equal(got, pcm(want))


BAD = [
    (dict(raw=b"{not json"), 400, "not valid JSON"),
    (dict(body=["a list"]), 400, "JSON object"),
    (dict(body={"voice": "me"}), 400, "text: a string is required"),
    (dict(body={"text": SHORT, "speed": 2}), 400, "unknown field 'speed'"),
    (dict(body={"text": SHORT, "rate": 50}), 400, "rate 50.0"),
    (dict(body={"text": SHORT, "volume": "max"}), 400, "volume: must be a number"),
    (dict(body={"text": SHORT, "play": "yes"}), 400, "play: must be true or false"),
    (dict(body={"text": SHORT, "phase": "round"}), 400, "phase 'round'"),
    (dict(body={"text": SHORT, "queue": "drop"}), 400, "only with"),
    (dict(body={"text": "   "}), 400, "text is empty"),
    (dict(body={"text": "x" * 3000}), 413, "limit is 2000"),
    (dict(raw=b'{"text": "' + b"a" * 70000 + b'"}'), 413, "over 65536 bytes"),
    (dict(body={"text": SHORT, "voice": "nobody"}), 404, "not found"),
    (dict(body={"text": SHORT, "voice": "../../etc/passwd"}), 400, "not a voice name"),
    (dict(raw=b"text=hi", headers={"Content-Type": "text/plain"}), 415, "JSON body"),
]


@pytest.mark.parametrize("req, code, msg", BAD, ids=[b[2] for b in BAD])
def test_bad_speak_requests_get_one_line_json_errors(srv, req, code, msg):
    status, headers, data = srv.request("POST", "/speak", **req)
    assert status == code
    assert headers["Content-Type"].startswith("application/json")
    err = json.loads(data)["error"]
    assert msg in err and "\n" not in err


def test_unknown_paths_and_methods(srv):
    assert srv.json("GET", "/nope") == (404, {"error": "Not Found"})
    status, body = srv.json("GET", "/speak")
    assert status == 405 and "error" in body
    assert srv.json("POST", "/stop", raw=b'{"queue": "all"}')[0] == 400


def test_bearer_token(voice):
    with running(voice, None, token=TOKEN) as r:
        assert r.json("GET", "/voices")[0] == 401
        assert r.json("GET", "/voices", token="wrong-token-000")[0] == 401
        assert r.json("GET", "/voices", token=TOKEN)[0] == 200
        assert r.json("GET", "/health")[0] == 200  # left open for monitoring
        assert r.json("POST", "/speak", {"text": SHORT}, token=TOKEN)[0] == 202


def test_play_requests_play_in_order_on_the_card(voice):
    texts = ["One.", "Two two two two.", "Three."]
    with running(voice) as r:
        for t in texts:
            status, body = r.json("POST", "/speak", {"text": t})
            assert status == 202 and body["voice"] == "default"
        wait_for(lambda: len(r.cards) == 3 and r.cards[-1].closed is not None)
        assert [c.samples for c in r.cards] == [len(voice.synthesize(t)) for t in texts]
        assert all(c.closed[0] for c in r.cards)  # played out, not aborted
        assert r.json("GET", "/health")[1]["spoken"] == 3


def _speaking(r):
    return lambda: r.cards and r.cards[-1].samples > 8000


@pytest.mark.parametrize("queue", ["drop", "keep"])
def test_stop_silences_the_card_within_100ms(voice, queue):
    with running(voice) as r:
        r.json("POST", "/speak", {"text": LONG})
        r.json("POST", "/speak", {"text": SHORT})
        wait_for(_speaking(r))
        t0 = time.monotonic()
        status, body = r.json("POST", "/stop", {"queue": queue})
        assert status == 200 and body["stopped"] is True
        card = r.cards[0]
        wait_for(lambda: card.closed is not None, 2)
        ok, t_closed = card.closed
        assert ok is False  # aborted: what the card held is dropped, not played out
        assert t_closed - t0 < 0.1
        if queue == "drop":
            assert body["dropped"] == 1
            time.sleep(0.2)
            assert len(r.cards) == 1
        else:
            wait_for(lambda: len(r.cards) == 2 and r.cards[1].closed is not None)
            assert r.cards[1].samples == len(voice.synthesize(SHORT))


def test_priority_request_barges_in(voice):
    with running(voice) as r:
        r.json("POST", "/speak", {"text": LONG})
        r.json("POST", "/speak", {"text": LONG})
        wait_for(_speaking(r))
        status, body = r.json("POST", "/speak", {"text": SHORT, "priority": True, "queue": "drop"})
        assert status == 202 and body["ahead"] == 0
        wait_for(lambda: len(r.cards) == 2 and r.cards[1].closed is not None)
        assert r.cards[0].closed[0] is False
        assert r.cards[1].samples == len(voice.synthesize(SHORT))
        time.sleep(0.2)
        assert len(r.cards) == 2  # the other long one was dropped


def test_a_full_queue_answers_429(voice):
    with running(voice, max_queue=2) as r:
        r.json("POST", "/speak", {"text": LONG})
        wait_for(_speaking(r))
        assert r.json("POST", "/speak", {"text": SHORT})[0] == 202
        assert r.json("POST", "/speak", {"text": SHORT})[0] == 202
        status, body = r.json("POST", "/speak", {"text": SHORT})
        assert status == 429 and "full" in body["error"]
        assert r.json("GET", "/health")[1]["queue"] == 2
        r.json("POST", "/stop")


def test_a_dead_sound_card_is_reported_and_falls_back(voice):
    opened = []

    def open_sink(name):
        opened.append(name)
        if name == "usb":
            raise OSError("device unplugged")
        return FakeCard([])

    cfg = load_config(uri="tcp://127.0.0.1:0", http="127.0.0.1:0")
    out = AudioOutput(16000, 1024, "usb", "", open_sink=open_sink)
    service = Service(voice, cfg, out)
    try:
        job = service.make_job(service.parse_speak({"text": SHORT}))
        service.submit(job)
        assert job.done.wait(10) and job.state == "done"
        assert opened == ["usb", ""]
        st = service.health()["audio_output"]
        assert st["ok"] and st["fallback"] and st["device"] == "default" and "unplugged" in st["error"]
    finally:
        service.close()

    def none_works(name):
        raise OSError("no card")
    service = Service(voice, cfg, AudioOutput(16000, 1024, None, "", open_sink=none_works))
    try:
        job = service.make_job(service.parse_speak({"text": SHORT}))
        service.submit(job)
        assert job.done.wait(10) and job.state == "failed"
        assert service.health()["audio_output"]["ok"] is False
        from edgevc.serve.output import OutputUnavailable
        with pytest.raises(OutputUnavailable, match="no audio output works"):
            service.make_job(service.parse_speak({"text": SHORT}))  # refused at once (503)
        from edgevc.serve.queue import ChunkChannel
        loop = asyncio.new_event_loop()
        req = service.parse_speak({"text": SHORT, "play": False})
        assert not service.make_job(req, ChunkChannel(loop)).plays  # streams are still taken
        loop.close()
    finally:
        service.close()


def test_a_client_that_leaves_mid_stream_costs_nothing(srv, voice):
    import http.client
    host, port = srv.http.removeprefix("http://").rsplit(":", 1)
    conn = http.client.HTTPConnection(host, int(port), timeout=30)
    conn.request("POST", "/speak", json.dumps({"text": LONG * 3, "play": False}),
                 {"Content-Type": "application/json"})
    resp = conn.getresponse()
    assert resp.status == 200
    resp.read(20000)
    conn.sock.close()
    conn.close()
    wait_for(lambda: srv.service.queue.current is None, 5)  # its job was stopped
    status, _, data = srv.request("POST", "/speak", {"text": SHORT, "play": False})
    assert status == 200 and len(data) > 44

# -- Wyoming ---------------------------------------------------------------------------


async def _collect(client, until=("audio-stop", "error")):
    events = []
    while True:
        e = await client.read_event()
        assert e is not None, "connection closed"
        events.append(e)
        if e.type in until:
            return events


def test_describe_lists_the_voices(srv):
    async def go(client):
        await client.write_event(Describe().event())
        return Info.from_event(await client.read_event())

    info = srv.wyoming(go)
    (prog,) = info.tts
    assert prog.name == "edgevc" and prog.installed
    assert [v.name for v in prog.voices] == ["default", "me"]


@pytest.mark.parametrize("name", [None, "me"])
def test_synthesize_streams_audio_chunks(srv, voice, name):
    text = f"{SHORT} {SHORT} {SHORT}"

    async def go(client):
        voice_arg = SynthesizeVoice(name=name) if name else None
        await client.write_event(Synthesize(text=text, voice=voice_arg).event())
        return await _collect(client)

    events = srv.wyoming(go)
    types = [e.type for e in events]
    assert types[0] == "audio-start" and types[-1] == "audio-stop"
    assert set(types[1:-1]) == {"audio-chunk"} and len(types) > 4  # streamed in pieces
    assert events[0].data["rate"] == 16000 and events[0].data["width"] == 2
    got = np.frombuffer(b"".join(e.payload for e in events[1:-1]), "<i2")
    spk = voice.load_speaker(srv.service.speakers.folder / "me.npy") if name else None
    np.testing.assert_array_equal(got, pcm(voice.synthesize(text, spk)))


@pytest.mark.parametrize("event, code", [
    (Synthesize(text="   ").event(), "bad-request"),
    (Synthesize(text=SHORT, voice=SynthesizeVoice(name="nobody")).event(), "unknown-voice"),
    (Synthesize(text=SHORT, voice=SynthesizeVoice(name="../me")).event(), "bad-request"),
    (Synthesize(text="y" * 2500).event(), "too-large"),
    (Event("synthesize", {"text": 7}), "bad-request"),
])
def test_bad_synthesize_gets_an_error_event_and_the_connection_goes_on(srv, event, code):
    async def go(client):
        await client.write_event(event)
        err = await client.read_event()
        await client.write_event(Event("ping", {}))
        return err, await client.read_event()

    err, pong = srv.wyoming(go)
    assert err.type == "error" and err.data["code"] == code and "\n" not in err.data["text"]
    assert pong.type == "pong"


@pytest.mark.parametrize("raw", [b"this is not json\n", b'{"data": {}}\n',
                                 b'{"type": "synthesize", "data_length": 99999999}\n',
                                 b'{"type": "x", "payload_length": -5}\n', b"x" * 70000 + b"\n"])
def test_malformed_events_get_an_error_and_a_closed_connection(srv, raw):
    async def go(_):
        reader, writer = await asyncio.open_connection(srv.wy_host, srv.wy_port)
        writer.write(raw)
        await writer.drain()
        line = await reader.readline()
        head = json.loads(line)
        body = json.loads(await reader.readexactly(head["data_length"]))
        rest = await reader.read()  # closed by the server
        writer.close()
        return head["type"], body, rest

    kind, body, rest = srv.wyoming(go)
    assert kind == "error" and body["code"] == "bad-event" and rest == b""
    assert srv.json("GET", "/health")[0] == 200  # still serving


def test_wyoming_stop_ends_a_stream_early(srv):
    async def go(client):
        await client.write_event(Synthesize(text=LONG * 3).event())
        first = await client.read_event()
        assert first.type == "audio-start"
        await asyncio.sleep(0.3)  # the worker fills this client's channel and waits for it
        async with AsyncTcpClient(srv.wy_host, srv.wy_port) as other:
            await other.write_event(Event("stop", {"queue": "drop"}))
        return await _collect(client)

    events = srv.wyoming(go)
    assert events[-1].type == "audio-stop"
    got = sum(len(e.payload) for e in events if e.type == "audio-chunk") // 2
    assert got < 0.5 * 16000 * 3 * 40  # far less than the ~2 minutes asked for


def test_wyoming_client_that_leaves_mid_stream_costs_nothing(srv):
    async def go(_):
        reader, writer = await asyncio.open_connection(srv.wy_host, srv.wy_port)
        from wyoming.event import async_write_event
        await async_write_event(Synthesize(text=LONG * 3).event(), writer)
        await reader.readline()  # audio-start's header: it is streaming
        writer.transport.abort()  # gone, without reading the rest

    srv.wyoming(go)
    wait_for(lambda: srv.service.queue.current is None, 5)  # its job was stopped


def test_wyoming_half_closed_client_still_gets_its_audio(srv):
    async def go(_):
        reader, writer = await asyncio.open_connection(srv.wy_host, srv.wy_port)
        from wyoming.event import async_read_event, async_write_event
        await async_write_event(Synthesize(text=SHORT).event(), writer)
        writer.write_eof()  # like `... | nc HOST 10200`: nothing more to send
        types = []
        while (e := await async_read_event(reader)) is not None:
            types.append(e.type)
        writer.close()
        return types

    types = srv.wyoming(go)
    assert types[0] == "audio-start" and types[-1] == "audio-stop"


def test_wyoming_queue_full_is_an_error_event(voice):
    with running(voice, max_queue=1) as r:
        r.json("POST", "/speak", {"text": LONG})
        wait_for(_speaking(r))
        r.json("POST", "/speak", {"text": SHORT})

        async def go(client):
            await client.write_event(Synthesize(text=SHORT).event())
            return await client.read_event()

        err = r.wyoming(go)
        assert err.type == "error" and err.data["code"] == "queue-full"
        r.json("POST", "/stop")

# -- FIFO ------------------------------------------------------------------------------


def test_fifo_lines_are_spoken_in_order(voice, tmp_path):
    import os
    fifo = tmp_path / "say"
    with running(voice, fifo=str(fifo), max_request_bytes=1024) as r:
        assert fifo.is_fifo()
        fd = os.open(fifo, os.O_WRONLY)
        try:
            os.write(fd, b"One.\n\n" + b"z" * 5000 + b"\nTwo two two two.\n")
        finally:
            os.close(fd)  # a writer closing is not the end: the server holds the FIFO open
        wait_for(lambda: len(r.cards) == 2 and r.cards[1].closed is not None)
        fd = os.open(fifo, os.O_WRONLY)
        os.write(fd, b"Three.\n")
        os.close(fd)
        wait_for(lambda: len(r.cards) == 3 and r.cards[2].closed is not None)
        want = [len(voice.synthesize(t)) for t in ("One.", "Two two two two.", "Three.")]
        assert [c.samples for c in r.cards] == want  # the over-long line was dropped whole
