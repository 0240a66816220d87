"""Errors the CLI turns into one line on stderr.

InputError means the user handed us something wrong (text, audio, speaker file, bundle,
profile, option): exit code 2. EdgevcError is anything else we diagnosed: exit code 1.
"""


class EdgevcError(Exception):
    exit_code = 1


class InputError(EdgevcError):
    exit_code = 2
