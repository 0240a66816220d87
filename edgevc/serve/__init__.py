"""`edgevc serve`: one long-lived process that keeps the voice loaded and speaks for
Wyoming clients (Home Assistant), HTTP clients and kiosks, with a queue and barge-in.

    config.py    settings from flags and a TOML file
    speakers.py  the speakers folder: voices by name, loaded once, new files seen live
    queue.py     the speech queue (ordered, bounded), its worker thread and barge-in
    output.py    the sound card, with fallback and a status for /health
    fifo.py      a kiosk's FIFO: each line written to it is spoken
    service.py   what both protocols ask for: voices, health, speak, stream, stop
    wyoming.py   the Wyoming TCP server (the `wyoming` package's events)
    http.py      the HTTP server (aiohttp)
    app.py       runs it all in one event loop, with signals
    cli.py       the `edgevc serve` command

Nothing here is imported by `import edgevc`; the protocol libraries (edgevc[serve]) are
imported only when the server starts.
"""

DEFAULT_HTTP = "127.0.0.1:5500"
WYOMING_PORT = 10200  # the port wyoming-piper uses
