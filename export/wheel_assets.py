"""Model files that PyPI wheels carry in parts (the Kokoro teacher, the Whisper judge):
found in the installed packages, joined once into edgevc's cache folder, and verified by
sha256 on every use. Nothing is downloaded at run time."""

from __future__ import annotations

import hashlib
import importlib.util
import os
from pathlib import Path

from edgevc.errors import InputError
from edgevc.runtime.bundle import sha256_file


def cache_dir() -> Path:
    """`$EDGEVC_CACHE`, else `$XDG_CACHE_HOME/edgevc`, else ~/.cache/edgevc."""
    if os.environ.get("EDGEVC_CACHE"):
        return Path(os.environ["EDGEVC_CACHE"])
    return Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "edgevc"


def package_dir(package: str, install_hint: str) -> Path:
    """The folder of an installed package, or InputError naming what to install."""
    spec = importlib.util.find_spec(package)
    if spec is None or spec.origin is None:
        raise InputError(f"{package.replace('_', '-')} is not installed ({install_hint})")
    return Path(spec.origin).parent


def joined(parts: list[Path], out: Path, sha256: str, reinstall_hint: str) -> Path:
    """`out`, the concatenation of `parts`: reused when its hash matches, else written under
    a temporary name, checked, and renamed (nothing half-written is left behind)."""
    if out.is_file() and sha256_file(out) == sha256:
        return out
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.{os.getpid()}.tmp")
    h = hashlib.sha256()
    try:
        with open(tmp, "wb") as f:
            for part in parts:
                with open(part, "rb") as src:
                    for block in iter(lambda: src.read(1 << 20), b""):
                        h.update(block)
                        f.write(block)
        if h.hexdigest() != sha256:
            raise InputError(f"the joined parts of {out.name} hash to {h.hexdigest()[:12]}..., "
                             f"not {sha256[:12]}...: {reinstall_hint}")
        os.replace(tmp, out)
    finally:
        tmp.unlink(missing_ok=True)
    return out
