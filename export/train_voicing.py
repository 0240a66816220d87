"""Fit the runtime's voiced/unvoiced decision (edgevc/audio/excitation.py) to YIN labels.

    python -m edgevc.export.train_voicing --cache cache.npz \
        [--vocoder export/checkpoints/vocoder.pt] [--utterances 600] \
        -o export/checkpoints/voicing.json

The features are read from what the runtime will see, the vocoder's magnitudes for the
cache's mels, so the decision is fitted to the vocoder's own spectra; the labels are the
cache's frame-level YIN pitch (voiced where it is non-zero). The model is logistic
regression (Newton's method with a small L2 penalty): 82 weights, carried in the bundle's
manifest. Reports frame accuracy on a 10% split of utterances left out of the fit.
"""

import argparse
import json
import logging
from pathlib import Path

import numpy as np
import torch

from edgevc.audio.excitation import VoicingModel, cepstral_f0, voicing_features
from edgevc.audio.features import mel_filterbank
from edgevc.audio.params import SYNTH_MEL
from edgevc.export.checkpoint_io import load_model_or_exit, shipped_dir
from edgevc.export.prepare import FeatureCache

log = logging.getLogger(__name__)


def fit_logistic(x: np.ndarray, y: np.ndarray, l2: float = 1e-3, steps: int = 25) -> tuple[np.ndarray, float]:
    """Weights and bias of P(y=1|x) = sigmoid(x.w + b), by Newton's method on standardised x."""
    mu, sd = x.mean(0), x.std(0) + 1e-6
    z = np.concatenate([(x - mu) / sd, np.ones((len(x), 1))], 1)
    w = np.zeros(z.shape[1])
    reg = np.full(z.shape[1], l2 * len(x))
    reg[-1] = 0.0
    for _ in range(steps):
        p = 1 / (1 + np.exp(-np.clip(z @ w, -30, 30)))
        grad = z.T @ (p - y) + reg * w
        hess = (z * (p * (1 - p))[:, None]).T @ z + np.diag(reg)
        step = np.linalg.solve(hess, grad)
        w -= step
        if np.abs(step).max() < 1e-6:
            break
    weights = w[:-1] / sd
    return weights, float(w[-1] - (w[:-1] * mu / sd).sum())


@torch.no_grad()
def frame_data(cache: FeatureCache, vocoder, utterances: list[int]):
    """Voicing features of the vocoder's magnitudes and YIN labels, per utterance."""
    fbt = np.ascontiguousarray(mel_filterbank(SYNTH_MEL).T)
    xs, ys = [], []
    for i in utterances:
        mel = torch.from_numpy(cache.mel(i))[None]
        logmag, _ = vocoder.polar(mel)
        mag = torch.exp(logmag)[0].numpy()
        _, peak = cepstral_f0(mag, SYNTH_MEL)
        xs.append(voicing_features(mag, peak, SYNTH_MEL, fbt))
        ys.append(cache.log_f0(i)[:len(mag)] > 0)
    return xs, ys


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cache", required=True, help="feature cache from edgevc.export.prepare")
    ap.add_argument("--vocoder", type=Path, default=shipped_dir() / "vocoder.pt",
                    help="vocoder checkpoint whose magnitudes the runtime will see")
    ap.add_argument("--utterances", type=int, default=600, help="utterances to fit on (random)")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("-o", "--out", type=Path, required=True, help="voicing.json to write")
    a = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    torch.set_num_threads(a.threads)
    if not Path(a.cache).is_file():
        raise SystemExit(f"error: cache {a.cache}: not found")
    vocoder = load_model_or_exit(a.vocoder, "vocoder")
    cache = FeatureCache(a.cache)
    rng = np.random.default_rng(0)
    picked = rng.permutation(len(cache))[:a.utterances].tolist()
    xs, ys = frame_data(cache, vocoder, picked)
    n_test = max(1, len(xs) // 10)
    x_fit, y_fit = np.concatenate(xs[n_test:]), np.concatenate(ys[n_test:])
    x_test, y_test = np.concatenate(xs[:n_test]), np.concatenate(ys[:n_test])
    w, b = fit_logistic(x_fit, y_fit.astype(np.float64))
    model = VoicingModel(w, b)
    pred = model.voiced(x_test)
    report = {"fit_frames": int(len(y_fit)), "test_frames": int(len(y_test)),
              "test_accuracy": float((pred == y_test).mean()),
              "test_false_voiced": float((pred & ~y_test).sum() / max(1, (~y_test).sum())),
              "test_missed_voiced": float((~pred & y_test).sum() / max(1, y_test.sum()))}
    log.info("voicing: %s", report)
    # refit on everything for the shipped weights
    w, b = fit_logistic(np.concatenate([x_fit, x_test]), np.concatenate([y_fit, y_test]).astype(np.float64))
    out = {**VoicingModel(w, b).to_dict(), "report": report,
           "vocoder": a.vocoder.name, "utterances": len(picked)}
    tmp = a.out.with_suffix(".tmp")
    tmp.write_text(json.dumps(out, indent=1) + "\n")
    tmp.replace(a.out)
    log.info("wrote %s", a.out)


if __name__ == "__main__":
    main()
