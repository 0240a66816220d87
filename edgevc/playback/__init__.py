"""Playback: getting synthesized audio out, at the pace its sink takes it.

    player.py      the synthesis thread, the ring buffer between it and the sink, Ctrl-C
    ringbuffer.py  the bounded, preallocated FIFO of samples (its size from the profile)
    sinks.py       where audio goes: a WAV file, raw PCM on a stream, a PyAudio device
    portaudio.py   starting PortAudio without its native noise on stderr

Above the runtime's audio I/O (edgevc.audio) and beside the synthesizer, which it never
imports: the player takes any iterable of chunks. PyAudio (edgevc[device]) is imported only
when a device is opened.
"""
