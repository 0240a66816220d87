"""Rule-based English letter-to-sound for words missing from the pronunciation lexicon.

A word is read left to right; at each letter the first matching grapheme rule of
`_RULES` (letters plus left/right context) emits phonemes. Common suffixes (-s, -es, -ed,
-ing, -ly, -ness, -ment, -ful, -less) are split off first so the stem keeps its vowels.
One primary stress per stem; all other vowels get stress 0. Output uses only
`edgevc.text.symbols.PHONEMES`.
"""

import re
import unicodedata
from collections.abc import Callable

_LETTER_NAMES = {
    "a": "EY", "b": "B IY", "c": "S IY", "d": "D IY", "e": "IY", "f": "EH F", "g": "JH IY",
    "h": "EY CH", "i": "AY", "j": "JH EY", "k": "K EY", "l": "EH L", "m": "EH M", "n": "EH N",
    "o": "OW", "p": "P IY", "q": "K Y UW", "r": "AA R", "s": "EH S", "t": "T IY", "u": "Y UW",
    "v": "V IY", "w": "D AH B AH L Y UW", "x": "EH K S", "y": "W AY", "z": "Z IY",
}

# Vowel tokens before stress assignment. "X*" is a short vowel that reduces to a schwa
# when unstressed; "AR"/"OR" are r-colored vowels: stressed AA R / AO R, unstressed ER.
_VOWEL_BASES = {"AA", "AE", "AH", "AO", "AW", "AY", "EH", "ER", "EY", "IH", "IY", "OW", "OY",
                "UH", "UW", "AR", "OR"}

_C = "[bcdfghjklmnpqrstvwxz]"   # consonant letter
_SC = "[bcdfgklmnpstvz]"         # single consonant that allows a magic e / open syllable


def _final_e(word: str, i: int) -> str:
    # Silent after another vowel ("make", "zorbe"); the only vowel of "be" or "she" is IY.
    return "" if re.search("[aeiouy]", word[1:i]) else "IY"


def _final_y(word: str, i: int) -> str:
    # "happy" ends in IY; in "fly", "by" the y is the only vowel and says AY.
    return "IY" if re.search("[aeiou]", word[1:i]) else "AY"


def _final_i(word: str, i: int) -> str:
    return "IY" if re.search("[aeiouy]", word[1:i]) else "AY"


