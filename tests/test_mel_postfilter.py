"""The spectral post-filter folded into the acoustic decoder at export
(export/mel_postfilter.py): the folded model's mel is exactly the sharpened mel."""

import numpy as np
import pytest
import torch

from edgevc.errors import InputError
from edgevc.export.mel_postfilter import fold_sharpening, sharpening_matrix
from edgevc.export.models.acoustic import AcousticModel


def _sharpened(frames: np.ndarray, beta: float, width: int) -> np.ndarray:
    """The filter written out directly: each band against the mean of `width` bands around
    it, the end bands repeated past the edges."""
    half = width // 2
    padded = np.pad(frames, ((0, 0), (half, half)), mode="edge")
    smooth = np.stack([padded[:, i:i + width].mean(1) for i in range(frames.shape[1])], 1)
    return frames + beta * (frames - smooth)


@pytest.mark.parametrize("beta,width", [(0.5, 5), (1.0, 3), (0.3, 7)])
def test_the_matrix_is_the_filter(beta, width):
    frames = np.random.default_rng(0).normal(-5, 2, (11, 80))
    got = frames @ sharpening_matrix(80, beta, width).T
    np.testing.assert_allclose(got, _sharpened(frames, beta, width), atol=1e-9)


def test_a_flat_spectrum_is_left_alone_and_a_peak_is_raised():
    m = sharpening_matrix(80, 0.5)
    flat = np.full(80, -4.0)
    np.testing.assert_allclose(m @ flat, flat, atol=1e-12)  # rows sum to 1: level kept
    peak = flat.copy()
    peak[40] = 0.0
    out = m @ peak
    assert out[40] > peak[40] and out[39] < peak[39]  # higher peak, deeper shoulders


def test_folding_sharpens_the_decoders_mel_exactly():
    torch.manual_seed(0)
    model = AcousticModel(dim=32, hidden=64, variance=True).eval()
    frames, spk = torch.randn(1, 20, 32), torch.nn.functional.normalize(torch.randn(1, 256), dim=1)
    with torch.no_grad():
        before = model.decode(frames, spk).numpy()[0]
        record = fold_sharpening(model, 0.5)
        after = model.decode(frames, spk).numpy()[0]
    np.testing.assert_allclose(after, _sharpened(before, 0.5, 5), atol=1e-4)
    assert record == {"kind": "spectral sharpening", "beta": 0.5, "width": 5}


def test_beta_zero_leaves_the_model_as_it_is():
    model = AcousticModel(dim=32, hidden=64)
    w = model.to_mel.weight.detach().clone()
    assert fold_sharpening(model, 0.0) is None
    assert torch.equal(model.to_mel.weight, w)


@pytest.mark.parametrize("beta,width", [(-0.1, 5), (0.5, 4), (0.5, 0)])
def test_bad_settings_are_refused(beta, width):
    with pytest.raises(InputError):
        sharpening_matrix(80, beta, width)


def test_the_probe_filters_as_the_export_folds():
    """benchmarks.mel_postfilter filters the runtime's mel with the same matrix the export
    folds in, and refuses a filter it does not know."""
    from benchmarks.mel_postfilter import FilteredSession, make_filter

    mel = np.random.default_rng(1).normal(-5, 2, (1, 9, 80)).astype(np.float32)

    class Session:
        def run(self, feeds):
            return [mel, "other output"]

    out = FilteredSession(Session(), make_filter("sharpen0.5")).run({})
    np.testing.assert_allclose(out[0][0], _sharpened(mel[0], 0.5, 5), atol=1e-4)
    assert out[1] == "other output" and make_filter("none") is None
    with pytest.raises(InputError):
        make_filter("blur2")
