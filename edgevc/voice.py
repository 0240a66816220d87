"""The public runtime API: load a voice once, then stream, save or play any text.

    from edgevc import Voice, SynthesisConfig

    voice = Voice.load()                                  # shipped bundle, detected profile
    for chunk in voice.stream("Your table is ready."):   # float32 arrays at voice.sample_rate
        ...
    voice.to_wav("Your table is ready.", "table.wav", speaker="me.npy",
                 config=SynthesisConfig(rate=1.2, sentence_silence=0.3))
    voice.play("Your table is ready.")                   # the sound card (edgevc[device])

A thin layer over the synthesizer (edgevc/runtime/synthesizer.py) and playback
(edgevc/playback/: the ring-buffer player and the sinks); `edgevc serve` is a thin layer
over this.
"""

from __future__ import annotations

import itertools
import math
import os
import struct
import threading
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import BinaryIO

import numpy as np

from edgevc.audio.io import float_to_pcm16
from edgevc.errors import InputError

SpeakerLike = None | str | os.PathLike | np.ndarray

RATE_RANGE = (0.5, 2.0)
VOLUME_RANGE = (0.0, 4.0)
SENTENCE_SILENCE_MAX_S = 5.0
_STOP_PIECE = 256  # samples per sink write while a stop can come (16 ms at 16 kHz)


@dataclass(frozen=True)
class SynthesisConfig:
    """How to speak: every field has a neutral default.

    rate: speaking-rate factor, above 1 faster (0.5-2.0); the length scale asked of the models
        is 1/rate, times the bundle's default_length_scale for its default voice.
    volume: gain applied to the samples (0-4; output is clipped to full scale).
    sentence_silence: seconds of silence between sentences (0-5).
    phase: where the waveform's phase comes from ("vocoder", "excitation", "hybrid");
        None for the bundle's choice.
    """

    rate: float = 1.0
    volume: float = 1.0
    sentence_silence: float = 0.0
    phase: str | None = None

    @property
    def length_scale(self) -> float:
        return 1.0 / self.rate

    def validate(self) -> SynthesisConfig:
        """This config, or InputError naming the first field out of range."""
        for name, (lo, hi) in (("rate", RATE_RANGE), ("volume", VOLUME_RANGE),
                               ("sentence_silence", (0.0, SENTENCE_SILENCE_MAX_S))):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v) \
                    or not lo <= v <= hi:
                raise InputError(f"{name} {v!r}: must be a number from {lo:g} to {hi:g}")
        if self.phase is not None and not isinstance(self.phase, str):
            raise InputError(f"phase {self.phase!r}: must be a string")
        return self

    def with_(self, **changes) -> SynthesisConfig:
        return replace(self, **changes).validate()


class _StoppableSink:
    """Wraps a sink so a threading.Event stops playback: writes go in small pieces and
    stop between them, and `broken` tells the player to stop synthesizing."""

    def __init__(self, sink, stop: threading.Event):
        self._sink, self._stop = sink, stop
        self.sample_rate = sink.sample_rate
        self.block_size = getattr(sink, "block_size", 1024)

    @property
    def underruns(self) -> int:
        return getattr(self._sink, "underruns", 0)

    def _stopped(self) -> bool:
        """True once stopped; the first time, abort the sink at once (in the player's
        thread, which owns it), before the player waits for the synthesis thread."""
        if not self._stop.is_set():
            return False
        self._sink.close(ok=False)  # idempotent: later closes do nothing
        return True

    @property
    def broken(self) -> bool:
        return self._stopped() or bool(getattr(self._sink, "broken", False))

    def write(self, samples: np.ndarray) -> None:
        for i in range(0, len(samples), _STOP_PIECE):
            if self._stopped():
                return
            self._sink.write(samples[i:i + _STOP_PIECE])

    def close(self, ok: bool = True) -> None:
        self._sink.close(ok=ok)


def wav_header(sample_rate: int, n_samples: int | None = None) -> bytes:
    """A 16-bit mono WAV header; with n_samples None the sizes say "unknown, read to the
    end" (0xFFFFFFFF), as streamed WAV over HTTP does."""
    data = 0xFFFFFFFF if n_samples is None else 2 * n_samples
    riff = 0xFFFFFFFF if n_samples is None else 36 + data
    return (b"RIFF" + struct.pack("<I", riff) + b"WAVEfmt "
            + struct.pack("<IHHIIHH", 16, 1, 1, sample_rate, 2 * sample_rate, 2, 16)
            + b"data" + struct.pack("<I", data))


