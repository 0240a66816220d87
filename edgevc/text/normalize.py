"""Text normalization: raw English text -> speakable words with sentence punctuation.

`normalize` expands numbers, money, times, dates, units, abbreviations, symbols and
acronyms into words, maps unicode punctuation to ASCII and drops what cannot be spoken.
Afterwards the only periods left end sentences, so the splitter may split on . ! ?
Deterministic; standard library only.
"""

import re
import unicodedata

# --------------------------------------------------------------------------- numbers

_ONES = ("zero one two three four five six seven eight nine ten eleven twelve thirteen "
         "fourteen fifteen sixteen seventeen eighteen nineteen").split()
_TENS = ("", "", "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety")
_SCALES = ((10**12, "trillion"), (10**9, "billion"), (10**6, "million"), (1000, "thousand"))
_ORDINAL_WORDS = {"one": "first", "two": "second", "three": "third", "five": "fifth",
                  "eight": "eighth", "nine": "ninth", "twelve": "twelfth"}


def cardinal(n: int) -> str:
    """208 -> 'two hundred eight' (no 'and', American style)."""
    if n < 0:
        return "minus " + cardinal(-n)
    if n < 20:
        return _ONES[n]
    if n < 100:
        tens, ones = divmod(n, 10)
        return _TENS[tens] + (" " + _ONES[ones] if ones else "")
    if n < 1000:
        hundreds, rest = divmod(n, 100)
        return _ONES[hundreds] + " hundred" + (" " + cardinal(rest) if rest else "")
    for value, name in _SCALES:
        if n >= value:
            q, rest = divmod(n, value)
            return cardinal(q) + " " + name + (" " + cardinal(rest) if rest else "")
    raise AssertionError("unreachable")


def ordinal(n: int) -> str:
    """21 -> 'twenty first'."""
    words = cardinal(n).split()
    last = words[-1]
    if last in _ORDINAL_WORDS:
        words[-1] = _ORDINAL_WORDS[last]
    elif last.endswith("y"):
        words[-1] = last[:-1] + "ieth"
    else:
        words[-1] = last + "th"
    return " ".join(words)


def digits(s: str) -> str:
    """'5551234' -> 'five five five one two three four'."""
    return " ".join(_ONES[int(c)] for c in s if c.isdigit())


def year(n: int) -> str:
    """1984 -> 'nineteen eighty four', 2005 -> 'two thousand five', 2010 -> 'twenty ten'."""
    if 2000 <= n <= 2009 or n < 1000 or n > 9999:
        return cardinal(n)
    hi, lo = divmod(n, 100)
    if lo == 0:
        return cardinal(hi) + " hundred"
    return cardinal(hi) + (" oh " + _ONES[lo] if lo < 10 else " " + cardinal(lo))


def _plural(words: str) -> str:
    # 'nineteen ninety' -> 'nineteen nineties', 'two thousand' -> 'two thousands'
    head, _, last = words.rpartition(" ")
    last = last[:-1] + "ies" if last.endswith("y") else last + "s"
    return (head + " " + last).strip()


def _integer(s: str) -> str:
    """An integer as written: grouped with commas, a long digit string, or a plain count."""
    if "," in s:
        return cardinal(int(s.replace(",", "")))
    # Long unseparated strings (ids, account and phone numbers) and leading zeros
    # ("007") are read digit by digit.
    if len(s) >= 7 or (len(s) > 1 and s[0] == "0"):
        return digits(s)
    return cardinal(int(s))


def number(s: str) -> str:
    """'1,234' / '3.14' / '.5' / '0042' -> words."""
    whole, _, frac = s.partition(".")
    out = _integer(whole) if whole else ""
    if frac:
        out = (out + " point " + digits(frac)).strip()
    return out


def _is_one(s: str) -> bool:
    return s.lstrip("-") == "1"


# ------------------------------------------------------------------------- helpers

_INT = r"\d{1,3}(?:,\d{3})+(?!\d)|\d+"     # 1,234,567 or 1234567
_NUM = rf"(?:{_INT})(?:\.\d+)?"             # optional decimal part
_CLOSERS = "\"')]}"


def _rest_is_end(rest: str) -> bool:
    """True when nothing speakable follows (end of text or of the paragraph)."""
    rest = rest.lstrip(_CLOSERS + " \t")
    return not rest or rest.startswith("\n")


def _ends_sentence(rest: str) -> bool:
    """Guess whether a period just consumed also ended its sentence.

    Yes at the end of text, or when whitespace and a capital letter follow; no when
    other punctuation or a lowercase word follows ("etc., and" / "10 a.m. tomorrow").
    """
    if _rest_is_end(rest):
        return True
    return re.match(r"[\"')\]}]*\s+[\"'(\[]*[A-Z]", rest) is not None


def _words(text: str) -> str:
    return f" {text} "


# Context windows around a match: enough to see neighboring words, and bounded so that
# long inputs stay linear.
_WINDOW = 200


def _before(m: re.Match) -> str:
    return m.string[max(0, m.start() - _WINDOW):m.start()]


def _after(m: re.Match) -> str:
    return m.string[m.end():m.end() + _WINDOW]


# --------------------------------------------------------------------- 1. unicode

_CHAR_MAP = {
    "\u2018": "'", "\u2019": "'", "\u201a": "'", "\u201b": "'", "\u2032": "'",
    "\u201c": '"', "\u201d": '"', "\u201e": '"', "\u201f": '"', "\u2033": '"',
    "\u00ab": '"', "\u00bb": '"',
    "\u2010": "-", "\u2011": "-", "\u2012": "-", "\u2212": "-", "\u2015": "\u2014",
    "\u00df": "ss", "\u00e6": "ae", "\u00c6": "AE", "\u0153": "oe", "\u0152": "OE",
    "\u00f8": "o", "\u00d8": "O", "\u0142": "l", "\u0141": "L", "\u0111": "d",
    "\u00fe": "th", "\u00f0": "d", "\u2022": "*", "\u00b7": " ", "\u2026": "...",
    "\u00b2": "^2", "\u00b3": "^3", "\t": " ", "\r": "",
}


