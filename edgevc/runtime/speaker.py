"""Speaker files: np.save of a finite, unit-length float32 vector, never unpickled.

`edgevc enroll` writes a JSON sidecar beside it (me.npy -> me.json) that records, among
other things, which speaker encoder made the vector (`encoder_sha256`, the encoder file's
hash in the bundle manifest). A vector from another encoder lies in another space: the
acoustic model would speak in some voice, not this one, so such a file is refused, unless
the bundle lists that encoder as one whose vectors it takes (a re-export of the same
encoder, checked by `edgevc export --previous-bundle`). A speaker file without a sidecar,
or with one that records no encoder, is taken as it is.
"""

import io
import json
import logging
import os
import stat
import zipfile
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from edgevc.audio.io import _new_file_mode, temp_path_for, write_error
from edgevc.errors import InputError

log = logging.getLogger(__name__)
SIDECAR_MAX_BYTES = 65536  # enroll writes a few hundred bytes


def load_speaker(path: str | Path, dim: int, encoders: Sequence[str] = ()) -> np.ndarray:
    """The vector at `path`. With `encoders` (Bundle.speaker_encoders: the sha256 of the
    bundle's speaker encoder, then those it also takes), a file whose sidecar names an
    encoder not among them is refused."""
    if isinstance(encoders, str):  # a lone hash would be searched as a string of letters
        encoders = (encoders,)
    where = f"speaker file {path}"
    arr = _read_vector(Path(path), dim, where)
    theirs = sidecar_encoder(Path(path))
    if encoders and theirs and theirs not in encoders:
        raise InputError(f"{where}: made by another speaker encoder ({Path(path).with_suffix('.json').name} "
                         f"names sha256 {theirs[:12]}..., this bundle's is {encoders[0][:12]}...); "
                         "enroll the recordings again with this bundle")
    return _unit_vector(arr, where)


def speaker_from_bytes(data: bytes, dim: int, path: str | Path) -> np.ndarray:
    """The vector of a speaker file whose bytes are `data` (a bundle's default speaker,
    read once and checked against its hash), held to what load_speaker() holds a file to;
    `path` names it in messages."""
    where = f"speaker file {path}"
    return _unit_vector(_parse_vector(io.BytesIO(data), dim, where), where)


def _unit_vector(arr: np.ndarray, where: str) -> np.ndarray:
    if not np.all(np.isfinite(arr)):
        raise InputError(f"{where}: contains NaN or infinite values")
    norm = float(np.linalg.norm(arr))
    if abs(norm - 1.0) > 1e-3:
        raise InputError(f"{where}: not unit length (norm {norm:.4f}); was it made by `edgevc enroll`?")
    return arr.astype(np.float32)


def sidecar_encoder(path: Path) -> str | None:
    """The `encoder_sha256` that the speaker file's sidecar records, or None: no sidecar,
    or one that is not a small regular file holding a JSON object with that string."""
    side = path.with_suffix(".json")
    try:
        st = os.stat(side)
        if not stat.S_ISREG(st.st_mode) or st.st_size > SIDECAR_MAX_BYTES:
            log.debug("%s: not a sidecar (not a small regular file); ignored", side)
            return None
        with open(side, "rb") as f:
            info = json.loads(f.read(SIDECAR_MAX_BYTES + 1))
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as e:  # unreadable, not JSON: not ours to judge
        log.debug("%s: not a sidecar (%s); ignored", side, _first_line(e))
        return None
    sha = info.get("encoder_sha256") if isinstance(info, dict) else None
    return sha if isinstance(sha, str) and sha else None


def check_speaker(speaker, dim: int) -> np.ndarray:
    """A speaker vector handed to the API, as float32; InputError when it cannot be one
    (wrong shape, NaN, all zeros): the models would speak garbage, not fail."""
    arr = np.asarray(speaker) if isinstance(speaker, np.ndarray) else None
    if arr is None or arr.dtype.kind not in "fiu" or arr.shape != (dim,):
        what = f"shape {arr.shape}, dtype {arr.dtype}" if arr is not None else type(speaker).__name__
        raise InputError(f"speaker: expected a ({dim},) float vector, got {what}")
    arr = arr.astype(np.float32)
    if not np.all(np.isfinite(arr)):
        raise InputError("speaker: contains NaN or infinite values")
    if float(np.linalg.norm(arr)) < 1e-6:
        raise InputError("speaker: is all zeros (expected a unit-length vector from `edgevc enroll`)")
    return arr


