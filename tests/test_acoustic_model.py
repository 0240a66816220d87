"""The acoustic model's low-rank speaker FiLM (the saving, and a factorisation that keeps
what the full-rank model computes for its speakers), and the vocoder's phase losses."""

import pytest

torch = pytest.importorskip("torch")

from edgevc.export.models.acoustic import AcousticModel, expand, low_rank_film_state  # noqa: E402


def _outputs(model, ids, spk):
    with torch.no_grad():
        h, logdur, p, _e = model.encode_with_variance(ids, spk)
        frames, _ = expand(h, torch.full_like(ids, 3))
        return logdur, p, model.decode(frames, spk)


def _count(model):
    return sum(p.numel() for p in model.parameters())


def test_low_rank_film_has_fewer_parameters():
    full = AcousticModel(dim=48, hidden=96, variance=True)
    low = AcousticModel(dim=48, hidden=96, variance=True, film_rank=8)
    # 12 blocks of 256 x 96 FiLM weights become two 256 x 8 projections and 12 blocks of 8 x 96.
    assert _count(full) - _count(low) == 12 * 256 * 96 - (2 * 256 * 8 + 12 * 8 * 96)


def test_factorised_film_reproduces_the_full_model_on_its_speakers():
    torch.manual_seed(0)
    full = AcousticModel(dim=32, hidden=64, variance=True).eval()
    speakers = torch.nn.functional.normalize(torch.randn(6, 256), dim=1)
    low = AcousticModel(dim=32, hidden=64, variance=True, film_rank=6).eval()
    low.load_state_dict(low_rank_film_state(full.state_dict(), 6, speakers))
    ids = torch.randint(1, 70, (1, 9))
    for k in range(len(speakers)):
        spk = speakers[k:k + 1]
        for a, b in zip(_outputs(full, ids, spk), _outputs(low, ids, spk)):
            assert torch.allclose(a, b, atol=1e-4)
    # a voice outside the fitted span is not reproduced: the rank is a real constraint
    other = torch.nn.functional.normalize(torch.randn(1, 256), dim=1)
    assert not torch.allclose(_outputs(full, ids, other)[2], _outputs(low, ids, other)[2], atol=1e-3)


def test_phase_loss_ignores_whole_turns_and_sees_phase_errors():
    import math

    from edgevc.export.features import LogMel
    from edgevc.export.train_vocoder import anti_wrap, phase_loss

    assert torch.allclose(anti_wrap(torch.tensor([0.0, 2 * math.pi, -4 * math.pi + 0.5, math.pi])),
                          torch.tensor([0.0, 0.0, 0.5, math.pi]), atol=1e-5)
    torch.manual_seed(0)
    t = torch.arange(16 * 256) / 16000
    wav = (torch.sin(2 * math.pi * 220 * t) + 0.01 * torch.randn_like(t)).unsqueeze(0)
    mel_fn = LogMel()
    spec = mel_fn.spectrum(wav).transpose(1, 2)[:, :16]
    true = torch.angle(spec)
    assert phase_loss(true, wav, mel_fn) < 1e-4
    assert phase_loss(true + 2 * math.pi, wav, mel_fn) < 1e-3
    assert phase_loss(true + torch.randn_like(true), wav, mel_fn) > 0.5


def test_factorize_film_writes_a_release_checkpoint_that_export_loads(tmp_path):
    from edgevc.export.checkpoint_io import load_model, save_model
    from edgevc.export.factorize_film import factorize

    torch.manual_seed(1)
    full = AcousticModel(dim=32, hidden=64, variance=True).eval()
    save_model(tmp_path / "full.pt", full, 7)
    speakers = torch.nn.functional.normalize(torch.randn(5, 256), dim=1)
    torch.save(factorize(tmp_path / "full.pt", speakers.numpy(), 5), tmp_path / "acoustic.pt")
    low, info = load_model(tmp_path, "acoustic")
    assert info["config"]["film_rank"] == 5 and info["step"] == 7
    ids = torch.randint(1, 70, (1, 6))
    # fp16 storage of the release checkpoint: close, not bit-exact
    assert torch.allclose(_outputs(full, ids, speakers[:1])[2], _outputs(low, ids, speakers[:1])[2],
                          atol=2e-2)
    with pytest.raises(SystemExit, match="already rank 5"):
        factorize(tmp_path / "acoustic.pt", speakers.numpy(), 5)


def test_validation_split_keeps_every_take_of_a_sentence_together():
    from types import SimpleNamespace

    import numpy as np

    from edgevc.export.train_acoustic import split_validation

    sentences = [f"Sentence number {k} is here." for k in range(400)]
    texts = np.array([s for s in sentences for _ in range(3)])  # three takes each
    cache = SimpleNamespace(z={"text": texts})
    train, val = split_validation(cache, list(range(len(texts))), 0.05)
    assert sorted(train + val) == list(range(len(texts)))
    assert 0 < len(val) < 0.15 * len(texts)
    assert {texts[i] for i in train}.isdisjoint({texts[i] for i in val})
    assert split_validation(cache, [0, 1, 2], 0.0) == ([0, 1, 2], [])


