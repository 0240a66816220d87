"""A bundle: a folder with manifest.json and the files it names, each with its sha256.

The runtime checks every hash before loading anything and refuses a bundle that does not
match, so a truncated copy or an edited model never runs. What is checked is what runs:
a file the runtime uses (a model, the lexicon, the default speaker) is read once, its
bytes hashed again and handed on as they are (ModelEntry.read, Bundle.read), never opened
again by path, so a file swapped after Bundle.load() is refused rather than run.
"""

import hashlib
import json
import os
import re
import stat
from collections.abc import Mapping
from dataclasses import dataclass, field
from importlib.resources import files
from pathlib import Path
from typing import NamedTuple

from edgevc.audio.params import MelParams
from edgevc.audio.voicing import HYBRID_BAND_HZ, HYBRID_MARGIN, VoicingModel
from edgevc.errors import InputError
from edgevc.runtime.bundle_keys import SIGNATURE, check_signature  # noqa: F401 (re-exported)

FORMAT = "edgevc-bundle"
FORMAT_VERSION = 1
MODEL_ROLES = ("speaker_encoder", "acoustic_encoder", "acoustic_decoder", "vocoder")
MANIFEST = "manifest.json"
MANIFEST_MAX_BYTES = 4 << 20  # the shipped manifest is tens of KB
# Where the waveform's phase comes from: the vocoder's own output, an excitation signal
# matched to its magnitudes, or the excitation's in voiced frames' low band and the vocoder's
# elsewhere (edgevc/audio/excitation.py; the last two need the manifest's voicing model).
PHASE_METHODS = ("vocoder", "excitation", "hybrid")


def _phase_number(ph: dict, key: str, default: float, ok, what: str, where: str) -> float:
    """The manifest phase section's number `key` (`default` when absent), checked by `ok`."""
    v = ph.get(key, default)
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not ok(v):
        raise InputError(f"{where}: phase {key} {v!r}: must be a number ({what})")
    return float(v)


# The default voice's own pace: the length scale it speaks at when a user asks for rate 1.0
# (Piper's voice config carries the same). Enrolled speakers speak at the pace the model
# predicts for them; manifests without it speak the default voice at the model's pace too.
PACE_RANGE = (0.5, 2.0)


def check_default_length_scale(v, what: str) -> float:
    """`v` as a float when it is a pace in PACE_RANGE, else InputError naming `what`."""
    lo, hi = PACE_RANGE
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not lo <= v <= hi:
        raise InputError(f"{what} {v!r}: must be a number from {lo} to {hi}")
    return float(v)


def _accepted_encoders(m: dict, where: str) -> tuple[str, ...]:
    """The speaker encoders whose speaker files this bundle takes: its own (the file's
    sha256) and those of earlier bundles that `edgevc export --previous-bundle` found to
    embed voices alike (manifest `models.speaker_encoder.accepts_sha256`)."""
    own = m["files"].get(m["models"]["speaker_encoder"]["file"], {}).get("sha256")
    accepts = m["models"]["speaker_encoder"].get("accepts_sha256", [])
    if not isinstance(accepts, list) or not all(isinstance(h, str) and _SHA256.fullmatch(h)
                                                for h in accepts):
        raise InputError(f"{where}: speaker_encoder accepts_sha256 must be a list of sha256 hex digests")
    return tuple(dict.fromkeys([own, *accepts] if own else accepts))


_SHA256 = re.compile(r"[0-9a-f]{64}")


def _default_pace(m: dict, where: str) -> float:
    return check_default_length_scale(m.get("synthesis", {}).get("default_length_scale", 1.0),
                                      f"{where}: synthesis default_length_scale")


