"""Shared command-line plumbing: user errors become one line on stderr and exit code 2."""
from __future__ import annotations

import functools
import logging
import sys
import typing
from collections.abc import Callable
from typing import Any, TypeVar

import click

from ground.errors import UserInputError

F = TypeVar("F", bound=Callable[..., Any])


def user_errors(func: F) -> F:
    """Turn a UserInputError raised by a command into one clear line and exit code 2 (never a traceback)."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except UserInputError as exc:
            click.echo(f"Error: {exc}", err=True)
            sys.exit(2)

    return typing.cast(F, wrapper)


class _CurrentStderrHandler(logging.StreamHandler):
    """Writes to whatever ``sys.stderr`` is at the time of the message (it may be swapped, e.g. by test runners)."""

    def __init__(self) -> None:
        super().__init__()

    @property
    def stream(self):  # noqa: ANN201 - the stream type of logging.StreamHandler
        return sys.stderr

    @stream.setter
    def stream(self, _value: object) -> None:
        """The stream is always the current stderr; assignments from the base class are ignored."""


def setup_logging(verbose: bool = False) -> None:
    """Progress and warnings go to stderr; results go to stdout. Safe to call more than once."""
    root = logging.getLogger()
    if not any(isinstance(h, _CurrentStderrHandler) for h in root.handlers):
        handler = _CurrentStderrHandler()
        handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
        root.addHandler(handler)
    root.setLevel(logging.DEBUG if verbose else logging.INFO)
