"""Text front end: normalization, sentence splitting, phonemes."""

from edgevc.text.g2p import G2P
from edgevc.text.lexicon import Lexicon
from edgevc.text.phonemize import Sentence, TextFrontEnd, phonemize

__all__ = ["G2P", "Lexicon", "Sentence", "TextFrontEnd", "phonemize"]
