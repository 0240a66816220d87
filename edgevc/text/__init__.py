"""Text front end: normalization, sentence splitting, phonemes."""

from edgevc.text.lexicon import Lexicon
from edgevc.text.phonemize import Sentence, TextFrontEnd, phonemize

__all__ = ["Lexicon", "Sentence", "TextFrontEnd", "phonemize"]