# Terminal escape sequences (colours, cursor moves, titles) are markup, not text: without
# this, "\x1b[31mred" lost only its ESC and was read "thirty one mred".
_ANSI = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]|\x9b[0-?]*[ -/]*[@-~]"
                   r"|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?|\x1b[ -/]*[0-~]")


def _unicode(text: str) -> str:
    text = _ANSI.sub("", text.replace("\r\n", "\n"))
    # Vulgar fractions first: NFKC would glue "3½" into "31⁄2".
    text = "".join(" " + unicodedata.normalize("NFKC", c).replace("\u2044", "/")
                   if unicodedata.category(c) == "No" and "\u2044" in
                   unicodedata.normalize("NFKC", c) else c for c in text)
    text = "".join(_CHAR_MAP.get(c, c) for c in text)
    text = unicodedata.normalize("NFKC", text)
    text = "".join(_CHAR_MAP.get(c, c) for c in text)
    # Strip accents (café -> cafe) so the lexicon and letter-to-sound see plain a-z.
    text = "".join(c for c in unicodedata.normalize("NFKD", text)
                   if not unicodedata.combining(c))
    # Control and zero-width characters are not text.
    text = "".join(c for c in text if c == "\n" or unicodedata.category(c)[0] != "C")
    # An en dash between numbers is a range; other en/em dashes are a spoken pause.
    text = re.sub(r"(?<=\d)\s*\u2013\s*(?=\d)", "-", text)
    # (?<!\s): a match inside a run of spaces is found from its start (linear time).
    return re.sub(r"(?<!\s)(?:\s*[\u2013\u2014]\s*|\s+--+\s+)|(?<=\w)--+(?=\w)", " - ", text)


# ------------------------------------------------------------ 2. lines and bullets

def _lines(text: str) -> str:
    paragraphs = []
    for para in re.split(r"\n[ \t]*\n\s*", text.strip()):
        out: list[str] = []
        for line in para.split("\n"):
            line = line.strip()
            bullet = re.match(r"([-*+>]|\d{1,2}[.)])\s+", line)
            if bullet:
                marker = bullet.group(1)
                # Numbered items keep their number as a spoken label: "1." -> "1,".
                line = (marker[:-1] + ", " if marker[0].isdigit() else "") + line[bullet.end():]
                # A list item is its own phrase: pause before it.
                if out and not re.search(r"[.,;:!?]$", out[-1]):
                    out[-1] += ","
            if line:
                out.append(line)
        if out:
            paragraphs.append(" ".join(out))
    return "\n\n".join(paragraphs)


# ----------------------------------------------------------- 3. emails and urls

_TLDS = "com|org|net|edu|gov|io|ai|co|uk|us|de|fr|dev|app|info|tv|me|ly"
# The lookbehinds start a match only where a run of address characters starts: a match
# found from inside a run is found from its start too, and trying every dot in
# "a.a.a.a..." rescanned the rest each time (quadratic).
_EMAIL = re.compile(r"(?<![\w.+-])\b([\w.+-]+)@([\w-]+(?:\.[\w-]+)+)\b")
_URL = re.compile(rf"(?<![\w-])(?<![\w-]\.)\b(?:https?://)?(?:www\.)?[\w-]+(?:\.[\w-]+)*\.(?:{_TLDS})\b"
                  r"(?:/[\w./%?=&+-]*[\w/])?", re.IGNORECASE)


def _spoken_address(s: str) -> str:
    s = re.sub(r"^https?://", "", s, flags=re.IGNORECASE)
    s = re.sub(r"^www\.", "w w w dot ", s, flags=re.IGNORECASE)
    for sym, word in ((".", " dot "), ("/", " slash "), ("_", " underscore "),
                      ("-", " dash "), ("@", " at "), ("+", " plus "), ("?", " "),
                      ("=", " equals "), ("&", " and "), ("%", " percent ")):
        s = s.replace(sym, word)
    return _words(s)


def _addresses(text: str) -> str:
    text = _EMAIL.sub(lambda m: _spoken_address(m.group(0)), text)
    return _URL.sub(lambda m: _spoken_address(m.group(0)), text)


# ---------------------------------------------------------------------- 4. times

_TIME = re.compile(r"(?<![\d.:,])(\d{1,2})(?:([:.])(\d{2})(?::(\d{2}))?)?(?![\d:])"
                   r"(?:\s*([AaPp])\.?\s?([Mm])(\.)?(?![A-Za-z]))?")


def _time(m: re.Match) -> str:
    h, sep, mins, secs, ap, _, dot = m.groups()
    if ap is None and (sep != ":" or mins is None):
        return m.group(0)          # a plain number or a decimal, not a time
    hour, minute = int(h), int(mins or 0)
    if minute > 59 or hour > 24 or (ap and not 1 <= hour <= 12):
        return m.group(0)
    words = cardinal(hour)
    if minute:
        words += " " + ("oh " + _ONES[minute] if minute < 10 else cardinal(minute))
    elif ap is None:
        words += " o'clock"
    if secs:
        words += " and " + cardinal(int(secs)) + " seconds"
    if ap:
        # "ay" is the letter name A; a bare "a" would be read as the article.
        words += " ay m" if ap in "Aa" else " p m"
        if dot and _ends_sentence(_after(m)):
            words += "."
    return _words(words)


