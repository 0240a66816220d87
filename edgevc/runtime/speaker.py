"""Speaker files: np.save of a finite, unit-length float32 vector, never unpickled."""

import json
import os
import zipfile
from pathlib import Path

import numpy as np

from edgevc.errors import InputError


def load_speaker(path: str | Path, dim: int) -> np.ndarray:
    where = f"speaker file {path}"
    p = Path(path)
    if not p.is_file():
        raise InputError(f"{where}: not found")
    if zipfile.is_zipfile(p):
        raise InputError(f"{where}: is an .npz archive; expected one vector saved with np.save")
    with open(p, "rb") as f:
        if f.read(6) != b"\x93NUMPY":
            raise InputError(f"{where}: not a .npy file (expected a vector saved with np.save)")
    try:
        arr = np.load(p, allow_pickle=False)
    except ValueError as e:
        if "pickle" in str(e):
            raise InputError(f"{where}: holds pickled Python objects; refusing to load it "
                             "(expected a float32 vector saved with np.save)") from None
        raise InputError(f"{where}: not a .npy array ({e})") from None
    except (OSError, EOFError) as e:
        raise InputError(f"{where}: not a .npy array ({e})") from None
    if not isinstance(arr, np.ndarray) or arr.dtype.kind != "f":
        raise InputError(f"{where}: dtype {getattr(arr, 'dtype', type(arr))} is not floating point")
    if arr.shape != (dim,):
        raise InputError(f"{where}: shape {arr.shape}, but this bundle's speaker encoder makes "
                         f"({dim},) vectors")
    if not np.all(np.isfinite(arr)):
        raise InputError(f"{where}: contains NaN or infinite values")
    norm = float(np.linalg.norm(arr))
    if abs(norm - 1.0) > 1e-3:
        raise InputError(f"{where}: not unit length (norm {norm:.4f}); was it made by `edgevc enroll`?")
    return arr.astype(np.float32)


def save_speaker(path: str | Path, embedding: np.ndarray, info: dict | None = None) -> None:
    """Write the .npy (and a .json sidecar with `info`) atomically."""
    p = Path(path)
    if p.suffix != ".npy":
        raise InputError(f"speaker file {path}: name must end in .npy")
    if not p.parent.is_dir():
        raise InputError(f"speaker file {path}: folder {p.parent} does not exist")
    emb = np.asarray(embedding, dtype=np.float32)
    tmp = p.with_name(f".{p.name}.tmp")
    try:
        with open(tmp, "wb") as f:
            np.save(f, emb, allow_pickle=False)
        os.replace(tmp, p)
    finally:
        tmp.unlink(missing_ok=True)
    if info is not None:
        side = p.with_suffix(".json")
        tmp = side.with_name(f".{side.name}.tmp")
        try:
            tmp.write_text(json.dumps(info, indent=2) + "\n", encoding="utf-8")
            os.replace(tmp, side)
        finally:
            tmp.unlink(missing_ok=True)
