"""The teacher reads our phonemes: edgevc's phoneme symbols -> the IPA string Kokoro takes.

Left to itself, Kokoro-82M (through kokoro-onnx) reads text through espeak-ng, whose
text normalization and pronunciations are not ours: "$18.25" is "dollar eighteen point
two five" where edgevc's front end says "eighteen dollars and twenty five cents", "Dr."
ends a sentence, and many words differ in a vowel. The student was then trained on
phonemes that are not what the teacher said. Here the runtime's own front end
(normalizer, lexicon, letter-to-sound) phonemizes the text, and Kokoro speaks exactly that
sequence (`Kokoro.create(..., is_phonemes=True)`): what the student hears is what it
reads, and espeak-ng is not run at all.

Two spellings of the same sounds: "espeak" (what kokoro-onnx's phonemizer writes: long
vowels marked, diphthongs as two letters) and "misaki" (Kokoro's own G2P: diphthongs as one
capital, affricates as one letter, no length marks). `speech_ipa` writes either.
"""

from __future__ import annotations

import re

from edgevc.text.phonemize import _PUNCT, _TOKEN, word_phonemes

_CONSONANTS = {
    "B": "b", "CH": "tʃ", "D": "d", "DH": "ð", "F": "f", "G": "ɡ", "HH": "h", "JH": "dʒ",
    "K": "k", "L": "l", "M": "m", "N": "n", "NG": "ŋ", "P": "p", "R": "ɹ", "S": "s",
    "SH": "ʃ", "T": "t", "TH": "θ", "V": "v", "W": "w", "Y": "j", "Z": "z", "ZH": "ʒ",
}
# vowel -> (unstressed, stressed); AH and ER reduce when unstressed
_VOWELS_ESPEAK = {
    "AA": ("ɑː", "ɑː"), "AE": ("æ", "æ"), "AH": ("ə", "ʌ"), "AO": ("ɔː", "ɔː"),
    "AW": ("aʊ", "aʊ"), "AY": ("aɪ", "aɪ"), "EH": ("ɛ", "ɛ"), "ER": ("ɚ", "ɜː"),
    "EY": ("eɪ", "eɪ"), "IH": ("ɪ", "ɪ"), "IY": ("i", "iː"), "OW": ("oʊ", "oʊ"),
    "OY": ("ɔɪ", "ɔɪ"), "UH": ("ʊ", "ʊ"), "UW": ("u", "uː"),
}
_VOWELS_MISAKI = {
    "AA": ("ɑ", "ɑ"), "AE": ("æ", "æ"), "AH": ("ə", "ʌ"), "AO": ("ɔ", "ɔ"),
    "AW": ("W", "W"), "AY": ("I", "I"), "EH": ("ɛ", "ɛ"), "ER": ("ɚ", "ɜɹ"),
    "EY": ("A", "A"), "IH": ("ɪ", "ɪ"), "IY": ("i", "i"), "OW": ("O", "O"),
    "OY": ("Y", "Y"), "UH": ("ʊ", "ʊ"), "UW": ("u", "u"),
}
_AFFRICATES_MISAKI = {"CH": "ʧ", "JH": "ʤ"}
STYLES = ("espeak", "misaki")
_STRESS = {"0": "", "1": "ˈ", "2": "ˌ"}
# Function words of one syllable that the CMU dictionary stresses as if each stood alone
# ("for" F AO1 R, "to" T UW1). Spoken so, every "to" and "for" is heard as "two" and
# "four"; the teacher says them unstressed, as connected English speech does (the
# student's symbols keep the dictionary's). Words often stressed in speech (not, up, out,
# the wh-words) keep their stress.
FUNCTION_WORDS = frozenset("""
a an the and or but nor if as at by for from in of on to with than so
is am are was were be been has have had do does did can could shall should will would may
might must
i me my we us our you your he him his she her it its they them their this that these those
there
""".split())
_PAUSE_IPA = {",": ",", ".": ".", "?": "?"}


def symbol_ipa(symbol: str, style: str = "espeak") -> str:
    """One ARPAbet symbol (vowels with their stress digit) as Kokoro IPA; the stress mark
    goes before the vowel, as espeak-ng and misaki write it."""
    if symbol[-1] in _STRESS:
        vowels = _VOWELS_MISAKI if style == "misaki" else _VOWELS_ESPEAK
        unstressed, stressed = vowels[symbol[:-1]]
        return _STRESS[symbol[-1]] + (unstressed if symbol[-1] == "0" else stressed)
    if style == "misaki" and symbol in _AFFRICATES_MISAKI:
        return _AFFRICATES_MISAKI[symbol]
    return _CONSONANTS[symbol]


def word_ipa(phonemes: tuple[str, ...], style: str = "espeak") -> str:
    return "".join(symbol_ipa(p, style) for p in phonemes)


def speech_ipa(sentence: str, lexicon, g2p=None, style: str = "espeak",
               destress: bool = True) -> tuple[str, tuple[str, ...]]:
    """One normalized sentence (TextFrontEnd's Sentence.text) as Kokoro IPA, words apart,
    with its pause punctuation; and the phoneme symbols the IPA spells, in order (those of
    `phonemize` without its BOS, EOS and pause tokens). `destress`: FUNCTION_WORDS are
    said unstressed."""
    if style not in STYLES:
        raise ValueError(f"style {style!r}: one of {', '.join(STYLES)}")
    parts: list[str] = []
    spelled: list[str] = []
    for tok in _TOKEN.findall(sentence.lower()):
        if tok in _PUNCT:
            if parts and parts[-1][-1] not in ",.?":
                parts[-1] += _PAUSE_IPA[_PUNCT[tok]]
            continue
        pron = word_phonemes(tok, lexicon, g2p)
        if pron:
            said = tuple(p[:-1] + "0" if p[-1] in "12" else p for p in pron) \
                if tok in FUNCTION_WORDS and destress else pron
            parts.append(word_ipa(said, style))
            spelled.extend(pron)
    text = " ".join(parts)
    if text and text[-1] not in ".?":
        text = re.sub(r",$", "", text) + "."
    return text, tuple(spelled)