# (pattern, phonemes) in priority order; patterns see the word as "#word#".
_RULES: list[tuple[str, str | Callable[[str, int], str]]] = [
    # silent letters and word-initial clusters
    (r"(?<=#)kn", "N"), (r"(?<=#)gn", "N"), (r"(?<=#)wr", "R"), (r"(?<=#)ps", "S"),
    (r"(?<=#)pt", "T"), (r"(?<=#)mn", "N"), (r"(?<=#)rh", "R"), (r"(?<=#)x", "Z"),
    (r"(?<=#)wh(?=o)", "HH"), (r"mb(?=#)", "M"), (r"gn(?=#)", "N"),
    # endings
    (r"(?<=[aeiou])sion", "ZH AH* N"), (r"[ts]ion", "SH AH* N"), (r"[ct]ian", "SH AH* N"),
    (r"[ct]ial", "SH AH* L"), (r"[ct]ious", "SH AH* S"), (r"[ie]ous(?=#)", "IY AH* S"),
    (r"ous(?=#)", "AH* S"), (r"(?<=[a-z])ture", "CH ER"), (r"(?<=[a-z])sure", "ZH ER"),
    (r"(?<=[a-z])ism(?=#)", "IH* Z AH* M"), (r"(?<=[a-z]{2})ive(?=#)", "IH* V"),
    (r"(?<=[a-z]{2})age(?=#)", "IH* JH"), (r"(?<=[bcdfgkptz])le(?=#)", "AH* L"),
    (r"(?<=[bcdfgkptv])re(?=#)", "ER"), (r"ing(?=#)", "IH NG"),
    # consonant digraphs and context-dependent consonants
    (r"tch", "CH"), (r"dge", "JH"), (r"sch", "S K"), (r"(?<=#)chr", "K R"), (r"ch", "CH"),
    (r"ck", "K"), (r"ph", "F"), (r"sh", "SH"), (r"th", "TH"), (r"wh", "W"),
    (r"(?<=#)gh", "G"), (r"gh", ""), (r"ng(?=[eiy])", "N JH"), (r"ng(?=[aou])", "NG G"),
    (r"ng", "NG"), (r"n(?=k|x|q|c[aoulrt#])", "NG"), (r"qu", "K W"), (r"q", "K"),
    (r"x", "K S"), (r"cc(?=[eiy])", "K S"), (r"c(?=[eiy])", "S"), (r"c", "K"),
    (r"gg", "G"), (r"g(?=[eiy])", "JH"), (r"g", "G"), (r"(?<=[aeiou])s(?=[aeiouy])", "Z"),
    (r"y(?=e#)", "AY"), (r"(?<=[#aeiou])y(?=[aeiou])", "Y"),
    (r"w(?=[aeiouy])|(?<=#)w", "W"), (r"j", "JH"),
    (r"(?<=[aeiou])h(?![aeiouy])", ""),
    # r-colored vowels
    (r"(?<=w)ar(?![aeiouyr])", "AO R"), (r"(?<=w)or(?![aeiouyr])", "ER"),
    (r"ear(?=#)", "IH R"), (r"ear(?![aeiouy])", "ER"), (r"eer", "IH R"), (r"air", "EH R"),
    (r"are(?=#)", "EH R"), (r"ire(?=#)", "AY ER"), (r"ore(?=#)", "AO R"),
    (r"ure(?=#)", "Y UH R"), (r"our", "AW ER"), (r"oor", "AO R"),
    (r"ar(?![aeiouyr])", "AR"), (r"or(?![aeiouyr])", "OR"), (r"[eiuy]r(?![aeiouyr])", "ER"),
    # vowel teams
    (r"eau", "OW"), (r"eigh", "EY"), (r"igh", "AY"), (r"ough", "AO"), (r"augh", "AO"),
    (r"ee", "IY"), (r"ea", "IY"), (r"oo(?=k)", "UH"), (r"oo", "UW"), (r"ou", "AW"),
    (r"ow(?=n)", "AW"), (r"ow", "OW"), (r"a[iy]", "EY"), (r"oa", "OW"), (r"o[iy]", "OY"),
    (r"a[uw]", "AO"), (r"ew", "UW"), (r"u[ei]", "UW"), (r"ie", "IY"), (r"ei", "IY"),
    (r"ey(?=#)", "IY"), (r"ey", "EY"), (r"eu", "Y UW"), (r"oe(?=#)", "OW"),
    (r"i[au]", "IY AH*"), (r"[ie]o", "IY OW"), (r"ua", "UW AH*"),
    # long vowels: before -tion, magic e ("make", "-able"), open syllables for o and u
    (r"a(?=tion)", "EY"), (r"e(?=tion)", "IY"), (r"o(?=tion)", "OW"), (r"u(?=tion)", "UW"),
    (rf"a(?={_SC}e#|[bcdfgkpt][lr]e#)", "EY"), (rf"e(?={_SC}e#)", "IY"),
    (rf"[iy](?={_SC}e#)", "AY"), (rf"o(?={_SC}e#)", "OW"), (rf"u(?={_SC}e#)", "UW"),
    (rf"o(?={_SC}[aeiouy])", "OW"), (rf"u(?={_SC}[aeiouy])", "UW"),
    # word-final vowels
    (r"(?<=[a-z])e(?=#)", _final_e), (r"y(?=#)", _final_y), (r"a(?=#)", "AH*"),
    (r"e(?=#)", "IY"), (r"i(?=#)", _final_i), (r"o(?=#)", "OW"), (r"u(?=#)", "UW"),
    # single letters
    (r"a", "AE*"), (r"e", "EH*"), (r"[iy]", "IH*"), (r"o", "AA*"), (r"u", "AH*"),
    (r"b", "B"), (r"d", "D"), (r"f", "F"), (r"h", "HH"), (r"k", "K"), (r"l", "L"),
    (r"m", "M"), (r"n", "N"), (r"p", "P"), (r"r", "R"), (r"s", "S"), (r"t", "T"),
    (r"v", "V"), (r"w", "W"), (r"z", "Z"),
]
_COMPILED = [(re.compile(p), out) for p, out in _RULES]

# Endings that pull the primary stress onto the syllable before them (na-TION, e-LEC-tric).
_STRESS_SUFFIXES = ("tion", "sion", "cian", "tian", "cial", "tial", "cious", "tious", "ical",
                    "ic", "ity", "ian", "ial", "ious", "eous", "ify", "itis")
# Unstressed prefixes: stress falls on the next syllable (be-GIN, con-FUSE, re-PORT).
_PREFIXES = ("pre", "con", "com", "dis", "mis", "be", "de", "re", "ex")


def _scan(word: str) -> list[tuple[str, int]]:
    """Grapheme rules -> [(phoneme token, index of its first letter)]."""
    padded = f"#{word}#"
    out: list[tuple[str, int]] = []
    i = 1
    while i < len(padded) - 1:
        c = padded[i]
        # Doubled consonants sound once ("zorbblax", "kubbernetes"); cc/gg have own rules.
        if c == padded[i + 1] and c in "bdfklmnprstvz":
            i += 1
            continue
        for pattern, phones in _COMPILED:
            m = pattern.match(padded, i)
            if m:
                text = phones(padded, i) if callable(phones) else phones
                out.extend((p, i - 1) for p in text.split())
                i = m.end()
                break
        else:
            i += 1          # unreachable for a-z: every letter has a single-letter rule
    return out


def _is_vowel(token: str) -> bool:
    return token.rstrip("*") in _VOWEL_BASES