# ---------------------------------------------------------------------- 5. dates

_MONTHS = ("january february march april may june july august september october "
           "november december").split()
_MONTH_ABBR = {"jan": 1, "feb": 2, "mar": 3, "apr": 4, "jun": 6, "jul": 7, "aug": 8,
               "sep": 9, "sept": 9, "oct": 10, "nov": 11, "dec": 12}
_MON = (r"(?P<mon>january|february|march|april|may|june|july|august|september|october|"
        r"november|december|jan|feb|mar|apr|jun|jul|aug|sept|sep|oct|nov|dec)")


def _month(name: str) -> str | None:
    """Full month name for a matched token, or None when it is probably not a month."""
    low = name.lower()
    # "may" and three-letter abbreviations are ordinary words unless capitalized.
    if (low == "may" or low in _MONTH_ABBR) and not name[0].isupper():
        return None
    if low in _MONTH_ABBR:
        return _MONTHS[_MONTH_ABBR[low] - 1].capitalize()
    return name


def _date_words(month: int, day: int, yr: str | None) -> str | None:
    if not (1 <= month <= 12 and 1 <= day <= 31):
        return None
    out = _MONTHS[month - 1] + " " + ordinal(day)
    if yr:
        out += " " + (year(int(yr)) if len(yr) == 4 else
                      ("oh " + _ONES[int(yr)] if int(yr) < 10 else cardinal(int(yr))))
    return _words(out)


def _iso_date(m: re.Match) -> str:
    return _date_words(int(m.group(2)), int(m.group(3)), m.group(1)) or m.group(0)


def _slash_date(m: re.Match) -> str:
    a, b, yr = int(m.group(1)), int(m.group(2)), m.group(3)
    # US order (month/day) unless the first field cannot be a month.
    month, day = (b, a) if a > 12 >= b else (a, b)
    return _date_words(month, day, yr) or m.group(0)


def _dotted_date(m: re.Match) -> str:
    a, b, yr = int(m.group(1)), int(m.group(2)), m.group(3)
    # Dotted dates are European (day.month) unless the second field cannot be a month.
    day, month = (b, a) if b > 12 >= a else (a, b)
    return _date_words(month, day, yr) or m.group(0)


def _month_day(m: re.Match) -> str:
    month = _month(m.group("mon"))
    day = int(m.group("day"))
    if month is None or not 1 <= day <= 31:
        return m.group(0)
    # "march 5 miles" is a verb; a lowercase month needs an ordinal or a year.
    if month[0].islower() and not (m.group("suf") or m.group("yr")):
        return m.group(0)
    out = f"{month} {ordinal(day)}"
    if m.group("yr"):
        out += (m.group("comma") or "") + " " + year(int(m.group("yr")))
    return _words(out)


def _day_month(m: re.Match) -> str:
    month = _month(m.group("mon"))
    day = int(m.group("day"))
    if month is None or not m.group("mon")[0].isupper() or not 1 <= day <= 31:
        return m.group(0)
    the = "" if re.search(r"\bthe\s*$", _before(m), re.IGNORECASE) else "the "
    out = f"{the}{ordinal(day)} of {month}"
    if m.group("yr"):
        out += " " + year(int(m.group("yr")))
    if m.group("dot") and (m.group("mon").lower() not in _MONTH_ABBR or
                           _ends_sentence(_after(m))):
        out += "."          # the period was the sentence's, not the abbreviation's
    return _words(out)


def _month_year(m: re.Match) -> str:
    month = _month(m.group("mon"))
    if month is None:
        return m.group(0)
    return _words(f"{month} {year(int(m.group('yr')))}")


def _dates(text: str) -> str:
    text = re.sub(r"(?<![\d-])(\d{4})-(\d{2})-(\d{2})(?![\d-])", _iso_date, text)
    text = re.sub(r"(?<![\d/])(\d{1,2})/(\d{1,2})/(\d{4}|\d{2})(?![\d/])", _slash_date, text)
    text = re.sub(r"(?<![\d.])(\d{1,2})\.(\d{1,2})\.(\d{4})(?![\d.])", _dotted_date, text)
    text = re.sub(rf"\b{_MON}\.?\s+(?P<day>\d{{1,2}})(?P<suf>st|nd|rd|th)?(?![\d:%]|\.\d)"
                  r"(?:(?P<comma>,)?\s+(?P<yr>1\d{3}|20\d{2})(?!\d))?",
                  _month_day, text, flags=re.IGNORECASE)
    text = re.sub(rf"(?<![\d.,])(?P<day>\d{{1,2}})(?:st|nd|rd|th)?\s+(?:of\s+)?{_MON}\b(?P<dot>\.)?"
                  r"(?:,?\s+(?P<yr>1\d{3}|20\d{2})(?!\d))?",
                  _day_month, text, flags=re.IGNORECASE)
    return re.sub(rf"\b{_MON}\.?\s+(?P<yr>1\d{{3}}|20\d{{2}})(?![\d%])", _month_year, text,
                  flags=re.IGNORECASE)


# -------------------------------------------------------------- 6. abbreviations

# Abbreviations whose period is never a sentence end (they precede what they qualify),
# unless nothing follows them at all.
_PREFIX_ABBR = {"mr": "mister", "mrs": "missus", "ms": "miz", "prof": "professor",
                "vs": "versus", "approx": "approximately", "mt": "mount", "fig": "figure",
                "figs": "figures", "sgt": "sergeant", "capt": "captain", "lt": "lieutenant",
                "gen": "general", "gov": "governor", "sen": "senator", "rep": "representative",
                "vol": "volume", "ch": "chapter", "pt": "part", "ref": "reference"}
