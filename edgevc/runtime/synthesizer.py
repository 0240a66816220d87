"""Streaming synthesis: text -> sentences -> phonemes -> acoustic model -> vocoder -> audio.

Each sentence is encoded once; its frames are decoded and vocoded in chunks, each with its
model's receptive radius of context on both sides, so chunked audio equals whole-sentence
audio. The first chunk is the profile's `chunk_frames`, so audio starts early; later chunks
double up to `max_chunk_frames`, so the context recomputed at chunk edges costs little once
playback has a lead (each chunk is synthesized while the previous, half as long, plays).

The waveform's phase comes from the vocoder or from an excitation matched to the vocoder's
magnitudes (edgevc/audio/excitation.py): the bundle names its default, `phase=` overrides.
"""

import logging
from collections.abc import Iterator

import numpy as np

from edgevc.audio.excitation import ExcitationPhase
from edgevc.audio.istft import StreamingISTFT
from edgevc.errors import InputError
from edgevc.runtime.backends import create_session
from edgevc.runtime.bundle import PHASE_METHODS, Bundle
from edgevc.runtime.profiles import DeviceProfile, check_memory_budget, detect_profile
from edgevc.runtime.speaker import check_speaker, load_speaker, speaker_from_bytes
from edgevc.text import G2P, Lexicon, Sentence, TextFrontEnd

log = logging.getLogger(__name__)
MAX_SENTENCE_FRAMES = 62 * 60  # one minute: a guard against runaway durations
LENGTH_SCALE_RANGE = (0.5, 2.0)  # as `speak --length-scale` and SynthesisConfig.rate


def check_length_scale(length_scale) -> None:
    lo, hi = LENGTH_SCALE_RANGE
    ok = isinstance(length_scale, (int, float, np.floating)) and not isinstance(length_scale, bool)
    if not ok or not lo - 1e-9 <= length_scale <= hi + 1e-9:
        raise InputError(f"length_scale {length_scale!r}: must be a number from {lo} to {hi}")


def cap_frames(dur: np.ndarray, limit: int) -> np.ndarray:
    """Durations cut so they add up to at most `limit` frames: the same frames as
    np.repeat(...)[:limit], without allocating the frames past the limit first."""
    cum = np.cumsum(dur)
    if len(cum) == 0 or cum[-1] <= limit:
        return dur
    log.warning("sentence longer than %d frames; cut there", limit)
    return np.diff(np.minimum(cum, limit), prepend=0)


def chunk_bounds(total: int, first: int, largest: int) -> Iterator[tuple[int, int]]:
    """[start, end) spans covering range(total): `first` frames, then doubling up to `largest`."""
    start, size = 0, first
    while start < total:
        end = min(total, start + size)
        yield start, end
        start, size = end, min(largest, 2 * size)


def chunked(run, x: np.ndarray, start: int, end: int, radius: int):
    """Rows [start, end) of run(x), computed from x[start - radius : end + radius] only.
    `run` returns an array or a tuple of arrays (each is sliced)."""
    lo, hi = max(0, start - radius), min(len(x), end + radius)
    y = run(x[lo:hi])
    if isinstance(y, tuple):
        return tuple(a[start - lo:end - lo] for a in y)
    return y[start - lo:end - lo]


