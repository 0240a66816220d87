"""edgevc: on-device voice-cloning text-to-speech.

    from edgevc import Voice, SynthesisConfig
    voice = Voice.load()
    voice.to_wav("Hello!", "hello.wav", config=SynthesisConfig(rate=1.1))
"""

from pathlib import Path as _Path

__version__ = "0.1.0"
__all__ = ["SynthesisConfig", "Voice", "__version__"]

# In a source tree the toolchain's folders sit beside this package (export/, quantize/,
# firmware_configs/: DESIGN.md's layout), and an install maps them to edgevc.export,
# edgevc.quantize and edgevc.firmware_configs (pyproject.toml's package-dir). Searching the
# tree's root for subpackages gives a plain clone, run from its root, the same names
# without an install. The runtime imports none of them (tests/test_layers.py).
_tree = _Path(__file__).resolve().parent.parent
if (_tree / "pyproject.toml").is_file() and (_tree / "export" / "__init__.py").is_file():
    __path__.append(str(_tree))


def __getattr__(name):
    # Imported on first use, so `import edgevc` (and `edgevc --help`) stays light.
    if name in ("Voice", "SynthesisConfig"):
        from edgevc import voice
        return getattr(voice, name)
    raise AttributeError(f"module 'edgevc' has no attribute {name!r}")
