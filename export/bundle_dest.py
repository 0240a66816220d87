"""Where `edgevc export -o DIR` may write: a new folder, an empty one, or an edgevc bundle.

A user's folder that happens to be named like the output must never be deleted: only a
folder whose every entry is a file its own manifest lists (or the manifest itself) is
replaced, and even then only those files are removed, one by one.
"""

import json
import logging
import os
import stat
import tempfile
from pathlib import Path

from edgevc.errors import InputError
from edgevc.runtime.bundle import FORMAT, MANIFEST, MANIFEST_MAX_BYTES, SIGNATURE

log = logging.getLogger(__name__)


def _bundle_files(out: Path) -> set[str] | None:
    """The names an edgevc manifest in `out` lists (with the manifest), or None when
    `out` holds no readable edgevc manifest."""
    path = out / MANIFEST
    try:
        st = os.lstat(path)
        if not stat.S_ISREG(st.st_mode) or st.st_size > MANIFEST_MAX_BYTES:
            return None
        m = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError, RecursionError):
        return None
    if not isinstance(m, dict) or m.get("format") != FORMAT or not isinstance(m.get("files"), dict):
        return None
    return {MANIFEST, SIGNATURE, *(n for n in m["files"] if isinstance(n, str))}


def check_destination(out: Path, force: bool) -> None:
    """Raise InputError unless writing the bundle to `out` loses nothing of the user's."""
    if not out.exists() and not out.is_symlink():
        return
    if out.is_symlink() or not out.is_dir():
        raise InputError(f"output {out}: exists and is not a folder")
    entries = sorted(os.listdir(out))
    if not entries:
        return
    listed = _bundle_files(out)
    if listed is None:
        raise InputError(f"output {out}: folder is not empty and is not an edgevc bundle; "
                         "choose a new or empty folder")
    foreign = [e for e in entries if e not in listed or not stat.S_ISREG(os.lstat(out / e).st_mode)]
    if foreign:
        more = f" and {len(foreign) - 1} more" if len(foreign) > 1 else ""
        raise InputError(f"output {out}: holds {foreign[0]}{more}, which the bundle did not "
                         "write; move it away or choose another folder")
    if not force:
        raise InputError(f"output {out}: exists (use --force to replace it)")


def replace_folder(tmp: Path, out: Path, force: bool) -> None:
    """Move the finished bundle `tmp` to `out`; an old bundle there is swapped out in one
    rename and then removed file by file (checked again: it may have changed meanwhile)."""
    check_destination(out, force)
    if not out.exists():
        os.replace(tmp, out)
        return
    old = Path(tempfile.mkdtemp(prefix=f".{out.name}.old.", dir=out.parent))
    os.replace(out, old / "b")
    os.replace(tmp, out)
    listed = _bundle_files(old / "b") or {MANIFEST}
    for name in os.listdir(old / "b"):
        if name in listed and stat.S_ISREG(os.lstat(old / "b" / name).st_mode):
            os.unlink(old / "b" / name)
    try:
        os.rmdir(old / "b")
        os.rmdir(old)
    except OSError:  # something appeared there that is not ours: keep it
        log.warning("kept files that appeared in the old bundle while exporting: %s", old / "b")
