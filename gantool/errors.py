"""Errors a user can cause. The CLI turns each into one `Error: ...` line and an exit code."""


class GantoolError(Exception):
    """A runtime failure the user can act on (missing file, NaN loss, ...): exit 1."""

    exit_code = 1


class UsageError(GantoolError):
    """Bad input on the command line or in a config (unknown name, bad number, ...): exit 2."""

    exit_code = 2
