"""Speaker files across re-exports: `edgevc export --previous-bundle DIR`.

A speaker file's sidecar names the encoder file that made it (its sha256), and a bundle
refuses files from an encoder it does not know. int8 calibration makes a re-export's
encoder file differ byte for byte even when its weights are the same, so a new release
would refuse every file its users enrolled. With the previous bundle at hand, the export
runs both encoders on the same speech; when they embed it alike (the cosine limit of the
int8 check), the new manifest lists the previous encoder's hash, and the hashes that
bundle took, as encoders whose speaker files it also takes
(`models.speaker_encoder.accepts_sha256`). When they do not, the export fails: silently
taking those files would speak them in some other voice.

Each release is compared with the one before it, not with every earlier one: the hashes a
bundle takes are handed on, so a file from three releases back is taken on the strength of
two checks in a row. The comparison runs on the calibration speech: real recordings with
`--calibration`, else the new chain's own synthesized sentences.
"""

import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import onnxruntime as ort

from edgevc.audio.params import EMBEDDING_DIM, SPEAKER_MEL, SPEAKER_WINDOW_FRAMES
from edgevc.errors import EdgevcError, InputError
from edgevc.runtime.bundle import Bundle

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class PreviousEncoders:
    """What a previous bundle's speaker encoder is, read before the export does any work."""
    root: Path
    model: bytes               # its speaker encoder graph (ONNX), checked against its hash
    hashes: tuple[str, ...]    # its encoder's sha256, then those it took in turn


def read_previous(root: str | Path) -> PreviousEncoders:
    """The previous bundle at `root`, refused in one line when it is not a valid bundle or
    its speaker encoder reads other features or writes another size of vector."""
    what = f"--previous-bundle {root}"
    try:
        prev = Bundle.load(root)
    except InputError as e:
        raise InputError(f"{what}: {e}") from None
    if prev.speaker_mel != SPEAKER_MEL or prev.window_frames != SPEAKER_WINDOW_FRAMES:
        raise InputError(f"{what}: its speaker encoder reads other features than this export's; "
                         "speaker files enrolled with it must be enrolled again")
    if prev.embedding_dim != EMBEDDING_DIM:
        raise InputError(f"{what}: its speaker vectors have {prev.embedding_dim} values, "
                         f"this export's {EMBEDDING_DIM}")
    return PreviousEncoders(Path(root), prev.models["speaker_encoder"].read(), prev.speaker_encoders)


def _embed(session: ort.InferenceSession, feeds: list[dict]) -> np.ndarray:
    out = np.concatenate([session.run(None, f)[0] for f in feeds])
    return out / (np.linalg.norm(out, axis=-1, keepdims=True) + 1e-9)


def _session(model: bytes | str) -> ort.InferenceSession:
    so = ort.SessionOptions()
    so.log_severity_level = 3
    return ort.InferenceSession(model, so, providers=["CPUExecutionProvider"])


def accepted_encoders(prev: PreviousEncoders, new_encoder: Path, new_sha256: str,
                      feeds: list[dict], limit: float) -> tuple[list[str], float]:
    """The hashes the new bundle also takes (the previous encoder's and those it took, the
    new one's own left out) and the mean cosine between the two encoders' embeddings of
    `feeds` (the int8 calibration windows). EdgevcError when that cosine is below `limit`."""
    if not feeds:
        raise EdgevcError("--previous-bundle: no speech to compare the speaker encoders on")
    cos = float(np.mean(np.sum(_embed(_session(prev.model), feeds)
                               * _embed(_session(str(new_encoder)), feeds), -1)))
    if cos < limit:
        raise EdgevcError(f"--previous-bundle {prev.root}: its speaker encoder embeds voices "
                          f"unlike the new one (cosine {cos:.3f} < {limit}); speaker files "
                          "enrolled with it must be enrolled again: leave the option out")
    accepts = [h for h in prev.hashes if h != new_sha256]
    log.info("speaker files of %d earlier encoder(s) stay usable (cosine %.4f with %s)",
             len(accepts), cos, prev.root)
    return accepts, cos
