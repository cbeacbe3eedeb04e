"""Errors a user can cause: reported as one line that says what to do."""


class LightupError(Exception):
    """A problem with user input (a flag, a config value, a file, an env id).

    The CLI prints ``error: <message>`` on one line and exits with code 2; ``--debug`` shows the traceback.
    """

    def __init__(self, message: str):
        assert "\n" not in message, "user-facing errors are one line"
        super().__init__(message)


def error_line(err: BaseException, text: str | None = None) -> str:
    """``err``'s type and the first line of its message (or of ``text``), at most 300 characters: how a
    user's code (an env, a policy) failing is named in a one-line error."""
    text = str(err).strip() if text is None else text
    return f"{type(err).__name__}: {text.splitlines()[0][:300]}" if text else type(err).__name__


class EnvRaised(LightupError):
    """An env raised while episodes were played (`lightup.training.agent.play_episodes`); the env's own
    exception is the cause (``--debug`` shows its traceback)."""
