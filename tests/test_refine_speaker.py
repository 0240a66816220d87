"""`edgevc enroll --refine` and `edgevc train refine-speaker`: the speaker vector fitted to
the enrollment recordings through the acoustic model.

The fits run few steps on two short recordings of a real voice (../shared/data/speech,
skipped where it is absent); transcripts are given, so no Whisper is needed but in the
slow test.
"""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from conftest import run_cli

from edgevc.export import refine_speaker
from edgevc.runtime.bundle import Bundle
from edgevc.runtime.enroll import Enroller
from edgevc.runtime.profiles import load_profile
from edgevc.runtime.speaker import load_speaker

KATHLEEN = Path(__file__).resolve().parents[2] / "shared" / "data" / "speech" / "kathleen"
TAKES = {"arctic_a0001_1592748574": "Author of the danger trail, Philip Steels, etc.",
         "arctic_a0003_1592748500": "For the twentieth time that evening the two men shook hands."}


@pytest.fixture(scope="module")
def takes() -> tuple[list[Path], list[str]]:
    paths = [KATHLEEN / "wavs" / f"{k}.flac" for k in TAKES]
    if not all(p.is_file() for p in paths):
        pytest.skip("no recorded speech here (../shared/data/speech/kathleen)")
    return paths, list(TAKES.values())


@pytest.fixture(scope="module")
def plain(takes) -> np.ndarray:
    """What `edgevc enroll` makes of the recordings."""
    return Enroller(Bundle.load(), load_profile("generic-x86")).enroll(takes[0])[0]


def _texts(texts):
    return [a for t in texts for a in ("--text", t)]


def test_refinement_lowers_the_mel_loss_and_keeps_a_unit_vector(takes, plain):
    paths, texts = takes
    vec, info = refine_speaker.refine(plain, paths, texts, steps=8)
    assert vec.shape == plain.shape and vec.dtype == np.float32
    assert abs(np.linalg.norm(vec) - 1) < 1e-5
    assert info["mel_l1_after"] < info["mel_l1_before"] - 0.005, info
    assert info["mel_l1_own_pitch_after"] < info["mel_l1_own_pitch_before"], info
    assert 0.5 < info["cosine_to_start"] < 1.0
    assert info["texts_from"] == "given" and info["steps"] == 8
    assert set(info["seconds"]) >= {"read", "align", "fit", "total"}


def test_recordings_in_memory_refine_as_the_files_do(takes, plain):
    """benchmarks/quality.py --refine hands over cuts in memory: same features, same fit."""
    from edgevc.audio.io import load_audio

    paths, texts = takes
    audio = [load_audio(p, 16000) for p in paths]
    a = refine_speaker.load_recordings(paths, texts)
    b = refine_speaker.load_recordings(["cut 1", "cut 2"], texts, audio=audio)
    assert [r.path for r in b] == ["cut 1", "cut 2"]
    for x, y in zip(a, b):
        assert np.array_equal(x.ids, y.ids) and np.allclose(x.mel, y.mel) and np.allclose(x.log_f0, y.log_f0)
    v1, _ = refine_speaker.refine(plain, paths, texts, steps=3)
    v2, info = refine_speaker.refine(plain, ["cut 1", "cut 2"], texts, steps=3, audio=audio)
    assert np.allclose(v1, v2, atol=1e-5) and info["sources"] == ["cut 1", "cut 2"]
    with pytest.raises(ValueError, match="2 recordings for 1 names"):
        refine_speaker.load_recordings(["cut 1"], texts[:1], audio=audio)


def test_alignment_beats_stretched_predicted_durations(takes, plain):
    """Why durations come from monotonic alignment to the model's own reading: with them
    the model's mel lies closer to the recording than with its durations stretched."""
    import torch

    from edgevc.export.checkpoint_io import load_model_file, shipped_dir

    model = load_model_file(shipped_dir() / "acoustic.pt", "acoustic")[0]
    recs = refine_speaker.load_recordings(*takes)
    spk = torch.from_numpy(plain)[None]
    e = refine_speaker.energy_scale(model, recs, spk)
    own = refine_speaker.free_run(model, recs, spk)
    for r, (_, dur, _) in zip(recs, own):
        assert refine_speaker.stretched(dur, len(r.mel)).sum() == len(r.mel)
    losses = {}
    for name, durs in (("aligned", [refine_speaker.align(r, m, d) for r, (m, d, _) in zip(recs, own)]),
                       ("stretched", [refine_speaker.stretched(d, len(r.mel)) for r, (_, d, _) in zip(recs, own)])):
        assert all(d.min() >= 1 and d.sum() == len(r.mel) for r, d in zip(recs, durs))
        with torch.no_grad():
            losses[name] = float(refine_speaker.mel_losses(model, refine_speaker.make_batch(recs, durs, *e), spk)[0])
    assert losses["aligned"] < losses["stretched"] - 0.03, losses