class Synthesizer:
    """Load a bundle once; then `stream(text, speaker)` yields float32 audio chunks."""

    def __init__(self, bundle: Bundle | None = None, profile: DeviceProfile | None = None,
                 phase: str | None = None):
        self.bundle = bundle or Bundle.load()
        self.phase = self.check_phase(phase or self.bundle.phase)
        self.profile = profile or detect_profile()
        p = self.profile
        loaded = [e for role, e in self.bundle.models.items() if role != "speaker_encoder"]
        check_memory_budget(p, sum(e.path.stat().st_size for e in loaded)
                            + (self.bundle.g2p.path.stat().st_size if self.bundle.g2p else 0),
                            f"bundle {self.bundle.root}'s models")
        fp16 = p.precision == "fp16"
        # Every file as read once and checked against its hash (ModelEntry.read,
        # Bundle.read): the sessions and parsers get those bytes, never the path again.
        self.sessions = {role: create_session(e.read(), p.backends, p.threads, fp16=fp16,
                                              tflite=e.tflite_model(p.precision),
                                              name=str(e.path))
                         for role, e in self.bundle.models.items()
                         if role != "speaker_encoder"}
        lexicon = self.bundle.lexicon_path
        self.front = TextFrontEnd(Lexicon.from_bytes(self.bundle.read(lexicon), str(lexicon)),
                                  G2P.from_bundle(self.bundle, create_session))
        self.symbol_ids = {s: i for i, s in enumerate(self.bundle.phonemes)}
        speaker = self.bundle.default_speaker_path
        self.default_speaker = speaker_from_bytes(self.bundle.read(speaker),
                                                  self.bundle.embedding_dim, speaker)
        self.r_dec = self.bundle.models["acoustic_decoder"].receptive_radius
        self.r_voc = self.bundle.models["vocoder"].receptive_radius

    def check_phase(self, phase: str) -> str:
        """`phase` if this bundle can make audio with it, else InputError."""
        if phase not in PHASE_METHODS:
            raise InputError(f"phase {phase!r}: must be one of {', '.join(PHASE_METHODS)}")
        if phase != "vocoder" and self.bundle.voicing is None:
            raise InputError(f"phase {phase!r}: bundle {self.bundle.root} has no voicing model")
        return phase

    @property
    def sample_rate(self) -> int:
        return self.bundle.sample_rate

    def load_speaker(self, path) -> np.ndarray:
        """A speaker file, refused when its sidecar names a speaker encoder this bundle
        does not take."""
        return load_speaker(path, self.bundle.embedding_dim, self.bundle.speaker_encoders)

    def _speakable(self, text: str) -> Iterator[Sentence]:
        """Sentences of `text`, phonemized as they are asked for; InputError when it is empty
        or yields none."""
        if not text or not text.strip():
            raise InputError("text is empty")
        spoken = False
        for sent in self.front.iter_sentences(text):
            spoken = True
            yield sent
        if not spoken:
            raise InputError(f"text has nothing speakable: {text[:60]!r}")

    def check_text(self, text: str) -> None:
        """Raise InputError unless `text` has something to speak; reads only as far as its
        first speakable sentence."""
        next(self._speakable(text))

    def sentences(self, text: str) -> list[Sentence]:
        return list(self._speakable(text))

    def speakable(self, text: str) -> Iterator[Sentence]:
        """Sentences of `text`, phonemized one at a time as they are asked for."""
        return self._speakable(text)

    def stream(self, text: str, speaker: np.ndarray | None = None,
               length_scale: float = 1.0, phase: str | None = None) -> Iterator[np.ndarray]:
        """Audio chunks for `text`, sentence by sentence; each sentence is phonemized when its
        turn comes, so memory and the wait for first audio do not grow with the text.
        `phase` overrides the synthesizer's phase method for this text."""
        for sent in self._speakable(text):
            yield from self.sentence_audio(sent, speaker, length_scale, phase)

    def sentence_audio(self, sent: Sentence, speaker: np.ndarray | None = None,
                       length_scale: float = 1.0, phase: str | None = None) -> Iterator[np.ndarray]:
        """Audio chunks of one sentence from `speakable()`. The default voice (`speaker`
        None) speaks at the bundle's pace times `length_scale`, a speaker vector at the
        model's pace for it times `length_scale`."""
        check_length_scale(length_scale)
        if speaker is None:
            spk, length_scale = self.default_speaker[None], length_scale * self.bundle.default_length_scale
        else:
            spk = check_speaker(speaker, self.bundle.embedding_dim)[None]
        return self._sentence(sent, spk, length_scale,
                              self.phase if phase is None else self.check_phase(phase))

    def synthesize(self, text: str, speaker: np.ndarray | None = None,
                   length_scale: float = 1.0) -> np.ndarray:
        return np.concatenate(list(self.stream(text, speaker, length_scale)))

    def durations(self, sent: Sentence, spk: np.ndarray, length_scale: float = 1.0):
        ids = np.array([[self.symbol_ids[s] for s in sent.symbols]], dtype=np.int64)
        states, log_dur = self.sessions["acoustic_encoder"].run({"ids": ids, "speaker": spk})
        dur = np.nan_to_num(np.round(np.expm1(log_dur[0]) * length_scale), nan=1.0)
        # Clipped in float: an overflowing duration must not wrap to a negative integer.
        return states[0], np.clip(dur, 1, MAX_SENTENCE_FRAMES).astype(np.int64)

    def _sentence(self, sent: Sentence, spk: np.ndarray, length_scale: float,
                  phase: str | None = None):
        phase = self.phase if phase is None else phase
        states, dur = self.durations(sent, spk, length_scale)
        frames = np.repeat(states, cap_frames(dur, MAX_SENTENCE_FRAMES), axis=0)
        T = len(frames)
        dec, voc = self.sessions["acoustic_decoder"], self.sessions["vocoder"]

        def decode(x):
            return dec.run({"frames": x[None], "speaker": spk})[0][0]

        def vocode(x):
            real, imag = voc.run({"mel": x[None]})
            return real[0], imag[0]

        mel = np.empty((T, self.bundle.synth_mel.n_mels), np.float32)
        mel_done = 0
        istft = StreamingISTFT(self.bundle.synth_mel)
        b, hybrid = self.bundle, phase == "hybrid"
        excitation = None
        if phase != "vocoder":
            if b.voicing is None:  # what check_phase refuses, for a phase handed in here
                raise InputError(f"phase {phase!r}: bundle {b.root} has no voicing model")
            excitation = ExcitationPhase(b.synth_mel, b.voicing,
                                         band_hz=b.band_hz if hybrid else None,
                                         margin=b.voiced_margin if hybrid else 0.0)
        for s, e in chunk_bounds(T, self.profile.chunk_frames, self.profile.max_chunk_frames):
            need = min(T, e + self.r_voc)
            if mel_done < need:  # decode up to what this vocoder chunk reads, and one chunk on
                m_end = min(T, max(need, mel_done + (e - s)))
                mel[mel_done:m_end] = chunked(decode, frames, mel_done, m_end, self.r_dec)
                mel_done = m_end
            real, imag = chunked(vocode, mel, s, e, self.r_voc)
            if excitation is not None:
                real, imag = excitation.push(real, imag)
            out = istft.push(real, imag)
            if len(out):
                yield out
        if excitation is not None:  # the frames it still holds back
            out = istft.push(*excitation.finish())
            if len(out):
                yield out
        tail = istft.finish()
        if len(tail):
            yield tail
