"""train_acoustic --grow-decoder: more decoder blocks on a trained model, starting as the identity."""

import pytest

torch = pytest.importorskip("torch")

from edgevc.export.models.acoustic import AcousticModel  # noqa: E402
from edgevc.export.train_acoustic import load_initial  # noqa: E402

SMALL = dict(dim=32, hidden=64, variance=True, film_rank=8, dec_dilations=[1, 2, 4])


def _decode(model, ids, spk):
    model.eval()
    with torch.no_grad():
        h = model.encode_with_variance(ids, spk)[0]
        return model.decode(h.repeat_interleave(3, 1), spk)


def test_a_grown_decoder_speaks_as_the_model_it_grew_from_then_trains_its_new_blocks():
    torch.manual_seed(0)
    small = AcousticModel(**SMALL)
    for p in small.parameters():  # a "trained" model: no parameter at its initial value
        p.data.add_(0.05 * torch.randn_like(p))
    grown = AcousticModel(**dict(SMALL, dec_dilations=[1, 2, 4, 1, 2]))
    load_initial(grown, small.config, small.state_dict(), None)
    ids, spk = torch.randint(1, 40, (2, 9)), torch.nn.functional.normalize(torch.randn(2, 256), dim=-1)
    assert torch.equal(_decode(small, ids, spk), _decode(grown, ids, spk))
    assert all((b.gamma == 0).all() for b in grown.decoder.blocks[3:])
    # the new blocks are trainable: one step moves their residual scale off zero
    grown.train()
    h = grown.encode_with_variance(ids, spk)[0]
    grown.decode(h.repeat_interleave(3, 1), spk).pow(2).mean().backward()
    assert grown.decoder.blocks[4].gamma.grad.abs().sum() > 0


def test_weights_that_do_not_fit_are_refused():
    small = AcousticModel(**SMALL)
    other = AcousticModel(**dict(SMALL, dec_dilations=[1, 2]))  # fewer blocks: not a growth
    with pytest.raises(SystemExit, match="do not fit"):
        load_initial(other, small.config, small.state_dict(), None)
