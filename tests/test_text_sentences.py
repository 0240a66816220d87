import re

import pytest

from edgevc.text.normalize import normalize
from edgevc.text.sentences import MAX_WORDS, split_sentences


def _words(items):
    return [w for s in items for w in re.findall(r"[A-Za-z']+", s)]


@pytest.mark.parametrize("text, expected", [
    ("Hello there. How are you? Fine!", ["Hello there.", "How are you?", "Fine!"]),
    ("Really?! Yes... Okay.", ["Really?!", "Yes...", "Okay."]),
    ("no punctuation at all", ["no punctuation at all"]),
    ("First one.   Second one", ["First one.", "Second one"]),
    ("  padded.  ", ["padded."]),
    ("One.\n\nTwo three\n\n\nFour.", ["One.", "Two three", "Four."]),
    ("A line\nwrapped here.", ["A line wrapped here."]),
    ("Stop.Go now.", ["Stop.", "Go now."]),
    ("Hi, there; you: yes.", ["Hi, there; you: yes."]),
    ("... Hello.", ["Hello."]),
    ("", []),
    ("   \n\n  ", []),
    ("?!...", []),
])
def test_split(text, expected):
    assert split_sentences(text) == expected


def test_normalized_abbreviations_stay_one_sentence():
    assert split_sentences(normalize("Dr. Smith lives on Elm St.")) == \
        ["doctor Smith lives on Elm street."]
    assert len(split_sentences(normalize("It costs 3.5% more, e.g. at 10 a.m. today."))) == 1


def test_long_sentence_split_at_commas():
    clauses = [" ".join(f"w{i}x{j}" for j in range(9)) for i in range(10)]
    text = ", ".join(clauses) + "."
    parts = split_sentences(text)
    assert len(parts) > 1
    assert all(len(p.split()) <= MAX_WORDS for p in parts)
    # Cuts fall at clause boundaries: every part but the last ends with the comma.
    assert all(p.endswith(",") for p in parts[:-1]) and parts[-1].endswith(".")
    assert _words(parts) == _words([text])


def test_long_sentence_prefers_semicolons_and_dashes_too():
    text = "; ".join(["alpha beta gamma delta epsilon zeta eta theta iota kappa"] * 6) + "."
    parts = split_sentences(text)
    assert len(parts) >= 2 and all(p.endswith((";", ".")) for p in parts)
    text = " - ".join(["one two three four five six seven eight nine ten"] * 6) + "!"
    parts = split_sentences(text)
    assert len(parts) >= 2
    assert all(len(p.split()) <= MAX_WORDS for p in parts)
    assert _words(parts) == _words([text])


def test_long_sentence_without_commas_is_cut_evenly():
    text = " ".join(f"word{i}" for i in range(100)) + "."
    parts = split_sentences(text)
    assert [len(p.split()) for p in parts] == [34, 34, 32]
    assert _words(parts) == _words([text])


def test_short_sentence_with_commas_is_kept_whole():
    text = "one, two, three, four, five, six."
    assert split_sentences(text) == [text]
    assert split_sentences(" ".join(["w"] * MAX_WORDS) + ".") == [" ".join(["w"] * MAX_WORDS) + "."]


def test_custom_limit():
    parts = split_sentences("a b c, d e f, g h i.", max_words=4)
    assert parts == ["a b c,", "d e f,", "g h i."]


def test_no_empty_items_and_deterministic():
    text = normalize("Wait... what?! Really?? Yes!\n\nShopping list:\n- eggs\n- milk")
    parts = split_sentences(text)
    assert parts == split_sentences(text)
    assert all(p and p == p.strip() for p in parts)
    assert parts == ["Wait...", "what?!", "Really??", "Yes!", "Shopping list: eggs, milk"]
