"""What the protocols share: checking a request, queueing it, voices, health and stop.

HTTP and Wyoming are adapters over one Service; each request becomes a Job in the one
SpeechQueue, whose worker speaks it on the sound card or streams it back through the
job's ChunkChannel, using the one loaded Voice.
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass, field

from edgevc.audio.io import float_to_pcm16
from edgevc.errors import InputError
from edgevc.serve.config import ServeConfig
from edgevc.serve.output import AudioOutput, OutputUnavailable
from edgevc.serve.queue import ChunkChannel, Job, SpeechQueue
from edgevc.serve.speakers import SpeakerLibrary
from edgevc.voice import SynthesisConfig, Voice

log = logging.getLogger(__name__)

OUTPUT_RETRY_S = 10.0  # a failed sound card is tried again by a play request after this


class TooLarge(InputError):
    """A request over a size limit (HTTP 413)."""


@dataclass(frozen=True)
class SpeakRequest:
    text: str
    voice: str | None = None
    config: SynthesisConfig = field(default_factory=SynthesisConfig)
    play: bool = True
    priority: bool = False
    drop_queue: bool = False


_SPEAK_FIELDS = {"text", "voice", "rate", "volume", "sentence_silence", "phase", "play",
                 "priority", "queue"}


def _number(body: dict, name: str, default: float) -> float:
    v = body.get(name, default)
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
        raise InputError(f"{name}: must be a number")
    return float(v)


def _flag(body: dict, name: str, default: bool) -> bool:
    v = body.get(name, default)
    if not isinstance(v, bool):
        raise InputError(f"{name}: must be true or false")
    return v


def queue_mode(body: dict, default: str) -> bool:
    """The "queue" field: "drop" (True) or "keep" (False)."""
    v = body.get("queue", default)
    if v not in ("drop", "keep"):
        raise InputError('queue: must be "drop" or "keep"')
    return v == "drop"


class Service:
    def __init__(self, voice: Voice, config: ServeConfig, output: AudioOutput | None = None):
        self.voice = voice
        self.config = config
        self.defaults = config.synthesis.validate()
        self.speakers = SpeakerLibrary(config.speakers, voice.load_speaker)
        p = voice.profile
        self.output = output or AudioOutput(voice.sample_rate,
                                            config.frames_per_buffer or p.frames_per_buffer,
                                            config.device, p.audio_device)
        self.queue = SpeechQueue(self._run, config.max_queue)
        self.started = time.monotonic()
        self.requests = 0
        self.refused = 0

    # -- requests -------------------------------------------------------------------------

    def parse_speak(self, body) -> SpeakRequest:
        """A checked SpeakRequest from a JSON object (POST /speak); InputError otherwise."""
        if not isinstance(body, dict):
            raise InputError("the body must be a JSON object")
        unknown = sorted(set(body) - _SPEAK_FIELDS)
        if unknown:
            raise InputError(f"unknown field {unknown[0]!r}; known: {', '.join(sorted(_SPEAK_FIELDS))}")
        text = body.get("text")
        if not isinstance(text, str):
            raise InputError("text: a string is required")
        voice = body.get("voice")
        if voice is not None and not isinstance(voice, str):
            raise InputError("voice: must be a string (see GET /voices)")
        phase = body.get("phase", self.defaults.phase)
        if phase is not None and not isinstance(phase, str):
            raise InputError("phase: must be a string")
        d = self.defaults
        cfg = SynthesisConfig(_number(body, "rate", d.rate), _number(body, "volume", d.volume),
                              _number(body, "sentence_silence", d.sentence_silence), phase)
        priority = _flag(body, "priority", False)
        if "queue" in body and not priority:
            raise InputError('queue: only with "priority": true (POST /stop takes it too)')
        return SpeakRequest(text, voice, cfg.validate(), _flag(body, "play", True), priority,
                            queue_mode(body, "keep"))

    def make_job(self, req: SpeakRequest, channel: ChunkChannel | None = None) -> Job:
        """A Job ready to queue, or InputError / TooLarge / OutputUnavailable."""
        self.requests += 1
        if len(req.text) > self.config.max_text_chars:
            raise TooLarge(f"text is {len(req.text)} characters; the limit is "
                           f"{self.config.max_text_chars}")
        speaker = self.speakers.get(req.voice)
        cfg = req.config.validate()
        if cfg.phase is not None:
            self.voice.synth.check_phase(cfg.phase)
        self.voice.check_text(req.text)
        if channel is None:
            st = self.output.status
            if st["ok"] is False and time.time() - st["checked"] < OUTPUT_RETRY_S:
                raise OutputUnavailable(st["error"])
        return Job(req.text, speaker, cfg, req.voice or self.speakers.default_name, channel)

    def submit(self, job: Job, req: SpeakRequest | None = None) -> int:
        try:
            if req is not None and req.priority:
                return self.queue.submit(job, priority=True, drop_queue=req.drop_queue)
            return self.queue.submit(job)
        except Exception:
            self.refused += 1
            raise

    def stop(self, drop_queue: bool = True) -> dict:
        r = self.queue.stop(drop_queue)
        log.info("stop: %s", r)
        return r

    # -- the worker -----------------------------------------------------------------------

    def _run(self, job: Job) -> None:
        if job.plays:
            sink = self.output.open()
            try:
                self.voice.play(job.text, job.speaker, job.config, sink=sink, stop=job.stop)
            except BaseException:
                sink.close(ok=False)
                raise
            sink.close(ok=not job.stop.is_set())  # a stop drops what the card still holds
            return
        channel = job.channel
        assert channel is not None  # a job that does not play has a channel (Job.plays)
        for chunk in self.voice.stream(job.text, job.speaker, job.config):
            if job.stop.is_set() or not channel.put(float_to_pcm16(chunk), job.stop):
                job.stop.set()
                return

    # -- reports --------------------------------------------------------------------------

    def voices(self) -> list[dict]:
        return [{"name": n, "default": n == self.speakers.default_name}
                for n in self.speakers.names()]

    def health(self) -> dict:
        cur = self.queue.current
        return {
            "status": "ok",
            "uptime_s": round(time.monotonic() - self.started, 1),
            "speaking": None if cur is None else {"id": cur.id, "voice": cur.voice,
                                                  "play": cur.plays},
            "queue": len(self.queue), "max_queue": self.queue.max_queue,
            "spoken": self.queue.spoken, "failed": self.queue.failed,
            "requests": self.requests, "refused": self.refused,
            "audio_output": dict(self.output.status),
            "sample_rate": self.voice.sample_rate,
            "profile": self.voice.profile.name,
        }

    def close(self) -> None:
        self.queue.close()