def test_oversampling_repeats_only_the_named_speaker():
    from types import SimpleNamespace

    import numpy as np
    import pytest

    from edgevc.export.train_acoustic import oversampled, parse_oversample

    cache = SimpleNamespace(spk=np.array(["a", "b", "a", "c"]))
    got = oversampled(cache, [0, 1, 2, 3], parse_oversample(["a=3"]))
    assert sorted(got) == [0, 0, 0, 1, 2, 2, 2, 3]
    assert oversampled(cache, [0, 1], {}) == [0, 1]
    for bad in (["a"], ["a=-1"], ["=2"], ["a=x"]):
        with pytest.raises(SystemExit, match="expected SPEAKER=K"):
            parse_oversample(bad)
    with pytest.raises(SystemExit, match="no training utterances"):
        oversampled(cache, [1, 3], {"a": 2})


def test_oversampling_patterns_match_groups_of_speakers_and_the_first_key_wins():
    from types import SimpleNamespace

    import numpy as np
    import pytest

    from edgevc.export.train_acoustic import oversampled, parse_oversample

    cache = SimpleNamespace(spk=np.array(["so-1", "1040", "so-2", "kokoro-x", "211"]))
    got = oversampled(cache, [0, 1, 2, 3, 4], parse_oversample(["so-*=2", "[0-9]*=3"]))
    assert sorted(got) == [0, 0, 1, 1, 1, 2, 2, 3, 4, 4, 4]
    # so-1 is claimed by its name first: the pattern after it does not add to it
    got = oversampled(cache, [0, 1, 2, 3, 4], parse_oversample(["so-1=4", "so-*=2"]))
    assert got.count(0) == 4 and got.count(2) == 2
    with pytest.raises(SystemExit, match="no training utterances"):
        oversampled(cache, [0, 1], parse_oversample(["vctk-*=2"]))


def test_a_weight_of_zero_leaves_a_speaker_out_and_a_name_claims_before_a_pattern():
    from types import SimpleNamespace

    import numpy as np
    import pytest

    from edgevc.export.train_acoustic import oversampled, parse_oversample

    # the new corpus's default voice weighted up, the old corpus's left out
    cache = SimpleNamespace(spk=np.array(["kokoro-af_heart", "kokoro-fe-af_heart", "kokoro-mix001",
                                          "kokoro-af_heart"]))
    got = oversampled(cache, [0, 1, 2, 3], parse_oversample(["kokoro-fe-af_heart=3", "kokoro-af_heart=0"]))
    assert sorted(got) == [1, 1, 1, 2]
    with pytest.raises(SystemExit, match="every training utterance is left out"):
        oversampled(cache, [0, 3], parse_oversample(["kokoro-*=0"]))


def test_predicted_variance_feeds_the_decoder_the_models_own_pitch_and_energy():
    """--predicted-variance: the decoder sees the model's (detached) pitch and energy for the
    chosen utterances and the true values for the rest; 0 keeps teacher forcing."""
    import numpy as np

    from edgevc.export.train_acoustic import _mix_predicted, predict

    torch.manual_seed(0)
    model = AcousticModel(dim=32, hidden=64, variance=True).eval()
    B, N = 4, 7
    ids = torch.randint(1, 20, (B, N))
    spk = torch.nn.functional.normalize(torch.randn(B, model.config["spk_dim"]), dim=1)
    mask = torch.ones(B, N, 1)
    true_p, true_e = torch.full((B, N), 3.0), torch.full((B, N), -3.0)
    with torch.no_grad():
        _, _, p_hat, e_hat = model.encode_with_variance(ids, spk, mask)
    p, e = _mix_predicted(model, ids, spk, mask, true_p, true_e, 1.0, None)
    assert torch.allclose(p, p_hat) and torch.allclose(e, e_hat) and not p.requires_grad
    p, e = _mix_predicted(model, ids, spk, mask, true_p, true_e, 0.5, np.random.default_rng(3))
    took = (p == p_hat).all(1)
    assert torch.equal(took, (e == e_hat).all(1))  # pitch and energy come from the same side
    assert torch.equal(~took, (p == 3.0).all(1)) and 0 < int(took.sum()) < B

    dur = torch.full((B, N), 2)
    batch = [ids, dur, torch.zeros(B, 2 * N, model.config["n_mels"]), torch.full((B,), N),
             torch.full((B,), 2 * N), spk, true_p, true_e]
    forced, _, _ = predict(model, batch, "cpu")
    own, _, _ = predict(model, batch, "cpu", predicted_variance=1.0)
    h_own, _, _, _ = model.encode_with_variance(ids, spk, mask, p_hat, e_hat)
    frames, fmask = expand(h_own, dur)
    assert torch.allclose(own.mel, model.decode(frames, spk, fmask), atol=1e-5)
    assert not torch.allclose(forced.mel, own.mel, atol=1e-3)