def test_enroll_refine_writes_a_speaker_file_that_speak_accepts(tmp_path, takes):
    paths, texts = takes
    me = tmp_path / "me.npy"
    res = run_cli("enroll", *paths, "-o", me, "--refine", "--refine-steps", "3", *_texts(texts),
                  "--json")
    assert res.returncode == 0, res.stderr.decode()
    out = json.loads(res.stdout)
    bundle = Bundle.load()
    load_speaker(me, bundle.embedding_dim, bundle.speaker_encoders)  # holds to the contract
    side = json.loads(me.with_suffix(".json").read_text())
    assert side["encoder_sha256"] == bundle.speaker_encoder_sha256
    assert side["refined"]["steps"] == 3 and side["refined"]["texts"] == texts
    assert side["refined"] == out["refined"]
    assert side["refined"]["acoustic"]["file"] == "acoustic.pt"
    wav = tmp_path / "me.wav"
    res = run_cli("speak", "Your order is ready.", "--speaker", me, "--out", wav)
    assert res.returncode == 0, res.stderr.decode()
    assert sf.info(str(wav)).frames > 8000

    # the toolchain command starts from a speaker file and keeps its sidecar's record
    again = tmp_path / "again.npy"
    assert refine_speaker.main([*map(str, paths), "--speaker", str(me), "-o", str(again),
                                "--steps", "2", *_texts(texts)]) == 0
    side2 = json.loads(again.with_suffix(".json").read_text())
    assert side2["encoder_sha256"] == bundle.speaker_encoder_sha256
    assert side2["started_from"] == str(me) and side2["refined"]["steps"] == 2
    assert side2["refined"]["mel_l1_before"] == pytest.approx(side["refined"]["mel_l1_after"], abs=2e-3)
    assert abs(np.linalg.norm(np.load(again)) - 1) < 1e-5


def test_the_stage_is_registered():
    from edgevc.export import stages

    assert stages.STAGES["refine-speaker"].module == "edgevc.export.refine_speaker"
    opts = stages.options("refine-speaker")
    assert {"speaker", "text", "steps", "o"} <= set(opts.by_key)


def _one_line_and_nothing_written(res, folder: Path, fragment: str, code: int = 2):
    assert res.returncode == code, res.stderr.decode()
    lines = res.stderr.decode().strip().splitlines()
    assert len(lines) == 1 and fragment in lines[0], lines
    assert not [p for p in folder.iterdir() if p.suffix in (".npy", ".json") or ".tmp" in p.name]


def test_transcript_count_must_match(tmp_path, takes):
    paths, texts = takes
    res = run_cli("enroll", *paths, "-o", tmp_path / "me.npy", "--refine", *_texts(texts[:1]))
    _one_line_and_nothing_written(res, tmp_path, "--text given 1 time(s) for 2 audio file(s)")
    rc = refine_speaker.main([*map(str, paths), "-o", str(tmp_path / "me.npy"), *_texts(texts[:1])])
    assert rc == 2 and not list(tmp_path.glob("me.*"))
    res = run_cli("enroll", *paths, "-o", tmp_path / "me.npy", *_texts(texts))  # no --refine
    assert res.returncode == 2 and b"--refine" in res.stderr


def _music(path: Path) -> Path:
    sr = 22050
    t = np.arange(3 * sr) / sr
    chord = sum(np.sin(2 * np.pi * f * k * t) / k for f in (261.63, 329.63, 392.0) for k in range(1, 8))
    sf.write(path, 0.2 * chord / np.abs(chord).max(), sr)
    return path


def _text_file(path: Path) -> Path:
    path.write_text("not audio")
    return path


