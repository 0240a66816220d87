"""edgevc: on-device voice-cloning text-to-speech.

    from edgevc import Voice, SynthesisConfig
    voice = Voice.load()
    voice.to_wav("Hello!", "hello.wav", config=SynthesisConfig(rate=1.1))
"""

__version__ = "0.1.0"
__all__ = ["SynthesisConfig", "Voice", "__version__"]


def __getattr__(name):
    # Imported on first use, so `import edgevc` (and `edgevc --help`) stays light.
    if name in ("Voice", "SynthesisConfig"):
        from edgevc import voice
        return getattr(voice, name)
    raise AttributeError(f"module 'edgevc' has no attribute {name!r}")