def _read_vector(p: Path, dim: int, where: str) -> np.ndarray:
    """The .npy vector at `p`, its header checked before any data is read: a header that
    claims a huge shape, or a device like /dev/zero, costs no memory."""
    try:
        st = os.stat(p)
    except FileNotFoundError:
        raise InputError(f"{where}: not found") from None
    except OSError as e:
        raise InputError(f"{where}: cannot read ({e.strerror})") from None
    if not stat.S_ISREG(st.st_mode):
        target = f" (it points to {os.path.realpath(p)})" if p.is_symlink() else ""
        raise InputError(f"{where}: not a regular file{target}")
    try:
        with open(p, "rb") as f:
            return _parse_vector(f, dim, where)
    except OSError as e:
        raise InputError(f"{where}: not a .npy array ({_first_line(e)})") from None


def _parse_vector(f, dim: int, where: str) -> np.ndarray:
    """The .npy vector in the open binary file `f`, its header checked first."""
    if zipfile.is_zipfile(f):
        raise InputError(f"{where}: is an .npz archive; expected one vector saved with np.save")
    try:
        f.seek(0)
        if f.read(6) != b"\x93NUMPY":
            raise InputError(f"{where}: not a .npy file (expected a vector saved with np.save)")
        f.seek(0)
        version = np.lib.format.read_magic(f)
        read = (np.lib.format.read_array_header_1_0 if version == (1, 0)
                else np.lib.format.read_array_header_2_0)
        shape, _, dtype = read(f)
        if dtype.hasobject:
            raise InputError(f"{where}: holds pickled Python objects; refusing to load it "
                             "(expected a float32 vector saved with np.save)")
        if dtype.kind != "f":
            raise InputError(f"{where}: dtype {dtype} is not floating point")
        if shape != (dim,):
            raise InputError(f"{where}: shape {shape}, but this bundle's speaker encoder "
                             f"makes ({dim},) vectors")
        data = f.read(dim * dtype.itemsize + 1)
    except (ValueError, OSError, EOFError) as e:
        raise InputError(f"{where}: not a .npy array ({_first_line(e)})") from None
    if len(data) != dim * dtype.itemsize:
        raise InputError(f"{where}: holds {len(data)} data bytes, its header says "
                         f"{dim * dtype.itemsize}")
    return np.frombuffer(data, dtype=dtype).copy()


def _first_line(e: Exception) -> str:
    lines = str(e).strip().splitlines()
    return lines[0][:200] if lines else type(e).__name__


def save_speaker(path: str | Path, embedding: np.ndarray, info: dict | None = None) -> None:
    """Write the .npy (and a .json sidecar with `info`) atomically, each through a temp
    file that mkstemp names (never a predictable name a planted symlink could catch).
    Both are written before either is published: a full disk leaves neither half."""
    p = Path(path)
    if p.suffix != ".npy":
        raise InputError(f"speaker file {path}: name must end in .npy")
    if not p.parent.is_dir():
        raise InputError(f"speaker file {path}: folder {p.parent} does not exist")
    emb = np.asarray(embedding, dtype=np.float32)
    files = [(p, lambda f: np.save(f, emb, allow_pickle=False))]
    if info is not None:
        data = (json.dumps(info, indent=2) + "\n").encode("utf-8")
        files.append((p.with_suffix(".json"), lambda f: f.write(data)))
    temps = []
    try:
        for dest, write in files:
            fd, tmp = temp_path_for(dest)
            temps.append(tmp)
            with os.fdopen(fd, "wb") as f:
                write(f)
            os.chmod(tmp, _new_file_mode(dest))
        for (dest, _), tmp in zip(files, temps):
            os.replace(tmp, dest)
    except OSError as e:
        raise write_error(p, e) from None
    finally:
        for tmp in temps:
            try:
                os.unlink(tmp)  # gone already when it was published
            except OSError:
                pass
