"""Words and punctuation of a normalized sentence -> phoneme symbols -> ids.

A word's phonemes come from the lexicon, else from the bundle's G2P model when it has one,
else from the rule-based letter-to-sound (`lts`).
"""

import re
from collections.abc import Iterator
from dataclasses import dataclass

from edgevc.errors import InputError
from edgevc.text.g2p import G2P
from edgevc.text.lexicon import Lexicon
from edgevc.text.lts import letters_to_sounds
from edgevc.text.normalize import normalize
from edgevc.text.sentences import split_sentences
from edgevc.text.symbols import BOS, EOS, to_ids

# Text limits, checked before any model runs. Sentences are cut at 40 words, but a word
# can be any length, and the G2P's memory grows with its letters (a 100 KB "word" took
# 1.2 GB); a 40-word sentence of long words is some 600 characters. 100,000 characters
# is about two hours of speech (`edgevc speak -` reads a line per request).
MAX_TEXT_CHARS = 100_000
MAX_SENTENCE_CHARS = 1_000

# A word is letters with inner apostrophes; anything else that matters is punctuation.
_TOKEN = re.compile(r"[a-z]+(?:'[a-z]+)*|[,;:.!?\u2013\u2014]|(?<=\s)-(?=\s)")
_PUNCT = {",": ",", ";": ",", ":": ",", "-": ",", "\u2013": ",", "\u2014": ",",
          ".": ".", "!": ".", "?": "?"}


@dataclass(frozen=True)
class Sentence:
    text: str
    symbols: tuple[str, ...]

    @property
    def ids(self) -> list[int]:
        return to_ids(list(self.symbols))


def word_phonemes(word: str, lexicon: Lexicon, g2p: G2P | None = None) -> tuple[str, ...]:
    pron = lexicon.lookup(word)
    if pron is not None:
        return pron
    base = lexicon.lookup(word[:-2]) if word.endswith("'s") else None
    if base is not None:
        return base + (("IH0", "Z") if base[-1] in ("S", "Z", "SH", "ZH", "CH", "JH") else
                       ("S",) if base[-1] in ("P", "T", "K", "F", "TH") else ("Z",))
    pron = g2p(word) if g2p is not None else None
    if pron:
        return pron
    return tuple(letters_to_sounds(word.replace("'", "")))


def phonemize(sentence: str, lexicon: Lexicon, g2p: G2P | None = None) -> tuple[str, ...]:
    """Phoneme symbols for one normalized sentence, wrapped in BOS ... EOS.

    Punctuation becomes a pause token (never two in a row); a sentence always ends with
    one, so the model learns a final fall and pause.
    """
    out = [BOS]
    for tok in _TOKEN.findall(sentence.lower()):
        if tok in _PUNCT:
            if len(out) > 1 and out[-1] not in _PUNCT.values():
                out.append(_PUNCT[tok])
        else:
            out.extend(word_phonemes(tok, lexicon, g2p))
    if len(out) == 1:
        return ()
    if out[-1] not in (".", "?"):
        if out[-1] == ",":
            out.pop()
        out.append(".")
    out.append(EOS)
    return tuple(out)


class TextFrontEnd:
    """text -> normalized sentences -> phoneme symbols. Deterministic."""

    def __init__(self, lexicon: Lexicon, g2p: G2P | None = None):
        self.lexicon = lexicon
        self.g2p = g2p

    def iter_sentences(self, text: str) -> Iterator[Sentence]:
        """Sentences phonemized one at a time, as the caller asks for them: a long text
        starts speaking after its first sentence and is never held phonemized whole.
        InputError, before any sentence, when the text or one of its sentences is too long."""
        if len(text) > MAX_TEXT_CHARS:
            raise InputError(f"text is {len(text):,} characters long; at most "
                             f"{MAX_TEXT_CHARS:,} are spoken per request (split it)")
        sentences = split_sentences(normalize(text))
        for i, sent in enumerate(sentences, 1):
            if len(sent) > MAX_SENTENCE_CHARS:
                raise InputError(f"sentence {i} is {len(sent):,} characters long after "
                                 f"normalization; at most {MAX_SENTENCE_CHARS:,} per sentence "
                                 f"(starts {sent[:30]!r})")
        for sent in sentences:
            symbols = phonemize(sent, self.lexicon, self.g2p)
            if symbols:
                yield Sentence(sent, symbols)

    def sentences(self, text: str) -> list[Sentence]:
        return list(self.iter_sentences(text))
