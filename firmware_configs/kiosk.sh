#!/bin/sh
# edgevc kiosk: speak each line written to a FIFO, in the enrolled voice.
# Run by edgevc-kiosk.service; settings come from the environment:
#   EDGEVC_FIFO     the FIFO to read (default /run/edgevc/say)
#   EDGEVC_SPEAKER  the speaker file made by `edgevc enroll` (required)
#   EDGEVC_ARGS     extra options for `edgevc speak` (optional)
set -eu

FIFO="${EDGEVC_FIFO:-/run/edgevc/say}"
SPEAKER="${EDGEVC_SPEAKER:?set EDGEVC_SPEAKER to the speaker .npy made by edgevc enroll}"

if [ ! -p "$FIFO" ]; then
    rm -f "$FIFO"
    # Owner reads, group writes: members of the service's group may make it talk.
    mkfifo -m 0620 "$FIFO"
fi

# Open the FIFO read-write (<>): the shell then holds a writer itself, so edgevc never sees
# end-of-file when a client closes, and one long-lived process (models loaded once, audio
# device open) speaks line after line. If it dies, systemd restarts the service.
# shellcheck disable=SC2086  # EDGEVC_ARGS is a list of options, split on purpose
exec edgevc speak - --speaker "$SPEAKER" ${EDGEVC_ARGS:-} <>"$FIFO"
