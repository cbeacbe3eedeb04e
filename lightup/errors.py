"""Errors a user can cause: reported as one line that says what to do."""


class LightupError(Exception):
    """A problem with user input (a flag, a config value, a file, an env id).

    The CLI prints ``error: <message>`` on one line and exits with code 2; ``--debug`` shows the traceback.
    """

    def __init__(self, message: str):
        assert "\n" not in message, "user-facing errors are one line"
        super().__init__(message)
