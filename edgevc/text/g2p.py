"""Pronunciations for words outside the lexicon from the bundle's G2P graph (numpy + ONNX).

The graph maps one word's letter ids (1, L) to per-frame phoneme scores (1, L * upsample,
V); the pronunciation is the best class per frame with repeats merged and blanks dropped
(greedy CTC). The letter alphabet, the output symbols and the limits come from the
bundle manifest, so the runtime holds no copy of the model's vocabulary.
"""

from __future__ import annotations

import logging
import unicodedata

import numpy as np

from edgevc.errors import InputError
from edgevc.inference import InferenceSession, SessionFactory
from edgevc.text.symbols import PHONEMES

log = logging.getLogger(__name__)
_CACHE_SIZE = 4096


class G2P:
    """`g2p(word)` -> phonemes, or None for a word the model cannot take (a character
    outside its alphabet, or longer than it was built for): the caller falls back to the
    rule-based letter-to-sound."""

    def __init__(self, session: InferenceSession, spec: dict, where: str = "g2p"):
        try:
            letters, symbols = str(spec["letters"]), [str(s) for s in spec["symbols"]]
            self.blank, self.upsample = int(spec["blank"]), int(spec["upsample"])
            self.max_letters = int(spec["max_letters"])
        except (KeyError, TypeError, ValueError) as e:
            raise InputError(f"{where}: g2p entry is malformed ({type(e).__name__}: {e})") from None
        bad = [s for i, s in enumerate(symbols) if i != self.blank and s not in PHONEMES]
        if bad or not 0 <= self.blank < len(symbols):
            raise InputError(f"{where}: g2p outputs symbols outside the phoneme set: {bad[:5]}")
        self.session = session
        self._index = {c: i + 1 for i, c in enumerate(letters)}   # 0 is padding
        self._symbols = symbols
        self._cache: dict[str, tuple[str, ...] | None] = {}

    @classmethod
    def load(cls, path, spec: dict, make_session: SessionFactory, backends=("onnx-cpu",),
             threads: int = 1, model: bytes | None = None) -> G2P:
        """`make_session`: the runtime's edgevc.runtime.backends.create_session (the text
        layer runs the graph but does not know how sessions are made). `model`: the graph's
        bytes, run instead of reading `path` again (which then only names it)."""
        # A word is a few hundred kFLOP: one CPU thread beats any accelerator's launch and
        # copy cost, and leaves the profile's threads to the acoustic model and vocoder.
        source = str(path) if model is None else model
        return cls(make_session(source, backends, threads, name=str(path)), spec, str(path))

    @classmethod
    def from_bundle(cls, bundle, make_session: SessionFactory) -> G2P | None:
        """The bundle's G2P, or None when the bundle has none. The graph's bytes are read
        once and checked against the manifest's hash (the bundle's ModelEntry.read())."""
        if getattr(bundle, "g2p", None) is None:
            return None
        return cls.load(bundle.g2p.path, bundle.manifest["models"]["g2p"], make_session,
                        model=bundle.g2p.read())

    def letter_ids(self, word: str) -> list[int] | None:
        folded = "".join(c for c in unicodedata.normalize("NFKD", word.lower())
                         if not unicodedata.combining(c)).replace("\u2019", "'")
        ids = [self._index.get(c, 0) for c in folded]
        if not ids or 0 in ids or len(ids) > self.max_letters:
            return None
        return ids

    def decode(self, logits: np.ndarray) -> tuple[str, ...]:
        best = logits.argmax(-1)
        keep = best != self.blank
        keep[1:] &= best[1:] != best[:-1]
        return tuple(self._symbols[c] for c in best[keep])

    def __call__(self, word: str) -> tuple[str, ...] | None:
        if word in self._cache:
            return self._cache[word]
        ids = self.letter_ids(word)
        pron = None
        if ids is not None:
            logits = self.session.run({"letters": np.array([ids], dtype=np.int64)})[0]
            pron = self.decode(logits[0]) or None
        if len(self._cache) >= _CACHE_SIZE:
            self._cache.clear()
        self._cache[word] = pron
        return pron