def _primary(word: str, tokens: list[tuple[str, int]]) -> int | None:
    vowels = [k for k, (tok, _) in enumerate(tokens) if _is_vowel(tok)]
    if len(vowels) <= 1:
        return vowels[0] if vowels else None
    for sfx in _STRESS_SUFFIXES:
        if word.endswith(sfx) and len(word) > len(sfx) + 1:
            start = len(word) - len(sfx)
            before = [k for k in vowels if tokens[k][1] < start]
            if before:
                return before[-1]
            break
    for pre in _PREFIXES:
        if (len(word) >= 6 and word.startswith(pre) and
                re.match(_C, word[len(pre)]) and re.search("[aeiouy]", word[len(pre):])):
            after = [k for k in vowels if tokens[k][1] >= len(pre)]
            if after:
                return after[0]
    return vowels[0]


def _stem(word: str) -> list[str]:
    """Phonemes, with stress digits, of a word without a split-off suffix."""
    tokens = _scan(word)
    primary = _primary(word, tokens)
    if primary is None:
        return _spell(word)     # the rules ate every vowel letter ("qu"): say the letters
    out: list[str] = []
    for k, (tok, _) in enumerate(tokens):
        if not _is_vowel(tok):
            out.append(tok)
            continue
        base = tok.rstrip("*")
        if k == primary:
            out.extend({"AR": ["AA1", "R"], "OR": ["AO1", "R"]}.get(base, [base + "1"]))
        elif base in ("AR", "OR", "ER"):
            out.append("ER0")
        elif tok.endswith("*"):
            out.append("IH0" if base == "IH" else "AH0")   # unstressed short vowel: schwa
        else:
            out.append(base + "0")
    return out


def _restore_stem(stem: str) -> str:
    """Undo spelling changes made when a suffix was added (happi-ly, runn-ing, mak-ing)."""
    if stem.endswith("i"):
        return stem[:-1] + "y"
    if len(stem) > 2 and stem[-1] == stem[-2] and stem[-1] in "bdgmnprt":
        return stem[:-1]
    # One short syllable ending in a single consonant lost its magic e: "mak" -> "make".
    if re.fullmatch(rf"{_C}*[aeiou][bcdgkmnpstvz]", stem):
        return stem + "e"
    return stem


def _word(word: str) -> list[str]:
    has_vowel = lambda s: re.search("[aeiouy]", s) is not None  # noqa: E731
    if len(word) > 4 and word.endswith("ing") and has_vowel(word[:-3]):
        return [*_word(_restore_stem(word[:-3])), "IH0", "NG"]
    if len(word) > 4 and word.endswith("ed") and word[-3] != "e" and has_vowel(word[:-2]):
        stem = _word(_restore_stem(word[:-2]))
        last = stem[-1] if stem else ""
        return stem + (["IH0", "D"] if last in ("T", "D") else
                       ["T"] if last in ("P", "K", "S", "SH", "CH", "F", "TH") else ["D"])
    for sfx, phones in (("ness", ["N", "AH0", "S"]), ("ment", ["M", "AH0", "N", "T"]),
                        ("less", ["L", "AH0", "S"]), ("ful", ["F", "AH0", "L"]),
                        ("ly", ["L", "IY0"])):
        base = word[:-len(sfx)]
        if word.endswith(sfx) and len(base) >= 3 and has_vowel(base):
            return _word(_restore_stem(base) if sfx == "ly" else base) + phones
    if (len(word) > 3 and word.endswith("es") and re.search(r"(?:[sxz]|[cs]h)$", word[:-2])
            and has_vowel(word[:-2])):
        return [*_word(word[:-2]), "IH0", "Z"]
    if (len(word) > 3 and word.endswith("s") and not re.search(r"(?:[sui]s|ous)$", word)
            and has_vowel(word[:-1])):
        stem = _word(word[:-1])
        last = stem[-1] if stem else ""
        return stem + (["IH0", "Z"] if last in ("S", "Z", "SH", "ZH", "CH", "JH") else
                       ["S"] if last in ("P", "T", "K", "F", "TH") else ["Z"])
    return _stem(word)


def _spell(word: str) -> list[str]:
    # Vowel-less strings ("mp", "hmm") are read as letter names, stress on the last.
    out: list[str] = []
    for n, c in enumerate(word):
        digit = "1" if n == len(word) - 1 else "2"
        out.extend(p + digit if p in _VOWEL_BASES else p for p in _LETTER_NAMES[c].split())
    return out


def letters_to_sounds(word: str) -> list[str]:
    """ARPAbet phonemes for an English-looking word; [] when it has no letters.

    Accents are stripped; letters outside a-z (other scripts) that remain give a single
    neutral vowel so a word never disappears silently.
    """
    folded = "".join(c for c in unicodedata.normalize("NFKD", word.lower())
                     if not unicodedata.combining(c))
    letters = "".join(c for c in folded if "a" <= c <= "z")
    if not letters:
        return ["AH1"] if any(c.isalpha() for c in word) else []
    if not re.search("[aeiouy]", letters):
        return _spell(letters)
    return _word(letters)
