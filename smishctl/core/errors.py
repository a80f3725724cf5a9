"""Errors that reach the user as one line and an exit code, never as a traceback."""


class SmishError(Exception):
    """A problem the user can fix. `exit_code` follows the CLI contract."""

    exit_code = 2

    def __init__(self, message: str, *, hint: str | None = None, exit_code: int | None = None):
        super().__init__(message)
        self.hint = hint
        if exit_code is not None:
            self.exit_code = exit_code

    def one_line(self) -> str:
        text = str(self)
        return f"{text} — {self.hint}" if self.hint else text


class ConfigError(SmishError):
    """Bad configuration or bad input (exit 2)."""


class DataError(SmishError):
    """A dataset that cannot be used as it is (exit 2)."""


class ModelError(SmishError):
    """A model that cannot be resolved or reached (exit 2)."""


class Interrupted(SmishError):
    """The user pressed Ctrl-C; the partial work is kept and can be resumed (exit 130)."""

    exit_code = 130
