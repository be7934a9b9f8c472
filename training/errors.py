"""The one exception type users see: a single clear line, printed by the CLI with exit code 2."""


class ReadoutError(Exception):
    """A problem with the user's input (config, data, model reference, CLI arguments).

    The CLI prints ``str(error)`` on one line of stderr and exits with code 2; no traceback.
    """
