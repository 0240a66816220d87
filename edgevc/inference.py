"""What running a model means, below both the text front end and the runtime.

The text layer (the G2P graph) and the runtime (acoustic model, vocoder, speaker encoder)
both run graphs; only the runtime knows how sessions are made (edgevc/runtime/backends.py:
providers, fallbacks, TFLite). The text layer receives a session, or a factory that makes
one, through these interfaces and never imports the runtime.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

import numpy as np


class InferenceSession(Protocol):
    """What the runtime and the text front end need from any backend."""

    provider: str
    input_names: list[str]
    output_names: list[str]

    def run(self, feeds: dict[str, np.ndarray]) -> list[np.ndarray]: ...


class SessionFactory(Protocol):
    """Makes a session for a model (a file, or its bytes; `name` names it in messages) on
    the first of `backends` that works. edgevc.runtime.backends.create_session is the one
    the runtime passes."""

    def __call__(self, model_path: str | bytes, backends: Sequence[str], threads: int, *,
                 name: str | None = None) -> InferenceSession: ...
