"""The judges' helpers that need no judge installed: text scoring and reading a folder of
transcribed recordings (benchmarks/quality.py --real, copy_synthesis.py --real)."""

import pytest

from edgevc.errors import InputError
from edgevc.export.judges import clean, edits, read_recordings


def test_clean_drops_punctuation_and_case_but_keeps_inner_apostrophes():
    assert clean("Don't STOP -- now, 'please'.") == ["don't", "stop", "now", "please"]


def test_edits_counts_substitutions_insertions_and_deletions():
    assert edits("kitten".split(), "kitten".split()) == 0
    assert edits(list("kitten"), list("sitting")) == 3


def _folder(tmp_path, lines, files):
    (tmp_path / "wavs").mkdir()
    (tmp_path / "metadata.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    for f in files:
        (tmp_path / "wavs" / f).write_bytes(b"")
    return tmp_path


def test_read_recordings_finds_flac_or_wav_and_keeps_the_text(tmp_path):
    d = _folder(tmp_path, ["a|Hello there.", "", "b|Second one|normalized"], ["a.flac", "b.wav"])
    got = read_recordings(d)
    assert [(u, t, p.name) for u, t, p in got] == [("a", "Hello there.", "a.flac"),
                                                  ("b", "Second one", "b.wav")]
    assert len(read_recordings(d, limit=1)) == 1


@pytest.mark.parametrize("lines, files, message", [
    (["a|Hello"], [], "metadata.csv:1: no wavs/a.flac or wavs/a.wav"),
    (["a|Hello", "", "just text"], ["a.wav"], "metadata.csv:3: expected 'id|text'"),
])
def test_read_recordings_names_the_bad_line_in_one_line(tmp_path, lines, files, message):
    d = _folder(tmp_path, lines, files)
    with pytest.raises(InputError, match=message) as e:
        read_recordings(d)
    assert "\n" not in str(e.value)


def test_read_recordings_without_metadata_says_so(tmp_path):
    with pytest.raises(InputError, match="metadata.csv: unreadable"):
        read_recordings(tmp_path)
