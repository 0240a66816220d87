"""Signed bundles: `edgevc export --sign KEY` writes manifest.sig, the Ed25519 signature
of manifest.json's bytes. The manifest holds every file's sha256, so the signature covers
the whole bundle; a runtime given the public key (`--bundle-key`, or a profile's
`bundle.public_key`) refuses a bundle that is unsigned or signed by another key.

Keys are files of hex digits: the private one (64 digits, mode 0600) from `edgevc keygen`,
the public one (64 digits) printed by it.
"""

import os
import stat
from pathlib import Path

from edgevc.errors import InputError
from edgevc.runtime import ed25519

SIGNATURE = "manifest.sig"
_HEX = set("0123456789abcdefABCDEF")


def _hex32(text: str) -> bytes | None:
    text = text.strip()
    return bytes.fromhex(text) if len(text) == 64 and set(text) <= _HEX else None


def _small_file_text(path: Path, what: str) -> str:
    try:
        st = os.stat(path)
        if not stat.S_ISREG(st.st_mode) or st.st_size > 1024:
            raise InputError(f"{what} {path}: not a small regular file")
        return path.read_text(encoding="ascii")
    except FileNotFoundError:
        raise InputError(f"{what} {path}: not found") from None
    except (OSError, UnicodeDecodeError) as e:
        raise InputError(f"{what} {path}: unreadable ({getattr(e, 'strerror', None) or e})") from None


def parse_public_key(value: str) -> bytes:
    """An Ed25519 public key given as 64 hex digits, or as a file holding them."""
    key = _hex32(value) or _hex32(_small_file_text(Path(value), "bundle key"))
    if key is None:
        raise InputError(f"bundle key {value}: not 64 hex digits (an Ed25519 public key)")
    return key


def read_private_key(path: str | os.PathLike) -> bytes:
    key = _hex32(_small_file_text(Path(path), "signing key"))
    if key is None:
        raise InputError(f"signing key {path}: not 64 hex digits (made by `edgevc keygen`?)")
    return key


def write_new_key(path: str | os.PathLike) -> bytes:
    """A new private key at `path` (created 0600; an existing file is never replaced);
    returns its public key."""
    seed = os.urandom(32)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0), 0o600)
    except FileExistsError:
        raise InputError(f"signing key {path}: exists; keygen never replaces a key") from None
    except OSError as e:
        raise InputError(f"signing key {path}: cannot write ({e.strerror})") from None
    with os.fdopen(fd, "w") as f:
        f.write(seed.hex() + "\n")
    return ed25519.public_key(seed)


def sign_bundle(root: Path, manifest_name: str, seed: bytes) -> None:
    sig = ed25519.sign(seed, (root / manifest_name).read_bytes())
    (root / SIGNATURE).write_text(sig.hex() + "\n", encoding="ascii")


def check_signature(root: Path, manifest: bytes, key: bytes, where: str) -> None:
    """manifest.sig in `root` must be `key`'s signature of the manifest bytes."""
    path = root / SIGNATURE
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        raise InputError(f"{where}: not signed (no {SIGNATURE}), and a bundle key is "
                         "configured") from None
    text = _small_file_text(path, where + ":") if stat.S_ISREG(st.st_mode) else ""
    try:
        sig = bytes.fromhex(text.strip())
    except ValueError:
        sig = b""
    if len(sig) != 64:
        raise InputError(f"{where}: {SIGNATURE} is not a hex Ed25519 signature")
    if not ed25519.verify(key, manifest, sig):
        raise InputError(f"{where}: {SIGNATURE} does not match the configured bundle key "
                         f"{key.hex()[:16]}...; the bundle was modified or signed by another key")
