"""PyTorch models -> ONNX graphs the runtime runs (opset 17, dynamic time axes).

The acoustic model becomes two graphs, encoder and decoder; the runtime expands phoneme
states by their durations in between and runs the decoder in chunks.
"""

import logging
from pathlib import Path

import numpy as np
import torch
from torch import nn

log = logging.getLogger(__name__)
OPSET = 17


class _Encoder(nn.Module):
    def __init__(self, m):
        super().__init__()
        self.m = m

    def forward(self, ids, speaker):
        return self.m.encode(ids, speaker)


class _Decoder(nn.Module):
    def __init__(self, m):
        super().__init__()
        self.m = m

    def forward(self, frames, speaker):
        return self.m.decode(frames, speaker)


def _export(module, args, path, inputs, outputs, dynamic):
    torch.onnx.export(module.eval(), args, str(path), input_names=inputs, output_names=outputs,
                      dynamic_axes=dynamic, opset_version=OPSET, dynamo=False,
                      do_constant_folding=True)


def export_all(models: dict, out: Path) -> dict[str, dict]:
    """Write the four graphs to `out`; return role -> {file, inputs, outputs, receptive_radius}."""
    enc, ac, voc = models["speaker_encoder"], models["acoustic"], models["vocoder"]
    dim, spk = ac.config["dim"], ac.config["spk_dim"]
    n_mels = ac.config["n_mels"]
    specs = {
        "speaker_encoder": (enc, (torch.randn(2, 160, enc.config["n_mels"]),),
                            ["mel"], ["embedding"],
                            {"mel": {0: "windows", 1: "frames"}, "embedding": {0: "windows"}}, 0),
        "acoustic_encoder": (_Encoder(ac), (torch.randint(0, 70, (1, 12)), torch.randn(1, spk)),
                             ["ids", "speaker"], ["states", "log_durations"],
                             {"ids": {1: "phonemes"}, "states": {1: "phonemes"},
                              "log_durations": {1: "phonemes"}}, 0),
        "acoustic_decoder": (_Decoder(ac), (torch.randn(1, 40, dim), torch.randn(1, spk)),
                             ["frames", "speaker"], ["mel"],
                             {"frames": {1: "frames"}, "mel": {1: "frames"}},
                             ac.decoder_receptive_radius),
        "vocoder": (voc, (torch.randn(1, 40, n_mels),), ["mel"], ["real", "imag"],
                    {"mel": {1: "frames"}, "real": {1: "frames"}, "imag": {1: "frames"}},
                    voc.receptive_radius),
    }
    out.mkdir(parents=True, exist_ok=True)
    result = {}
    for role, (module, args, ins, outs, dyn, radius) in specs.items():
        path = out / f"{role}.onnx"
        with torch.no_grad():
            _export(module, args, path, ins, outs, dyn)
        result[role] = {"file": path.name, "inputs": ins, "outputs": outs,
                        "receptive_radius": int(radius)}
        log.info("exported %s (%.2f MB)", path.name, path.stat().st_size / 1e6)
    return result


def torch_reference(models: dict, role: str, feeds: dict[str, np.ndarray]) -> list[np.ndarray]:
    """What the PyTorch model gives for the same feeds as an ONNX graph."""
    t = {k: torch.from_numpy(v) for k, v in feeds.items()}
    with torch.no_grad():
        if role == "speaker_encoder":
            out = models["speaker_encoder"](t["mel"])
        elif role == "acoustic_encoder":
            out = models["acoustic"].encode(t["ids"], t["speaker"])
        elif role == "acoustic_decoder":
            out = models["acoustic"].decode(t["frames"], t["speaker"])
        else:
            out = models["vocoder"](t["mel"])
    out = out if isinstance(out, tuple) else (out,)
    return [o.numpy() for o in out]