class Voice:
    """One loaded bundle (models, lexicon, default speaker) on one device profile.

    Load once (about half a second), then call `stream`, `synthesize`, `to_wav` or `play`
    as often as needed. One call at a time per Voice: the ONNX sessions are not shared
    between concurrent calls (`edgevc serve` runs them from one worker thread).
    """

    def __init__(self, synthesizer):
        self.synth = synthesizer
        # The text front end (G2P cache, lexicon memo) is shared by check_text, which a
        # server calls from its event loop, and stream, which runs in its worker thread.
        self._text_lock = threading.Lock()

    @classmethod
    def load(cls, bundle: str | os.PathLike | None = None, profile=None,
             phase: str | None = None) -> Voice:
        """bundle: a bundle folder (default: the shipped one). profile: a DeviceProfile, a
        profile name or .toml path (default: detected); when it names a bundle.public_key,
        the bundle must be signed by it. phase: the default phase method."""
        from edgevc.runtime.bundle import Bundle
        from edgevc.runtime.bundle_keys import parse_public_key
        from edgevc.runtime.profiles import DeviceProfile, detect_profile, load_profile
        from edgevc.runtime.synthesizer import Synthesizer

        if profile is None:
            profile = detect_profile()
        elif not isinstance(profile, DeviceProfile):
            profile = load_profile(str(profile))
        key = profile.bundle_public_key
        b = Bundle.load(bundle, public_key=parse_public_key(key) if key else None)
        return cls(Synthesizer(b, profile, phase))

    @property
    def sample_rate(self) -> int:
        return self.synth.sample_rate

    @property
    def profile(self):
        return self.synth.profile

    @property
    def embedding_dim(self) -> int:
        return self.synth.bundle.embedding_dim

    def load_speaker(self, path: str | os.PathLike) -> np.ndarray:
        """A speaker file from `edgevc enroll`, checked against this bundle."""
        return self.synth.load_speaker(path)

    def _speaker(self, speaker: SpeakerLike) -> np.ndarray | None:
        if speaker is None or isinstance(speaker, np.ndarray):
            return speaker
        return self.load_speaker(speaker)

    def check_text(self, text: str) -> None:
        """InputError unless `text` has something to speak (reads only its first sentence)."""
        with self._text_lock:
            self.synth.check_text(text)

    def stream(self, text: str, speaker: SpeakerLike = None,
               config: SynthesisConfig | None = None) -> Iterator[np.ndarray]:
        """float32 audio chunks for `text`, as they are made (the first after one chunk of
        synthesis, not after the whole text). speaker: None for the bundle's voice, a
        vector, or a speaker file path."""
        cfg = (config or SynthesisConfig()).validate()
        spk = self._speaker(speaker)
        phase = None if cfg.phase is None else self.synth.check_phase(cfg.phase)
        silence = np.zeros(int(round(cfg.sentence_silence * self.sample_rate)), np.float32)
        return self._stream(text, spk, cfg, phase, silence)

    def _stream(self, text, spk, cfg, phase, silence) -> Iterator[np.ndarray]:
        sentences = self.synth.speakable(text)
        for i in itertools.count():
            with self._text_lock:
                sent = next(sentences, None)
            if sent is None:
                return
            if i and silence.size:
                yield silence
            for chunk in self.synth.sentence_audio(sent, spk, cfg.length_scale, phase):
                yield chunk if cfg.volume == 1.0 else chunk * np.float32(cfg.volume)

    def synthesize(self, text: str, speaker: SpeakerLike = None,
                   config: SynthesisConfig | None = None) -> np.ndarray:
        """The whole utterance as one float32 array."""
        return np.concatenate(list(self.stream(text, speaker, config)))

    def to_wav(self, text: str, out: str | os.PathLike | BinaryIO, speaker: SpeakerLike = None,
               config: SynthesisConfig | None = None) -> float:
        """Write 16-bit mono WAV: to a path atomically (no half-written file on failure), or
        streamed to a binary file object as chunks are made. Returns the seconds of audio."""
        from edgevc.playback.sinks import WavSink

        chunks = self.stream(text, speaker, config)
        if isinstance(out, (str, os.PathLike)):
            if not str(out).lower().endswith(".wav"):
                raise InputError(f"{out}: only .wav files are written")
            if not Path(out).parent.is_dir():
                raise InputError(f"{out}: folder {Path(out).parent} does not exist")
            n = 0
            with WavSink(out, self.sample_rate) as sink:
                for c in chunks:
                    sink.write(c)
                    n += len(c)
            return n / self.sample_rate
        first = next(chunks)  # bad text fails before a byte is written
        out.write(wav_header(self.sample_rate))
        n = 0
        for c in _prepend(first, chunks):
            out.write(float_to_pcm16(c))
            n += len(c)
        out.flush()
        return n / self.sample_rate

    def play(self, text: str | Iterable[np.ndarray], speaker: SpeakerLike = None,
             config: SynthesisConfig | None = None, *, sink=None, device: str | None = None,
             frames_per_buffer: int | None = None, stop: threading.Event | None = None):
        """Speak on the sound card (needs edgevc[device]) through a ring buffer sized by the
        device profile; returns PlaybackStats. `text` may also be an iterable of chunks
        from `stream`. device: an output name substring (default: the profile's).
        sink: play into this sink instead (left open for the caller, like the player does).
        stop: setting this Event from another thread stops the sound within a few tens of
        milliseconds: the sink is aborted (close(ok=False), even one passed in), so the
        audio it holds is dropped, not played out."""
        from edgevc.playback.player import play
        from edgevc.playback.sinks import PyAudioSink
        from edgevc.runtime.devices import output_device_index

        p = self.profile
        chunks = self.stream(text, speaker, config) if isinstance(text, str) else text
        if isinstance(text, str):
            self.check_text(text)  # before the device is opened
        own = sink is None
        if own:
            dev = output_device_index(p.audio_device if device is None else device)
            sink = PyAudioSink(self.sample_rate, frames_per_buffer or p.frames_per_buffer, dev)
        target = sink if stop is None else _StoppableSink(sink, stop)
        try:
            stats = play(chunks, target, p.ring_samples(self.sample_rate))
        except BaseException:
            if own:
                sink.close(ok=False)
            raise
        stopped = stop is not None and stop.is_set()
        if own:
            sink.close(ok=not stopped)  # a stop drops what the device still holds
        return stats


def _prepend(first, rest):
    yield first
    yield from rest
