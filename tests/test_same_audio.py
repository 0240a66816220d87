"""The same bundle gives the same audio: refactors of the runtime (issue 18: layers, the
inference interface, the voicing model's move) must not change a sample.

tests/data/same_audio.npz holds what the runtime made from the shipped bundle before those
changes: a fixed text in each phase method, in the default voice and in a fixed other
voice, and the speaker vector enrolled from that audio. Of each audio it keeps the length,
the RMS of every 20 ms and 32 random +-1 projections of the whole (a few kB, not the
samples): any change past float noise moves the projections. It is keyed by the bundle's
manifest hash; when the shipped bundle itself is replaced (a new release), the reference
is made again from the new bundle with the runtime of that commit:

    python tests/test_same_audio.py          # writes tests/data/same_audio.npz
"""

import hashlib
import sys
import tempfile
from pathlib import Path

import numpy as np
import pytest

REFERENCE = Path(__file__).with_name("data") / "same_audio.npz"
TEXT = ("It is 10:30 on March 3rd. Your order number 4127 ships today, and the total is "
        "$18.25. Dr. Smith will see you now.")
PHASES = ("vocoder", "excitation", "hybrid")
# Float reduction order may differ with thread counts and CPUs (about 1e-6 a sample); a
# changed model, text or phase moves samples by orders of magnitude more than this.
ATOL = 2e-4          # RMS per frame, and the embedding
PROJ_ATOL = 2e-2     # a projection sums ~170,000 samples: float noise ~1e-3 at most
FRAME = 320          # 20 ms at 16 kHz
N_PROJ = 32


def fingerprint(name: str, x: np.ndarray) -> dict[str, np.ndarray]:
    x = np.asarray(x, np.float64)
    n = len(x) // FRAME * FRAME
    rms = np.sqrt(np.mean(x[:n].reshape(-1, FRAME) ** 2, axis=1))
    signs = np.random.default_rng(1818).integers(0, 2, size=(N_PROJ, len(x)), dtype=np.int8)
    proj = (signs * 2 - 1).astype(np.float64) @ x
    return {f"{name}.len": np.array(len(x)), f"{name}.rms": rms, f"{name}.proj": proj}


def _manifest_sha(voice) -> str:
    return hashlib.sha256((voice.synth.bundle.root / "manifest.json").read_bytes()).hexdigest()


def render() -> dict[str, np.ndarray]:
    import soundfile as sf

    from edgevc.runtime.enroll import Enroller
    from edgevc.runtime.profiles import load_profile
    from edgevc.voice import SynthesisConfig, Voice

    profile = load_profile("generic-x86")
    voice = Voice.load(profile=profile)
    other = np.random.default_rng(18).normal(size=voice.synth.bundle.embedding_dim)
    other = (other / np.linalg.norm(other)).astype(np.float32)
    out = {"manifest_sha256": np.array(_manifest_sha(voice))}
    audio = {f"default_{phase}": voice.synthesize(TEXT, None, SynthesisConfig(phase=phase))
             for phase in PHASES}
    audio["other_vocoder"] = voice.synthesize(TEXT, other, SynthesisConfig(phase="vocoder"))
    for name, x in audio.items():
        out.update(fingerprint(name, x))
    with tempfile.TemporaryDirectory() as d:
        wav = Path(d) / "speech.wav"
        sf.write(wav, audio["default_vocoder"], voice.sample_rate, subtype="FLOAT")
        out["enrolled"], _ = Enroller(voice.synth.bundle, profile).enroll([wav])
    return out


@pytest.fixture(scope="module")
def reference():
    if not REFERENCE.exists():
        pytest.fail(f"{REFERENCE} is missing: python tests/test_same_audio.py writes it")
    with np.load(REFERENCE, allow_pickle=False) as z:
        return {k: z[k] for k in z.files}


def test_the_shipped_bundle_speaks_as_before(reference):
    from edgevc.voice import Voice

    if str(reference["manifest_sha256"]) != _manifest_sha(Voice.load(profile="generic-x86")):
        pytest.skip("the shipped bundle changed since the reference was made: "
                    "python tests/test_same_audio.py writes a new one")
    now = render()
    for key, want in reference.items():
        if key == "manifest_sha256":
            continue
        got = now[key]
        assert got.shape == want.shape, f"{key}: shape {got.shape}, was {want.shape}"
        if key.endswith(".len"):
            assert int(got) == int(want), f"{key}: {int(got)} samples, was {int(want)}"
            continue
        err = float(np.max(np.abs(got.astype(np.float64) - want)))
        tol = PROJ_ATOL if key.endswith(".proj") else ATOL
        assert err <= tol, f"{key}: differs by up to {err:.2e} from before (limit {tol:g})"


if __name__ == "__main__":
    REFERENCE.parent.mkdir(exist_ok=True)
    ref = render()
    np.savez_compressed(REFERENCE, **ref)
    print(f"wrote {REFERENCE}: " + ", ".join(f"{k} {v.shape}" for k, v in ref.items()),
          file=sys.stderr)