def _read_manifest(path: Path, where: str) -> tuple[dict, bytes]:
    """The manifest as a dict; its size is checked before it is read (a real one is tens
    of KB), and it must not be a symbolic link leading out of the bundle."""
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        raise InputError(f"{where}: no {MANIFEST}") from None
    except OSError as e:
        raise InputError(f"{where}: cannot read {MANIFEST} ({e.strerror})") from None
    if not stat.S_ISREG(st.st_mode):
        raise InputError(f"{where}: {MANIFEST} is not a regular file (a link or a device)")
    if st.st_size > MANIFEST_MAX_BYTES:
        raise InputError(f"{where}: {MANIFEST} is {st.st_size:,} bytes; at most "
                         f"{MANIFEST_MAX_BYTES:,} are read")
    try:
        raw = path.read_bytes()
        m = json.loads(raw.decode("utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise InputError(f"{where}: {MANIFEST} is not valid JSON ({e})") from None
    except RecursionError:
        raise InputError(f"{where}: {MANIFEST} is nested too deeply to be a manifest") from None
    if not isinstance(m, dict):
        raise InputError(f"{where}: {MANIFEST} holds a JSON {type(m).__name__}, not an object")
    return m, raw


def default_bundle_dir() -> Path:
    return Path(str(files("edgevc.data") / "default_bundle"))


def _open_regular(path: Path) -> int:
    """A read descriptor for `path` that refuses a symbolic link and anything but a regular
    file (no window between the check and the read)."""
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise InputError(f"{path}: not a regular file")
    return fd


def sha256_file(path: Path) -> str:
    """The file's sha256, read through a descriptor that refuses a symbolic link and
    anything but a regular file."""
    h = hashlib.sha256()
    with os.fdopen(_open_regular(path), "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def read_verified(path: Path, sha256: str | None) -> bytes:
    """The bytes of bundle file `path`, read once (no symbolic link, a regular file) and,
    with `sha256`, checked against it: hand these bytes on instead of opening the path
    again, so what was checked is what is used. InputError when the file changed since
    the bundle was loaded (or cannot be read)."""
    try:
        with os.fdopen(_open_regular(path), "rb") as f:
            data = f.read()
    except OSError as e:
        raise InputError(f"bundle file {path}: cannot be read ({e.strerror})") from None
    if sha256 is not None:
        digest = hashlib.sha256(data).hexdigest()
        if digest != sha256:
            raise InputError(f"bundle file {path} changed after the bundle was loaded: it no "
                             f"longer matches its sha256 in {MANIFEST} (expected "
                             f"{sha256[:12]}..., got {digest[:12]}...)")
    return data


# Which TFLite variant a profile's precision prefers, best first.
TFLITE_PREFERENCE = {"int8": ("int8", "fp16", "fp32"), "fp16": ("fp16", "fp32", "int8"),
                     "fp32": ("fp32", "fp16", "int8")}


class TFLiteModel(NamedTuple):
    path: Path
    precision: str
    input_names: tuple[str, ...]
    output_names: tuple[str, ...]
    sha256: str | None = None  # from the manifest; None: not checked (a file outside a bundle)

    def read(self) -> bytes:
        """The graph's bytes, checked against its sha256: what the interpreter runs."""
        return read_verified(self.path, self.sha256)


@dataclass(frozen=True)
class ModelEntry:
    role: str
    path: Path
    precision: str
    receptive_radius: int
    inputs: tuple[str, ...] = ()
    outputs: tuple[str, ...] = ()
    tflite: tuple[tuple[str, Path], ...] = ()  # (precision, path): TFLite variants, if any
    # path -> sha256 of the bundle's files (the manifest's); empty: not checked
    digests: Mapping[Path, str] = field(default_factory=dict, compare=False, repr=False)

    def read(self) -> bytes:
        """The ONNX graph's bytes, checked against its sha256: what the session runs."""
        return read_verified(self.path, self.digests.get(self.path))

    def tflite_model(self, precision: str = "int8") -> TFLiteModel | None:
        """The TFLite variant that suits a profile's `precision`, or None."""
        have = dict(self.tflite)
        for p in TFLITE_PREFERENCE.get(precision, TFLITE_PREFERENCE["int8"]):
            if p in have:
                return TFLiteModel(have[p], p, self.inputs, self.outputs,
                                   self.digests.get(have[p]))
        return None


@dataclass(frozen=True)
class Bundle:
    root: Path
    manifest: dict
    models: dict[str, ModelEntry]
    synth_mel: MelParams
    speaker_mel: MelParams
    window_frames: int
    window_hop: int
    embedding_dim: int
    phonemes: tuple[str, ...]
    lexicon_path: Path
    default_speaker_path: Path
    g2p: ModelEntry | None = None   # optional: words outside the lexicon (else rule-based)
    phase: str = "vocoder"          # default phase method, one of PHASE_METHODS
    voicing: VoicingModel | None = None  # for the excitation and hybrid phases
    band_hz: float = HYBRID_BAND_HZ      # the hybrid's band
    voiced_margin: float = HYBRID_MARGIN  # the hybrid's voicing threshold (logit)
    default_length_scale: float = 1.0    # the default voice's pace at rate 1.0 (manifest "synthesis")
    # sha256 of the speaker encoders whose speaker files this bundle takes, its own first
    speaker_encoders: tuple[str, ...] = ()
    # path -> sha256 of every file (the manifest's), when loaded with verify: read() and
    # ModelEntry.read() check them again on the bytes they hand on
    digests: Mapping[Path, str] = field(default_factory=dict, compare=False, repr=False)

    @classmethod
    def load(cls, root: str | os.PathLike | None = None, verify: bool = True,
             public_key: bytes | None = None) -> "Bundle":
        """The bundle at `root` (default: the shipped one), every file checked against its
        sha256; with `public_key`, its manifest must carry that key's signature."""
        root = Path(root) if root is not None else default_bundle_dir()
        where = f"bundle {root}"
        if not root.is_dir():
            raise InputError(f"{where}: not a folder")
        manifest, raw = _read_manifest(root / MANIFEST, where)
        if public_key is not None:
            check_signature(root, raw, public_key, where)
        try:
            return cls._parse(root, manifest, verify)
        except (KeyError, TypeError, ValueError, AttributeError) as e:
            raise InputError(f"{where}: {MANIFEST} is malformed ({type(e).__name__}: {e})") from None

    @classmethod
    def _parse(cls, root: Path, m: dict, verify: bool) -> "Bundle":
        where = f"bundle {root}"
        if m.get("format") != FORMAT:
            raise InputError(f"{where}: {MANIFEST} is not an edgevc bundle manifest")
        if int(m["format_version"]) > FORMAT_VERSION:
            raise InputError(f"{where}: format version {m['format_version']} is newer than this "
                             f"edgevc understands ({FORMAT_VERSION}); upgrade edgevc")
        real_root = root.resolve()
        for name, entry in m["files"].items():
            path = root / name
            if Path(name).is_absolute() or ".." in Path(name).parts:
                raise InputError(f"{where}: file name {name!r} leaves the bundle folder")
            if path.is_symlink() or real_root not in path.resolve().parents:
                raise InputError(f"{where}: file {name} is a symbolic link; bundle files must "
                                 "be regular files inside the bundle folder")
            if not path.is_file():
                raise InputError(f"{where}: file {name} is missing or not a regular file")
            if verify:
                try:
                    digest = sha256_file(path)
                except OSError as e:  # e.g. swapped for a link since it was checked
                    raise InputError(f"{where}: file {name} cannot be read ({e.strerror})") from None
                if digest != entry["sha256"]:
                    raise InputError(f"{where}: file {name} does not match its sha256 in "
                                     f"{MANIFEST} (expected {entry['sha256'][:12]}..., "
                                     f"got {digest[:12]}...); the bundle is corrupt or was modified")

        def listed(name: str) -> Path:
            if name not in m["files"]:
                raise InputError(f"{where}: {name} is not listed with a sha256 in {MANIFEST}")
            return root / name

        digests = {root / n: str(e["sha256"]) for n, e in m["files"].items()} if verify else {}

        models = {}
        for role in MODEL_ROLES:
            if role not in m["models"]:
                raise InputError(f"{where}: no {role} model in {MANIFEST}")
            spec = m["models"][role]
            tflite = tuple((v["precision"], listed(v["file"])) for v in spec.get("variants", ())
                           if v.get("format") == "tflite")
            models[role] = ModelEntry(role, listed(spec["file"]), spec["precision"],
                                      int(spec.get("receptive_radius", 0)),
                                      tuple(spec.get("inputs", ())), tuple(spec.get("outputs", ())),
                                      tflite, digests)
        g = m["models"].get("g2p")
        g2p = ModelEntry("g2p", listed(g["file"]), g["precision"], 0,
                         digests=digests) if g else None
        sf = m["speaker_features"]
        synth_mel = MelParams(**m["audio"])
        ph = m.get("phase", {"method": "vocoder"})
        if ph["method"] not in PHASE_METHODS:
            raise InputError(f"{where}: phase method {ph['method']!r} is not one of {', '.join(PHASE_METHODS)}")
        voicing = VoicingModel.from_dict(ph["voicing"], synth_mel.n_mels) if "voicing" in ph else None
        if ph["method"] != "vocoder" and voicing is None:
            raise InputError(f"{where}: phase method {ph['method']!r} needs a voicing model in {MANIFEST}")
        nyquist = synth_mel.sample_rate / 2
        band_hz = _phase_number(ph, "band_hz", HYBRID_BAND_HZ, lambda v: 0 < v <= nyquist,
                                f"Hz, above 0 and at most {nyquist:g}", where)
        margin = _phase_number(ph, "voiced_margin", HYBRID_MARGIN, lambda v: abs(v) < 100,
                               "logit, between -100 and 100", where)
        return cls(
            root=root, manifest=m, models=models,
            synth_mel=synth_mel,
            speaker_mel=MelParams(**{k: sf[k] for k in MelParams.__dataclass_fields__}),
            window_frames=int(sf["window_frames"]), window_hop=int(sf["window_hop"]),
            embedding_dim=int(m["embedding_dim"]), phonemes=tuple(m["phonemes"]),
            lexicon_path=listed(m["lexicon"]), default_speaker_path=listed(m["default_speaker"]),
            g2p=g2p, phase=ph["method"], voicing=voicing, band_hz=band_hz, voiced_margin=margin,
            default_length_scale=_default_pace(m, where),
            speaker_encoders=_accepted_encoders(m, where), digests=digests,
        )

    def read(self, path: Path) -> bytes:
        """The bytes of bundle file `path` (the lexicon, the default speaker), checked
        against the manifest's sha256 when the bundle was loaded with verify: parse these,
        do not open the path again."""
        if self.digests and path not in self.digests:
            raise InputError(f"bundle {self.root}: {path} is not one of its files")
        return read_verified(path, self.digests.get(path))

    @property
    def sample_rate(self) -> int:
        return self.synth_mel.sample_rate

    @property
    def speaker_encoder_sha256(self) -> str | None:
        """The speaker encoder's file hash: what `edgevc enroll` records in a speaker file's
        sidecar, and what a speaker file from another encoder is told apart by."""
        entry = self.manifest["files"].get(self.models["speaker_encoder"].path.name, {})
        return entry.get("sha256")

    def summary(self) -> dict:
        m = self.manifest
        return {
            "path": str(self.root),
            "edgevc_version": m.get("edgevc_version"),
            "created": m.get("created"),
            "sample_rate": self.sample_rate,
            "embedding_dim": self.embedding_dim,
            "phonemes": len(self.phonemes),
            "models": {r: {"file": e.path.name, "precision": e.precision,
                           "bytes": e.path.stat().st_size,
                           **({"tflite": {p: f.name for p, f in e.tflite}} if e.tflite else {})}
                       for r, e in [*self.models.items(), ("g2p", self.g2p)] if e is not None},
            "total_bytes": sum((self.root / f).stat().st_size for f in m["files"]),
            "quantization": m.get("quantization", {}),
            "phase": self.phase,
            "default_length_scale": self.default_length_scale,
            "speaker_encoders": list(self.speaker_encoders),
            "training_data": m.get("training_data", []),
        }
