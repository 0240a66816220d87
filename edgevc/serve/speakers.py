"""The speakers folder: every `NAME.npy` in it is a voice called NAME.

Files are loaded once and kept while their size and modification time stay the same; a
file added, replaced or removed is seen at the next request, without a restart. A voice
name is only ever looked up among the folder's own entries (never joined onto a path), and
an entry that is a link leading out of the folder is refused, so no request can make the
server read a file elsewhere.
"""

from __future__ import annotations

import logging
import os
import re
import threading
from pathlib import Path

import numpy as np

from edgevc.errors import InputError

log = logging.getLogger(__name__)

DEFAULT_VOICE = "default"
NAME_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")
MAX_CACHED = 1024  # speaker vectors are 1 KB; a bound so a folder of junk cannot grow memory


class UnknownVoice(InputError):
    pass


class SpeakerLibrary:
    """Voices by name: "default" (the bundle's voice) and the folder's speaker files."""

    def __init__(self, folder: str | os.PathLike | None, load, default_name: str = DEFAULT_VOICE):
        """load: path -> vector, raising InputError for a bad file (Voice.load_speaker)."""
        self.folder = Path(folder).resolve() if folder else None
        self._load = load
        self.default_name = default_name
        self._cache: dict[str, tuple[tuple, np.ndarray | None, str | None]] = {}
        self._lock = threading.Lock()

    def _entries(self) -> dict[str, Path]:
        """NAME -> path for every NAME.npy directly in the folder."""
        if self.folder is None:
            return {}
        try:
            names = os.listdir(self.folder)
        except OSError as e:
            log.warning("speakers folder %s: %s", self.folder, e.strerror or e)
            return {}
        out = {}
        for fn in names:
            stem, ext = os.path.splitext(fn)
            if ext == ".npy" and NAME_RE.fullmatch(stem) and stem != self.default_name:
                out[stem] = self.folder / fn
        return out

    def _get_file(self, name: str, path: Path) -> np.ndarray:
        try:
            real = path.resolve(strict=True)
            st = real.stat()
        except OSError:
            raise UnknownVoice(f"voice {name!r}: not found") from None
        if real.parent != self.folder or not real.is_file():
            raise InputError(f"voice {name!r}: its file leads outside the speakers folder")
        key = (st.st_ino, st.st_size, st.st_mtime_ns)
        with self._lock:
            hit = self._cache.get(name)
        if hit is not None and hit[0] == key:
            vec, err = hit[1], hit[2]
        else:
            try:
                vec, err = self._load(real), None
            except InputError as e:
                vec, err = None, str(e).replace(str(real), path.name)
                log.warning("voice %r: %s", name, err)
            with self._lock:
                if len(self._cache) >= MAX_CACHED and name not in self._cache:
                    self._cache.pop(next(iter(self._cache)))
                self._cache[name] = (key, vec, err)
        if vec is None:
            raise InputError(f"voice {name!r}: unusable ({err})")
        return vec

    def get(self, name: str | None) -> np.ndarray | None:
        """The speaker vector of voice `name`; None for the default voice. InputError (or
        UnknownVoice) when there is no usable voice of that name."""
        if name is None or name == self.default_name:
            return None
        if not isinstance(name, str) or not NAME_RE.fullmatch(name):
            raise InputError(f"voice {str(name)[:80]!r}: not a voice name (letters, digits, "
                               "'.', '_' and '-'; see GET /voices)")
        path = self._entries().get(name)
        if path is None:
            raise UnknownVoice(f"voice {name!r}: not found (see GET /voices)")
        return self._get_file(name, path)

    def names(self) -> list[str]:
        """The default voice first, then every usable speaker file, sorted."""
        usable = []
        for name, path in sorted(self._entries().items()):
            try:
                self._get_file(name, path)
                usable.append(name)
            except InputError:
                pass
        with self._lock:  # forget files that are gone
            entries = set(self._entries())
            for gone in [n for n in self._cache if n not in entries]:
                del self._cache[gone]
        return [self.default_name, *usable]

    @property
    def cached(self) -> int:
        return len(self._cache)
