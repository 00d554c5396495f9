"""Errors of the listening tests: the CLI prints them without a traceback."""

from rvcbench.errors import RvcbenchError


class ListeningTestError(RvcbenchError):
    """A listening test cannot be exported or read (no shared pairs, a missing clip, a bad test.json)."""


class RatingsFileError(ListeningTestError):
    """A ratings CSV is malformed or does not belong to the test; the message names the file and the row."""