@pytest.mark.parametrize("make, fragment", [
    (lambda p: p, "not found"),
    (_text_file, "cannot decode"),
    (_music, "music or a held note"),
])
def test_bad_recordings_are_one_line_and_write_nothing(tmp_path, takes, make, fragment):
    paths, texts = takes
    bad = make(tmp_path / "bad.wav")
    res = run_cli("enroll", paths[0], bad, "-o", tmp_path / "me.npy", "--refine", *_texts(texts))
    _one_line_and_nothing_written(res, tmp_path, fragment)
    # the toolchain command, started from a speaker file, reads the recordings itself
    (tmp_path / "start").mkdir()
    start = tmp_path / "start" / "s.npy"
    np.save(start, np.eye(256, dtype=np.float32)[0])
    res = subprocess.run([sys.executable, "-m", "edgevc", "train", "refine-speaker", str(paths[0]),
                          str(bad), "--speaker", str(start), "-o", str(tmp_path / "me.npy"),
                          *_texts(texts)], capture_output=True, timeout=300)
    _one_line_and_nothing_written(res, tmp_path, fragment)


@pytest.mark.parametrize("hide", ["edgevc.export", "torch"])
def test_enroll_refine_without_the_toolchain_names_what_to_install(tmp_path, speech_like, hide):
    # edgevc.export hidden: a device install; torch hidden: the code without its extra
    code = (f"import sys; sys.modules[{hide!r}] = None\n"
            "from edgevc.cli import main\n"
            f"main(['enroll', {str(speech_like)!r}, '-o', {str(tmp_path / 'me.npy')!r}, "
            "'--refine'])\n")
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, timeout=120)
    _one_line_and_nothing_written(res, tmp_path, "edgevc enroll --refine needs the host "
                                  "toolchain: pip install '.[export]' ./export/checkpoints", code=1)


@pytest.mark.slow
def test_refine_with_whisper_transcripts(tmp_path, takes):
    paths, _ = takes
    res = subprocess.run([sys.executable, "-m", "edgevc", "train", "refine-speaker",
                          *map(str, paths), "-o", str(tmp_path / "me.npy"), "--steps", "3",
                          "--json"], capture_output=True, timeout=600)
    assert res.returncode == 0, res.stderr.decode()
    info = json.loads(res.stdout.decode().strip().splitlines()[-1])["refined"]
    assert info["texts_from"] == "whisper"
    assert "twentieth" in info["texts"][1].lower() or "20th" in info["texts"][1].lower()


LOOP = "You should not " + "not " * 120  # what Whisper once wrote for a 3 s enrollment cut


# more phonemes than frames; fewer phonemes than frames but ~40 a second; a loop so long
# the front end refuses it as one sentence
@pytest.mark.parametrize("loop", [LOOP, "not " * 45, "not " * 300])
def test_a_looping_whisper_transcript_leaves_out_that_recording_only(takes, monkeypatch, loop):
    paths, texts = takes
    monkeypatch.setattr(refine_speaker, "transcribe", lambda wavs, *a, **k: [loop, texts[1]])
    recs = refine_speaker.load_recordings(paths)
    assert [r.text for r in recs] == [texts[1]]
    # nothing usable left: one line that says how to go on
    monkeypatch.setattr(refine_speaker, "transcribe", lambda wavs, *a, **k: ["", LOOP])
    with pytest.raises(refine_speaker.InputError, match=r"usable Whisper transcript.*--text"):
        refine_speaker.load_recordings(paths)


def test_a_plausible_but_fast_transcript_is_kept(takes, monkeypatch):
    # 25 words in 3.3 s is fast, not impossible: only a rate no one speaks at is a loop
    paths, texts = takes
    fast = "one two three four five six seven eight nine ten eleven twelve"
    monkeypatch.setattr(refine_speaker, "transcribe", lambda wavs, *a, **k: [fast, texts[1]])
    assert [r.text for r in refine_speaker.load_recordings(paths)] == [fast, texts[1]]


def test_a_given_transcript_that_cannot_fit_is_an_error_not_skipped(takes):
    paths, texts = takes
    with pytest.raises(refine_speaker.InputError, match=r"too short for the \d+ phonemes"):
        refine_speaker.load_recordings(paths, [LOOP, texts[1]])
