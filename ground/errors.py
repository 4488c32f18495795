"""Errors a user can cause and fix: the CLI prints them as one line and exits with code 2."""
from __future__ import annotations


class UserInputError(Exception):
    """Bad input that the user can fix: says what went wrong, where, and how to fix it.

    Every package raises a subclass of this for user-caused failures so that the command line can
    answer with one clear line instead of a traceback.
    """

    def __init__(self, what: str, where: str = "", fix: str = "") -> None:
        self.what, self.where, self.fix = what, where, fix
        parts = [what]
        if where:
            parts.append(f"(at {where})")
        if fix:
            parts.append(f"- {fix}")
        super().__init__(" ".join(parts))


class DataError(UserInputError):
    """Price or news data that breaks the data contract (bad CSV, NaN close, unparsable date...)."""


class SourceUnavailableError(UserInputError):
    """A data source could not serve the request (offline, empty answer, no such symbol)."""


class ConfigError(UserInputError):
    """A configuration key or value is wrong: ``where`` names the file or the flag it came from."""


class InvalidValue(ConfigError):
    """A config dataclass refuses the value of one of its fields.

    Raised from ``__post_init__`` with the field's name, so that the config loader can say which key was wrong and
    where that key came from (a preset file, a flag or ``--set``).
    """

    def __init__(self, field: str, rule: str, fix: str = "") -> None:
        self.field, self.rule = field, rule
        super().__init__(f"{field}: {rule}", fix=fix)
