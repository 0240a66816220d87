"""The phoneme inventory: ARPAbet with lexical stress, plus pause and boundary tokens.

The order is part of the model contract (ids index the acoustic model's embedding) and is
written into each bundle's manifest; never reorder, only append.
"""

PAD = "_"
BOS = "^"
EOS = "$"
# Pause-bearing punctuation. "," covers , ; : and dashes; "." covers . and !
PUNCTUATION = [",", ".", "?"]

VOWELS = ["AA", "AE", "AH", "AO", "AW", "AY", "EH", "ER", "EY", "IH", "IY", "OW", "OY",
          "UH", "UW"]
CONSONANTS = ["B", "CH", "D", "DH", "F", "G", "HH", "JH", "K", "L", "M", "N", "NG", "P",
              "R", "S", "SH", "T", "TH", "V", "W", "Y", "Z", "ZH"]

PHONEMES = [v + s for v in VOWELS for s in "012"] + CONSONANTS
SYMBOLS = [PAD, BOS, EOS, *PUNCTUATION, *PHONEMES]
SYMBOL_TO_ID = {s: i for i, s in enumerate(SYMBOLS)}


def to_ids(symbols: list[str]) -> list[int]:
    return [SYMBOL_TO_ID[s] for s in symbols]
