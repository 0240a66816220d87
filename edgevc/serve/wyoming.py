"""Wyoming over TCP, the protocol Home Assistant speaks to TTS services (`wyoming` package).

    describe     -> info: one TTS program, "edgevc", with a voice per speaker (the default
                    voice and every NAME.npy in the speakers folder, read at each describe)
    synthesize   -> audio-start, audio-chunk... (16 kHz mono 16-bit, each chunk as soon
                    as it is made), audio-stop; or error (bad text or voice, queue full)
    ping         -> pong
    stop         -> (edgevc's own event, {"queue": "drop"|"keep"}) barge-in: stops the
                    current speech, like POST /stop; a stream it cuts ends with audio-stop

Events are read with size limits of our own (the `wyoming` reader trusts the lengths a
client sends); events of other types are ignored, as Wyoming servers do. A client that
disconnects has its queued and running jobs stopped.
"""

from __future__ import annotations

import asyncio
import json
import logging

from wyoming.audio import AudioChunk, AudioStart, AudioStop
from wyoming.error import Error
from wyoming.event import Event, async_write_event
from wyoming.info import Attribution, Describe, Info, TtsProgram, TtsVoice
from wyoming.ping import Ping, Pong
from wyoming.tts import Synthesize

from edgevc import __version__
from edgevc.errors import InputError
from edgevc.serve.output import OutputUnavailable
from edgevc.serve.queue import ChunkChannel, Closed, End, QueueFull
from edgevc.serve.service import Service, SpeakRequest, TooLarge, queue_mode
from edgevc.serve.speakers import UnknownVoice

log = logging.getLogger(__name__)

STOP_TYPE = "stop"
_ATTRIBUTION = Attribution(name="edgevc", url="")


class BadEvent(Exception):
    pass


async def read_event(reader: asyncio.StreamReader, limit: int) -> Event | None:
    """One event, or None at end of stream; BadEvent for a malformed or oversized one."""
    try:
        line = await reader.readuntil(b"\n")
    except asyncio.IncompleteReadError as e:
        if not e.partial.strip():
            return None
        raise BadEvent("connection closed inside an event") from None
    except asyncio.LimitOverrunError:
        raise BadEvent(f"event header over {limit} bytes") from None
    try:
        head = json.loads(line)
        if not isinstance(head, dict) or not isinstance(head.get("type"), str):
            raise ValueError("no type")
        data = head.get("data") or {}
        n_data, n_payload = int(head.get("data_length") or 0), int(head.get("payload_length") or 0)
    except (ValueError, TypeError):
        raise BadEvent("not a Wyoming event (a JSON header line with a type)") from None
    if not isinstance(data, dict) or n_data < 0 or n_payload < 0 or n_data + n_payload > limit:
        raise BadEvent(f"event data over {limit} bytes or malformed")
    try:
        if n_data:
            extra = json.loads(await reader.readexactly(n_data))
            if not isinstance(extra, dict):
                raise BadEvent("event data is not a JSON object")
            data.update(extra)
        payload = await reader.readexactly(n_payload) if n_payload else None
    except asyncio.IncompleteReadError:
        raise BadEvent("connection closed inside an event") from None
    except ValueError:
        raise BadEvent("event data is not valid JSON") from None
    return Event(type=head["type"], data=data, payload=payload)


class Connection:
    """One client: reads events, answers describe and ping at once, queues synthesize
    requests (each streams back in turn, never interleaved) and honours stop."""

    def __init__(self, service: Service, reader, writer):
        self.service, self.reader, self.writer = service, reader, writer
        self.limit = service.config.max_request_bytes
        self.jobs: list = []
        self.tasks: set[asyncio.Task] = set()
        self.write_lock = asyncio.Lock()
        self.turn = asyncio.Lock()  # one response stream at a time, in request order

    async def send(self, event: Event) -> None:
        async with self.write_lock:
            await async_write_event(event, self.writer)

    async def run(self) -> None:
        try:
            while True:
                try:
                    event = await read_event(self.reader, self.limit)
                except BadEvent as e:
                    await self.send(Error(text=str(e), code="bad-event").event())
                    return  # the stream is out of step: close it
                if event is None:  # the client sent all it will: finish its answers
                    if self.tasks:
                        await asyncio.gather(*self.tasks, return_exceptions=True)
                    return
                await self.handle(event)
        except (ConnectionError, asyncio.CancelledError):
            pass
        finally:
            for job in self.jobs:
                self.service.queue.cancel(job)
            for t in self.tasks:
                t.cancel()
            self.writer.close()

    async def handle(self, event: Event) -> None:
        if Describe.is_type(event.type):
            await self.send(self.info().event())
        elif Ping.is_type(event.type):
            await self.send(Pong(text=event.data.get("text")).event())
        elif Synthesize.is_type(event.type):
            await self.synthesize(event)
        elif event.type == STOP_TYPE:
            try:
                drop = queue_mode(event.data, "drop")
            except InputError as e:
                await self.send(Error(text=str(e), code="bad-request").event())
                return
            self.service.stop(drop)
        else:
            log.debug("ignoring Wyoming event %r", event.type)

    def info(self) -> Info:
        voices = [TtsVoice(name=v["name"], description=("edgevc default voice" if v["default"]
                                                        else f"enrolled speaker {v['name']}"),
                           attribution=_ATTRIBUTION, installed=True, version=__version__,
                           languages=["en"])
                  for v in self.service.voices()]
        return Info(tts=[TtsProgram(name="edgevc", description="edgevc voice-cloning TTS",
                                    attribution=_ATTRIBUTION, installed=True,
                                    version=__version__, voices=voices)])

    async def synthesize(self, event: Event) -> None:
        s = self.service
        try:
            text = event.data.get("text")
            voice = event.data.get("voice") or {}
            name = voice.get("name") if isinstance(voice, dict) else None
            if not isinstance(text, str):
                raise InputError("synthesize: text must be a string")
            req = SpeakRequest(text=text, voice=name, config=s.defaults, play=False)
            job = s.make_job(req, ChunkChannel(asyncio.get_running_loop()))
            s.submit(job)
        except (InputError, QueueFull, OutputUnavailable, Closed) as e:
            code = ("too-large" if isinstance(e, TooLarge) else "unknown-voice"
                    if isinstance(e, UnknownVoice) else "bad-request" if isinstance(e, InputError)
                    else "queue-full" if isinstance(e, QueueFull) else "unavailable")
            await self.send(Error(text=str(e), code=code).event())
            return
        self.jobs.append(job)
        task = asyncio.create_task(self.stream(job))
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def stream(self, job) -> None:
        rate = self.service.voice.sample_rate
        fmt = {"rate": rate, "width": 2, "channels": 1}
        try:
            async with self.turn:
                item = await job.channel.get()
                if isinstance(item, End):
                    await self.send(Error(text=item.error or "no audio",
                                          code=item.code or "failed").event())
                    return
                await self.send(AudioStart(**fmt).event())
                while not isinstance(item, End):
                    await self.send(AudioChunk(audio=item, **fmt).event())
                    item = await job.channel.get()
                if item.error:
                    log.warning("job %d ended early: %s", job.id, item.error)
                await self.send(AudioStop().event())
        except (ConnectionError, asyncio.CancelledError):
            self.service.queue.cancel(job)
        finally:
            self.jobs.remove(job)


async def start_server(service: Service, host: str, port: int) -> asyncio.Server:
    async def on_connect(reader, writer):
        await Connection(service, reader, writer).run()

    return await asyncio.start_server(on_connect, host, port,
                                      limit=service.config.max_request_bytes)