# Abbreviations that often end a sentence; their period stays when one seems to end.
_FINAL_ABBR = {"etc": "et cetera", "jr": "junior", "sr": "senior", "inc": "incorporated",
               "ltd": "limited", "corp": "corporation", "co": "company", "dept": "department",
               "ave": "avenue", "blvd": "boulevard", "rd": "road", "al": "al",
               "jan": "January", "feb": "February", "mar": "March", "apr": "April",
               "jun": "June", "jul": "July", "aug": "August", "sep": "September",
               "sept": "September", "oct": "October", "nov": "November", "dec": "December"}
# Capitalized words that usually begin a new sentence rather than name a person or place.
_STARTERS = set("the a an i it he she we they you this that there then but and so if "
                "my our his her their its in on at after before when".split())
# Words before "St." that make it part of a place name ("Port St. Lucie").
_PLACE_PREFIXES = {"Port", "Fort", "Mount", "Lake", "Cape", "San"}
_DOTTED = {"eg": "for example", "ie": "that is", "am": "ay m", "pm": "p m",
           "aka": "also known as", "etc": "et cetera"}


def _title_or_place(m: re.Match) -> str:
    """Dr./St.: drive or street after a name ("Elm St."), doctor or saint before one."""
    word, dot = m.group(1), m.group(2)
    before, rest = _before(m), _after(m)
    title, place = ("doctor", "drive") if word.lower() == "dr" else ("saint", "street")
    nxt = re.match(r"\s+([A-Z][a-z'-]*)", rest)
    toks = before.split()
    # A capitalized word that does not start a sentence is a name ("on Elm St."), and so
    # is a numbered street ("5th St."); "Ask Dr. Smith" starts with a plain capital.
    prev_name = bool(toks) and toks[-1] not in _PLACE_PREFIXES and (
        re.fullmatch(r"\d+(?:st|nd|rd|th)?", toks[-1]) is not None or
        (re.fullmatch(r"[A-Z][a-z'-]*", toks[-1]) is not None and len(toks) > 1 and
         not toks[-2].endswith((".", "!", "?", ":"))))
    if prev_name:
        return place + ("." if dot and _ends_sentence(rest) else "")
    if nxt and nxt.group(1).lower() not in _STARTERS:
        return title
    if not dot:
        return m.group(0)          # a bare "st"/"dr" not next to a name: leave it
    if word.lower() == "st":
        return place + ("." if _ends_sentence(rest) else "")
    return title + ("." if _rest_is_end(rest) else "")


# Abbreviations also written in lowercase; the others must be capitalized ("5 ms." is a unit).
_LOWER_OK = {"vs", "approx", "etc", "al", "fig"}


def _prefix_abbr(m: re.Match) -> str:
    if m.group(1)[0].islower() and m.group(1).lower() not in _LOWER_OK:
        return m.group(0)
    word = _PREFIX_ABBR[m.group(1).lower()]
    return word + ("." if _rest_is_end(_after(m)) else "")


def _final_abbr(m: re.Match) -> str:
    key = m.group(1).lower()
    if m.group(1)[0].islower() and key not in _LOWER_OK:
        return m.group(0)
    return _FINAL_ABBR[key] + ("." if _ends_sentence(_after(m)) else "")


def _spell(letters: str) -> str:
    # The letter A is spelled "ay": a bare "a" is the article to the lexicon.
    return " ".join("ay" if c == "a" else c for c in letters.lower())


def _dotted(m: re.Match) -> str:
    letters = m.group(0).replace(".", "")
    key = letters.lower()
    rest = _after(m)
    if key in ("eg", "ie"):
        return _DOTTED[key] + ("." if _rest_is_end(rest) else "")
    words = _DOTTED.get(key) or _spell(letters)
    end = m.group(0).endswith(".") and _ends_sentence(rest)
    return _words(words) + ("." if end else "")


def _initial(m: re.Match) -> str:
    # "John F. Kennedy", "J. R. R. Tolkien": the period after an initial inside a name ends
    # nothing. After a lowercase word ("got an A. Then") it is a sentence end: keep it.
    before = _before(m)
    if before.strip() and not re.search(r"(?:\b[A-Z][A-Za-z'-]*|\b[A-Z]\.)\s+$", before):
        return m.group(0)
    return _spell(m.group(1)) if m.group(1) == "A" else m.group(1)


def _abbreviations(text: str) -> str:
    text = re.sub(r"\b(?:No|no|NO)\.\s*(?=#?\d)", " number ", text)
    text = re.sub(r"\b(?:Nos|nos)\.\s*(?=\d)", " numbers ", text)
    text = re.sub(r"\b(Dr|St|DR|ST|dr|st)\b(\.)?", _title_or_place, text)
    text = re.sub(r"\b(" + "|".join(_PREFIX_ABBR) + r")\.", _prefix_abbr, text,
                  flags=re.IGNORECASE)
    # Without a period only the common titles are safe to expand ("Mr Smith").
    text = re.sub(r"\b(Mrs|Mr|Ms)\b(?=\s+[A-Z])", lambda m: _PREFIX_ABBR[m.group(1).lower()],
                  text)
    text = re.sub(r"\b(" + "|".join(sorted(_FINAL_ABBR, key=len, reverse=True)) + r")\.",
                  _final_abbr, text, flags=re.IGNORECASE)
    text = re.sub(r"(?<![\w.])(?:[A-Za-z]\.){2,}(?![A-Za-z])|\b[aA]\.[kK]\.[aA]\b"
                  r"|\bPh\.D\.", _dotted, text)
    return re.sub(r"(?<![\w.])([A-Z])\.(?=\s+[A-Z][a-z])", _initial, text)


# -------------------------------------------------------------- 7. money, units

