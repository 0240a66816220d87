"""G2P release checkpoint -> ONNX graph for the bundle, checked twice: the float graph
against PyTorch, the int8 graph against the float graph on words the model never trained on.

int8 here is dynamic (weights per channel, each word's activations scaled at run time),
not the static calibrated recipe of the other graphs: with one calibration range for all
words, 5.5% of held-out words changed pronunciation on a trial checkpoint; with dynamic
scaling and the two attention products (activation x activation) left in float, 1.0%
(1.5% on the shipped one). The G2P always runs on the CPU, so an fp16 bundle keeps it in
float32. A G2P that loses too much when quantized stays in float.
"""

import logging
import re
import shutil
import tempfile
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import torch

from edgevc.errors import EdgevcError, InputError
from edgevc.export.models.g2p import LETTERS, OUTPUTS, G2PModel, encode_word

log = logging.getLogger(__name__)
CHECKPOINT = "g2p.pt"
FILE = "g2p.onnx"
OPSET = 17
# Share of held-out words whose quantized pronunciation must equal the float graph's.
MIN_AGREEMENT = 0.97
CHECK_WORDS = 400


def load_g2p(folder: str | Path) -> tuple[G2PModel, dict] | None:
    """The G2P of a checkpoints folder; None when it has none (the bundle then relies on
    the rule-based letter-to-sound fallback)."""
    path = Path(folder) / CHECKPOINT
    if not path.is_file():
        return None
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
        model = G2PModel(**state["config"])
        model.load_state_dict({k: v.float() if v.is_floating_point() else v
                               for k, v in state["model"].items()})
    except Exception as e:  # unpickling refused, missing keys, shape mismatch, bad config
        raise InputError(f"checkpoint {path}: incompatible with this edgevc "
                         f"({type(e).__name__}: {str(e).splitlines()[0][:200]})") from None
    return model.eval(), {"file": path.name, "step": int(state.get("step", 0)),
                          "config": state["config"]}


def export_onnx(model: G2PModel, path: Path) -> None:
    """One word per call: letters (1, L) int64 -> logits (1, L * upsample, len(OUTPUTS))."""
    with torch.no_grad():
        torch.onnx.export(model.eval(), (torch.tensor([encode_word("example")]),), str(path),
                          input_names=["letters"], output_names=["logits"],
                          dynamic_axes={"letters": {1: "letters"}, "logits": {1: "frames"}},
                          opset_version=OPSET, dynamo=False, do_constant_folding=True)


def _session(path: Path) -> ort.InferenceSession:
    so = ort.SessionOptions()
    so.log_severity_level = 3
    return ort.InferenceSession(str(path), so, providers=["CPUExecutionProvider"])


def _feeds(words: list[str]) -> list[dict[str, np.ndarray]]:
    return [{"letters": np.array([encode_word(w)], np.int64)} for w in words]


def _decode(logits: np.ndarray) -> tuple[int, ...]:
    best = logits.argmax(-1)
    return tuple(int(c) for i, c in enumerate(best) if c != 0 and (i == 0 or c != best[i - 1]))


def check_words(n: int = CHECK_WORDS) -> list[str]:
    """Held-out CMU words (never trained on), a fixed spread across the alphabet."""
    from edgevc.export.train_g2p import load_words, split

    test = split(load_words())[1]
    return test[:: max(1, len(test) // n)][:n]


def max_abs_error(model: G2PModel, path: Path, words: list[str]) -> float:
    sess = _session(path)
    err = 0.0
    with torch.no_grad():
        for f in _feeds(words):
            ref = model(torch.from_numpy(f["letters"])).numpy()
            err = max(err, float(np.abs(ref - sess.run(None, f)[0]).max()))
    return err


def agreement(ref_path: Path, path: Path, words: list[str]) -> float:
    """Share of words both graphs pronounce the same."""
    a, b = _session(ref_path), _session(path)
    feeds = _feeds(words)
    return float(np.mean([_decode(a.run(None, f)[0][0]) == _decode(b.run(None, f)[0][0])
                          for f in feeds]))


def quantize_dynamic_int8(src: Path, dst: Path) -> None:
    from onnxruntime.quantization import QuantType, quantize_dynamic
    from onnxruntime.quantization.shape_inference import quant_pre_process

    with tempfile.TemporaryDirectory() as tmp:
        pre = Path(tmp) / "pre.onnx"
        quant_pre_process(str(src), str(pre), skip_symbolic_shape=True)
        attention = [n.name for n in onnx.load(str(pre)).graph.node
                     if re.fullmatch(r"/blocks\.\d+/MatMul(_1)?", n.name)]
        # reduce_range: 7-bit weights, for x86 CPUs without VNNI (see quantize/int8.py)
        quantize_dynamic(str(pre), str(dst), weight_type=QuantType.QInt8, per_channel=True,
                         reduce_range=True, op_types_to_quantize=["MatMul"],
                         nodes_to_exclude=attention)


def export_g2p(model: G2PModel, out: Path, quantize: str,
               words: list[str] | None = None) -> tuple[dict, dict | None, dict]:
    """Write `out/g2p.onnx`; return its manifest entry, quantization check (None when it
    stays float), export check. `words` to check on: default `check_words()`."""
    words = words or check_words()
    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp) / FILE
        export_onnx(model, src)
        err = max_abs_error(model, src, words[:50])
        if err > 1e-3:
            raise EdgevcError(f"export check failed: g2p ONNX differs from PyTorch by {err:.3g}")
        dst = out / FILE
        precision, check = "fp32", None
        if quantize == "int8":
            quantize_dynamic_int8(src, dst)
            precision = "int8"
        if precision != "fp32":
            value = agreement(src, dst, words)
            check = {"metric": "word_agreement", "value": round(value, 4), "limit": MIN_AGREEMENT}
            if value < MIN_AGREEMENT:
                log.warning("g2p loses too much at %s (%.3f of words unchanged < %s); keeping float32",
                            precision, value, MIN_AGREEMENT)
                precision, check["kept_float"] = "fp32", True
        if precision == "fp32":
            shutil.copyfile(src, dst)
        entry = {"file": FILE, "inputs": ["letters"], "outputs": ["logits"], "precision": precision,
                 "bytes_fp32": src.stat().st_size, "receptive_radius": 0,
                 "letters": LETTERS, "symbols": OUTPUTS, "blank": 0,
                 "upsample": model.upsample, "max_letters": model.max_letters}
    return entry, check, {"max_abs_error_vs_pytorch": err}


def prune_lexicon(lexicon, g2p_file: Path, entry: dict):
    """The lexicon without the words the bundle's own G2P graph pronounces exactly as the
    lexicon does: the runtime asks the lexicon first and the G2P next, so every such word
    is spoken the same and the bundle is smaller. Words ending in 's stay (for them the
    front end's possessive rule would answer before the G2P). Returns (lexicon, dropped)."""
    from tqdm import tqdm

    from edgevc.runtime.backends import create_session
    from edgevc.text import Lexicon
    from edgevc.text.g2p import G2P

    g2p = G2P.load(g2p_file, entry, create_session)
    kept, dropped = {}, 0
    words = sorted(lexicon._entries) if isinstance(lexicon._entries, dict) else lexicon._entries.words()
    for word in tqdm(words, desc="lexicon vs g2p", unit="word", disable=None, leave=False):
        pron = lexicon.lookup(word)
        if not word.endswith("'s") and g2p(word) == pron:
            dropped += 1
        else:
            kept[word] = pron
        g2p._cache.clear()  # every word once: the cache would only grow
    return Lexicon(kept), dropped
