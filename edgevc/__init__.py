"""edgevc: on-device voice-cloning text-to-speech."""

__version__ = "0.1.0"