_CURRENCY = {"$": ("dollar", "dollars", "cent", "cents"),
             "\u00a3": ("pound", "pounds", "penny", "pence"),
             "\u20ac": ("euro", "euros", "cent", "cents"),
             "\u00a5": ("yen", "yen", None, None),
             "\u20b9": ("rupee", "rupees", "paisa", "paise")}
_CURRENCY_CODES = {"usd": "$", "eur": "\u20ac", "gbp": "\u00a3", "jpy": "\u00a5", "inr": "\u20b9"}
_MONEY_SCALE = {"thousand": "thousand", "million": "million", "billion": "billion",
                "trillion": "trillion", "k": "thousand", "m": "million", "mn": "million",
                "b": "billion", "bn": "billion", "t": "trillion", "tn": "trillion"}
_MONEY = re.compile(r"([$\u00a3\u20ac\u00a5\u20b9])\s?(" + _INT + r")(?:\.(\d+))?"
                    r"(?:(\s?(?:thousand|million|billion|trillion))|([kKmMbBtT][nN]?))?"
                    r"(?![A-Za-z\d])")


def _money_words(sym: str, whole: str, frac: str | None, scale: str | None) -> str:
    one, many, sub_one, sub_many = _CURRENCY[sym]
    if scale:
        value = number(whole + ("." + frac if frac else ""))
        return f"{value} {_MONEY_SCALE[scale.strip().lower()]} {many}"
    if frac and (len(frac) > 2 or sub_one is None):
        return f"{number(whole + '.' + frac)} {many}"
    main = int(whole.replace(",", ""))
    sub = int(frac.ljust(2, "0")) if frac else 0
    parts = []
    if main or not sub:
        parts.append(f"{_integer(whole)} {one if main == 1 else many}")
    if sub:
        parts.append(f"{cardinal(sub)} {sub_one if sub == 1 else sub_many}")
    return " and ".join(parts)


def _money(m: re.Match) -> str:
    sym, whole, frac, word_scale, letter_scale = m.groups()
    return _words(_money_words(sym, whole, frac, word_scale or letter_scale))


def _money_code(m: re.Match) -> str:
    code = m.group("code").lower()
    return _words(_money_words(_CURRENCY_CODES[code], m.group("whole"), m.group("frac"), None))


# symbol -> (singular, plural). Matching is case-sensitive: "MB" is not "mb".
_UNITS = {
    "km": ("kilometer", "kilometers"), "m": ("meter", "meters"),
    "cm": ("centimeter", "centimeters"), "mm": ("millimeter", "millimeters"),
    "mi": ("mile", "miles"), "ft": ("foot", "feet"), "yd": ("yard", "yards"),
    "kg": ("kilogram", "kilograms"), "g": ("gram", "grams"), "mg": ("milligram", "milligrams"),
    "lb": ("pound", "pounds"), "lbs": ("pounds", "pounds"), "oz": ("ounce", "ounces"),
    "l": ("liter", "liters"), "L": ("liter", "liters"), "ml": ("milliliter", "milliliters"),
    "mL": ("milliliter", "milliliters"),
    "mph": ("mile per hour", "miles per hour"),
    "kph": ("kilometer per hour", "kilometers per hour"),
    "km/h": ("kilometer per hour", "kilometers per hour"),
    "m/s": ("meter per second", "meters per second"),
    "Hz": ("hertz", "hertz"), "kHz": ("kilohertz", "kilohertz"),
    "MHz": ("megahertz", "megahertz"), "GHz": ("gigahertz", "gigahertz"),
    "KB": ("kilobyte", "kilobytes"), "kB": ("kilobyte", "kilobytes"),
    "MB": ("megabyte", "megabytes"), "GB": ("gigabyte", "gigabytes"),
    "TB": ("terabyte", "terabytes"), "Mbps": ("megabit per second", "megabits per second"),
    "Gbps": ("gigabit per second", "gigabits per second"),
    "W": ("watt", "watts"), "kW": ("kilowatt", "kilowatts"), "MW": ("megawatt", "megawatts"),
    "kWh": ("kilowatt hour", "kilowatt hours"), "V": ("volt", "volts"),
    "mAh": ("milliamp hour", "milliamp hours"), "ms": ("millisecond", "milliseconds"),
    "sec": ("second", "seconds"), "secs": ("seconds", "seconds"),
    "min": ("minute", "minutes"), "mins": ("minutes", "minutes"),
    "hr": ("hour", "hours"), "hrs": ("hours", "hours"), "h": ("hour", "hours"),
    "fps": ("frame per second", "frames per second"), "px": ("pixel", "pixels"),
    "dB": ("decibel", "decibels"),
}
_UNIT = re.compile(r"(-?)(" + _NUM + r")\s?(" +
                   "|".join(re.escape(u) for u in sorted(_UNITS, key=len, reverse=True)) +
                   r")(\^[23])?(?![A-Za-z\d/])(\.(?=\s+[a-z]))?")
_POWER = {"^2": "square ", "^3": "cubic "}


def _unit(m: re.Match) -> str:
    # A trailing period before a lowercase word belonged to the unit ("5 min. later").
    sign, num, unit, power, _ = m.groups()
    one, many = _UNITS[unit]
    name = (_POWER[power] if power else "") + (one if _is_one(num) else many)
    return _words(("minus " if sign else "") + number(num) + " " + name)


def _degrees(m: re.Match) -> str:
    sign, num, scale = m.groups()
    out = ("minus " if sign else "") + number(num) + (" degree" if _is_one(num) else " degrees")
    return _words(out + {"C": " celsius", "F": " fahrenheit", "K": " kelvin"}.get(scale or "", ""))


# ------------------------------------------------------------ 8. other numbers

_FRACTION_DENOMINATORS = {2, 3, 4, 5, 6, 7, 8, 9, 10, 16, 32, 64, 100}


