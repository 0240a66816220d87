"""Sentence splitting of normalized text into short units for streaming synthesis."""

import math
import re

MAX_WORDS = 40

# A sentence: anything up to a run of . ! ? (kept), or the unterminated remainder.
_SENTENCE = re.compile(r"[^.!?]*[.!?]+|[^.!?]+$")
# Clause boundaries inside a long sentence: after , ; : or after a spaced dash.
_CLAUSE = re.compile(r"(?<=[,;:])\s+|(?<=\s-)\s+")


def _has_words(s: str) -> bool:
    return re.search(r"[A-Za-z0-9]", s) is not None


def _count(s: str) -> int:
    return len(re.findall(r"[A-Za-z0-9']+", s))


def _balanced(words: list[str], limit: int) -> list[str]:
    # No clause boundary to use: cut into equal parts rather than a full part and a stub.
    parts = math.ceil(len(words) / limit)
    size = math.ceil(len(words) / parts)
    return [" ".join(words[i:i + size]) for i in range(0, len(words), size)]


def _split_long(sentence: str, limit: int) -> list[str]:
    """Cut a sentence of more than `limit` words at clause boundaries."""
    total = _count(sentence)
    if total <= limit:
        return [sentence]
    # Aim for chunks of even length so the last one is not a two-word stub.
    target = total / math.ceil(total / limit)
    chunks: list[str] = []
    current: list[str] = []
    count = 0
    for clause in _CLAUSE.split(sentence):
        n = _count(clause)
        if current and (count + n > limit or count >= target):
            chunks.append(" ".join(current))
            current, count = [], 0
        current.append(clause)
        count += n
    if current:
        chunks.append(" ".join(current))
    out: list[str] = []
    for chunk in chunks:
        # A dash left at a chunk's end is just the pause the cut already makes.
        chunk = re.sub(r"\s+-$", ",", chunk)
        out.extend(_balanced(chunk.split(), limit) if _count(chunk) > limit else [chunk])
    return out


def split_sentences(text: str, max_words: int = MAX_WORDS) -> list[str]:
    """Normalized text -> sentences, each keeping its final punctuation.

    Splits after runs of . ! ? ("?!", "..."), at blank lines between paragraphs, and cuts
    sentences longer than `max_words` words at commas, semicolons, colons or dashes.
    """
    result: list[str] = []
    for para in re.split(r"\n\s*\n", text):
        for m in _SENTENCE.finditer(para):
            sentence = " ".join(m.group(0).split())
            if not _has_words(sentence):
                continue        # stray punctuation ("..." on its own) says nothing
            result.extend(_split_long(sentence, max_words))
    return result
