"""Errors that carry a message meant for the user: the CLI prints them without a traceback."""


class RvcbenchError(Exception):
    """A problem the user can fix (bad input, missing file, unknown name)."""


class DatasetError(RvcbenchError):
    """The dataset failed validation; the message lists every problem found."""


class UnknownNameError(RvcbenchError):
    """A model, scorer or dataset name that no registry knows; the message lists the known ones."""


class MissingDependencyError(RvcbenchError):
    """An optional stack or weight file is not installed; the message says how to get it."""