def _fraction_words(a: int, b: int) -> str:
    if b == 2:
        name = "half" if a == 1 else "halves"
    elif b == 4:
        name = "quarter" if a == 1 else "quarters"
    else:
        name = ordinal(b) if a == 1 else _plural(ordinal(b))
    return f"{cardinal(a)} {name}"


def _fraction(m: re.Match) -> str:
    whole, a, b = m.group(1), int(m.group(2)), int(m.group(3))
    if 0 < a < b and b in _FRACTION_DENOMINATORS:
        words = _fraction_words(a, b)
        if whole:
            words = f"{_integer(whole)} and {words}"
        return _words(words)
    # "24/7", "50/50", "9/11": read the numbers with a short gap.
    return _words(" ".join(x for x in (whole and _integer(whole), cardinal(a), cardinal(b)) if x))


def _phone(m: re.Match) -> str:
    groups = [g for g in m.groups() if g]
    return _words(", ".join(("plus " if g.startswith("+") else "") + digits(g) for g in groups))


def _decade(m: re.Match) -> str:
    num = m.group(1)
    n = int(num)
    if len(num) == 4 and 1100 <= n <= 2099:
        words = year(n)
    else:
        words = _integer(num)
    return _words(_plural(words))


def _ordinal(m: re.Match) -> str:
    return _words(ordinal(int(m.group(1).replace(",", ""))))


# Previous words that make a following four-digit number a count or label, not a year.
_COUNT_CUES = set("flight flights room page pages number no about over under than nearly "
                  "almost approximately exactly only just total has have had with top bus "
                  "route gate code pin model version score scored cost costs paid pay weighs "
                  "weighed around some".split())
# Previous words that make it a year.
_YEAR_CUES = set("in since from by until till through during before after circa year of "
                 "early late mid summer winter spring autumn fall".split())
_IRREGULAR_PLURALS = {"people", "men", "women", "children", "feet", "teeth", "mice", "persons"}
_NOT_PLURAL = {"was", "is", "has", "does", "goes", "says", "as", "this", "its", "his", "us",
               "thus", "plus", "minus", "yes", "less", "bc", "ad", "bce", "ce"}


def _maybe_year(m: re.Match) -> str:
    s = m.group(1)
    n = int(s)
    if not 1000 <= n <= 2099:
        return _words(_integer(s))
    before, after = _before(m), _after(m)
    m_prev = re.search(r"([A-Za-z]+)\.?\s+$", before)
    prev = m_prev.group(1).lower() if m_prev else ""
    m_next = re.match(r"\s+([A-Za-z]+)", after)
    nxt = m_next.group(1) if m_next else ""
    if prev in _YEAR_CUES or nxt.upper() in ("AD", "BC", "BCE", "CE"):
        return _words(year(n))
    if n < 1100:
        return _words(cardinal(n))      # 1000-1099 are years only with a cue
    # "Flight 1999", "#1999", or a counted noun after it ("1500 people", "2048 bytes").
    counted = nxt.islower() and (nxt in _IRREGULAR_PLURALS or (
        len(nxt) > 2 and nxt.endswith("s") and not nxt.endswith("ss") and nxt not in _NOT_PLURAL))
    if prev in _COUNT_CUES or counted or before.rstrip().endswith(("#", "number")):
        return _words(cardinal(n))
    return _words(year(n))


def _decimal(m: re.Match) -> str:
    s = m.group(0)
    if s.count(".") > 1:
        # Versions and addresses: "1.2.3" -> "one dot two dot three"
        return _words(" dot ".join(_integer(p) if p else "" for p in s.split(".")))
    return _words(number(s))


# Digit runs longer than any number read as a whole: comma-grouped past 10^18, or 41+
# digits (a decimal's too). They are read digit by digit first, as long digit strings
# are anyway; left in place, every pattern below rescanned them from each group
# (quadratic: 3 KB took seconds) and int() refused 4,300+ digits.
_LONG_DIGITS = re.compile(r"(?:(?<=\d)\.)?(?:\d{1,3}(?:,\d{3}){6,}|\d{41,})")


def _long_digits(m: re.Match) -> str:
    point = "point " if m.group(0).startswith(".") else ""
    return _words(point + digits(m.group(0)))


def _numbers(text: str) -> str:
    text = _LONG_DIGITS.sub(_long_digits, text)
    text = re.sub(r"(?<![\d.])(\d+)\s+(\d{1,2})/(\d{1,3})(?![\d/])", _fraction, text)
    text = re.sub(r"(?<![\d./])()(\d{1,3})/(\d{1,3})(?![\d/])", _fraction, text)
    # Phone numbers: (555) 123-4567, 555-123-4567, +1 555 123 4567, 555-1234
    text = re.sub(r"(?<![\w+])(\+\d{1,3}|1)?[\s.-]?\(?(\d{3})\)?[\s.-]?(\d{3})[\s.-](\d{4})"
                  r"(?![\d-])", _phone, text)
    text = re.sub(r"(?<![\d,.-])(\d{3})-(\d{4})(?![\d-])", _phone, text)
    # Ranges: "5-10" -> "5 to 10" (a leading minus is handled next).
    text = re.sub(rf"(?<=[\d%])-(?=[$\u00a3\u20ac]?(?:{_NUM}))", " to ", text)
    # A minus sign before a number that does not follow a word or number.
    text = re.sub(r"(?:(?<=^)|(?<=[\s(\[=:;,]))-(?=[$\u00a3\u20ac\u00a5\u20b9]?\.?\d)",
                  "minus ", text)
    text = re.sub(r"(?:(?<=^)|(?<=[\s(\[=:;,]))\+(?=\d)", "plus ", text)
    text = re.sub(r"(?:(?<=^)|(?<=\s))~(?=\$?\d)", "about ", text)
    # Money: $18.25, £5, €3.50, $2.5 million, 100 USD
    text = _MONEY.sub(_money, text)
    text = re.sub(rf"\b(?P<code>USD|EUR|GBP|JPY|INR)\s?(?P<whole>{_INT})(?:\.(?P<frac>\d+))?\b",
                  _money_code, text)
    text = re.sub(rf"\b(?P<whole>{_INT})(?:\.(?P<frac>\d+))?\s?(?P<code>USD|EUR|GBP|JPY|INR)\b",
                  _money_code, text)
    text = re.sub(rf"(?<![\d.])({_INT})(?:\.(\d+))?\s?\u00a2",
                  lambda m: _words(number(m.group(0)[:-1].strip()) + " cents"), text)
    text = re.sub(rf"(-?)({_NUM})\s?%", lambda m: _words(
        ("minus " if m.group(1) else "") + number(m.group(2)) + " percent"), text)
    text = re.sub(rf"(-?)({_NUM})\s?\u00b0\s?([CFK](?![A-Za-z]))?", _degrees, text)
    text = _UNIT.sub(_unit, text)
    text = re.sub(r"\^2(?!\d)", " squared ", text)
    text = re.sub(r"\^3(?!\d)", " cubed ", text)
    text = re.sub(r"\^(?=\d)", " to the power of ", text)
    # "$5/month", "3 times/week": a slash before a unit of counting is "per".
    text = re.sub(r"(?<=[A-Za-z\d])\s?/\s?(?=(?:second|minute|hour|day|night|week|month|year|"
                  r"person|head|unit|item|kg|lb|mile)s?\b)", " per ", text)
    text = re.sub(r"(?<=\d)\s?[x\u00d7]\s?(?=\d)", " by ", text)
    text = re.sub(r"(?<=\d)[x\u00d7](?![A-Za-z\d])", " times", text)
    text = re.sub(r"(?<=\d)\s?\*\s?(?=\d)", " times ", text)
    text = re.sub(r"#\s?(?=\d)", " number ", text)
    text = re.sub(r"(?<![\w'])'?(\d*0)'?s\b", _decade, text)
    text = re.sub(rf"(?<![\d.])({_INT})(?:st|nd|rd|th)\b", _ordinal, text, flags=re.IGNORECASE)
    text = re.sub(r"(?<![\d,.])(\d{4})(?!\d|[,.]\d)", _maybe_year, text)
    text = re.sub(rf"(?:{_INT})?(?:\.\d+)+|{_INT}", _decimal, text)
    text = re.sub(r"\d+", lambda m: _words(_integer(m.group(0))), text)
    return text


# ----------------------------------------------------------- 9. symbols, acronyms

_SYMBOLS = {"&": " and ", "+": " plus ", "=": " equals ", "@": " at ", "%": " percent ",
            "\u00b0": " degrees ", "\u00d7": " times ", "\u00f7": " divided by ",
            "\u00b1": " plus or minus ", "\u00a7": " section ", "\u00a9": " copyright ",
            "$": " dollars ", "\u20ac": " euros ", "\u00a3": " pounds ", "\u00a5": " yen ",
            "(": ", ", ")": ", ", "[": ", ", "]": ", ", "{": ", ", "}": ", ", "|": ", ",
            "_": " ", "/": " ", "\\": " ", "~": " ", "*": " ", "^": " ", "`": " ", '"': " ",
            "<": " ", ">": " ", "#": " "}


def _symbols(text: str) -> str:
    return "".join(_SYMBOLS.get(c, c) for c in text)


# Acronym rule: an ALL-CAPS token of 2-5 letters is spelled out ("FBI" -> "f b i") when
#  - it is in _SPELLED, or
#  - it has 2 letters and is not a common word (in mixed-case text), or
#  - it is not pronounceable as a word: no vowel, a consonant cluster no English word starts
#    or ends with ("GPU", "IBM"), a vowel pair that is no English vowel team ("CEO"), or a
#    vowel-consonant-vowel shape not ending in e ("USA", "EPA");
# and it is not in _WORDS. Pronounceable tokens ("NASA", "NATO", "LASER") are read as
# words; so are all caps in shouted text (a neighbor is also all caps), unless unpronounceable.
_SPELLED = set("CIA CEO USA UFO EU UK US AI API CPU GPU TPU NPU BIO DUI GUI IOU NBA NFL "
               "DVD CD PC TV OS IT HR PR PDF URL HTML CSS SQL AWS IBM BBC CNN ATM DIY FAQ "
               "ID IP VIP RAM".split())
_WORDS = set("NASA NATO LASER RADAR SCUBA AIDS OPEC FIFA IKEA LEGO GIF PIN SIM ROM "
             "COVID UNICEF".split())
_COMMON_2 = set("AM AN AS AT BE BY DO GO HE HI IF IN IS ME MY NO OF OH OK ON OR SO TO UP "
                "WE YO".split())
_ONSETS = set("B BL BR C CH CL CR D DR F FL FR G GL GR H J K KN L M N P PH PL PR Q QU R S "
              "SC SCR SH SK SL SM SN SP SPL SPR ST STR SW T TH THR TR TW V W WH WR Y Z".split())
_CODAS = set("B BS C CH CK CT D DS F FT G GS H K KS L LD LF LK LL LM LP LS LT M MP MS N NCH "
             "ND NDS NG NK NS NT NTS P PS PT R RB RD RK RM RN RS RT RTH S SH SK SP SS ST T "
             "TCH TH TS V W X Y Z".split())
_VOWEL_TEAMS = set("AI AU AY EA EE EI EU EY IE OA OE OI OO OU OW OY UE UI".split())


def _pronounceable(word: str) -> bool:
    parts = re.findall(r"[AEIOU]+|[^AEIOU]+", word)
    if not any(p[0] in "AEIOU" for p in parts):
        return False
    if parts[0][0] not in "AEIOU" and parts[0] not in _ONSETS:
        return False
    if parts[-1][0] not in "AEIOU" and parts[-1] not in _CODAS:
        return False
    for p in parts:
        if p[0] in "AEIOU" and len(p) > 1 and (len(p) > 2 or p not in _VOWEL_TEAMS):
            return False
        if p[0] not in "AEIOU" and p not in (parts[0], parts[-1]) and len(p) > 3:
            return False
    if len(word) == 3 and word[0] in "AEIOU" and word[2] in "AIOU":
        return False
    return True


def _acronym(m: re.Match) -> str:
    word, suffix = m.group(1), m.group(2) or ""
    s = m.string
    before = s[max(0, m.start() - 12):m.start()]
    after = s[m.end():m.end() + 12]
    shouting = (re.search(r"\b[A-Z]{2,}\W*$", before) is not None or
                re.match(r"\W*[A-Z]{2,}\b", after) is not None)
    if word in _WORDS:
        return m.group(0)
    if shouting:
        # "TAKE US HOME": two-letter words are words here; long known acronyms are not.
        spell = not _pronounceable(word) or (len(word) > 2 and word in _SPELLED)
    else:
        spell = (word in _SPELLED or not _pronounceable(word) or
                 (len(word) == 2 and word not in _COMMON_2))
    if not spell:
        return m.group(0)
    letters = _spell(word)
    if suffix:
        # "GPUs" -> "g p u's" so the lexicon sees a possessive-like plural of a letter.
        letters += "'s"
    return letters


def _roman(m: re.Match) -> str:
    prev, numeral = m.group(1), m.group(2)
    values = {"I": 1, "V": 5, "X": 10}
    total = 0
    for i, c in enumerate(numeral):
        v = values[c]
        total += -v if i + 1 < len(numeral) and values[numeral[i + 1]] > v else v
    if prev.lower() in ("war", "chapter", "part", "volume", "act", "phase", "book", "section",
                        "episode", "apollo", "type", "class", "level", "stage", "grade"):
        return f"{prev} {cardinal(total)}"
    return f"{prev} the {ordinal(total)}"


def _words_pass(text: str) -> str:
    # Roman numerals of two or more letters after a capitalized word ("Malcolm X" stays).
    text = re.sub(r"\b([A-Z][a-z]+)\s+(X{0,2}(?:IX|IV|VI{0,3}|I{1,3})|XX?V?|X{1,2})\b",
                  lambda m: _roman(m) if len(m.group(2)) > 1 else m.group(0), text)
    text = re.sub(r"\b([A-Z]{2,5})('s|s)?\b", _acronym, text)
    # A lone capital A after a word and before punctuation is the letter, not the article.
    return re.sub(r"(?<=[A-Za-z] )A(?=\s*(?:[.,;:!?]|$))", "ay", text)


# ------------------------------------------------------------------- 10. cleanup

def _cleanup(text: str) -> str:
    # Periods still inside a token (file.txt, example.org) are spoken as "dot".
    text = re.sub(r"(?<=[A-Za-z])\.(?=[A-Za-z])", " dot ", text)
    # Hyphens: " - " is a spoken pause; inside or around words they are silent.
    text = re.sub(r"(?<=\S)-|-(?=\S)", " ", text)
    text = re.sub(r"[^A-Za-z' ,.?!;:\-\n]", " ", text)
    # Apostrophes survive only inside words (don't, o'clock, u's).
    text = re.sub(r"(?<![A-Za-z])'|'(?![A-Za-z])", " ", text)
    text = re.sub(r"\.\s+\.\s+\.", "...", text)
    text = re.sub(r"[ ]+", " ", text)
    text = re.sub(r" ?\n ?", "\n", text)
    text = re.sub(r" +(?=[,.?!;:])", "", text)
    # A dash beside other punctuation adds nothing.
    text = re.sub(r"([,.?!;:])\s+-(?=\s|$)|(?<=\s)-\s+(?=[,.?!;:])", r"\1", text)
    text = re.sub(r"(?:(?<=^)|(?<=\n))\s*-\s+", "", text)
    # Collapse pause runs: ", ," -> ",", ", ." -> ".", and strip leading pauses.
    text = re.sub(r"[,;:](?:\s*[,;:])+", lambda m: m.group(0).lstrip()[0], text)
    text = re.sub(r"[,;:]\s*(?=[.?!])", "", text)
    text = re.sub(r"([.?!])\s*[,;:]+", r"\1", text)
    text = re.sub(r"(?:(?<=^)|(?<=\n))[ ,;:.!?-]+", "", text)
    text = re.sub(r"([,;:])(?=[A-Za-z])", r"\1 ", text)
    text = re.sub(r"([.?!]+)(?=[A-Za-z])", r"\1 ", text)
    text = re.sub(r"[ ]+", " ", text)
    text = re.sub(r"\s*-\s*$", "", text)
    text = re.sub(r"\n{3,}", "\n\n", text)
    return "\n\n".join(p.strip(" ,;:-") for p in text.split("\n\n")).strip()


def normalize(text: str) -> str:
    """Raw English text -> speakable words; sentence punctuation kept, paragraphs as blank lines."""
    text = _unicode(text)
    text = _lines(text)
    text = _addresses(text)
    text = _TIME.sub(_time, text)
    text = _dates(text)
    text = _abbreviations(text)
    text = _numbers(text)
    text = _symbols(text)
    text = _words_pass(text)
    return _cleanup(text)
