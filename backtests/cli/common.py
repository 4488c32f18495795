"""Shared command-line plumbing: one line and exit code 2 for user errors, exit 130 for Ctrl-C, ``-h`` and
``--version`` on every command, defaults shown in help, an Examples section, and logging on stderr.

This module imports only click and the project's error types, so that ``--help`` stays fast: commands import the
heavy libraries (pandas, backtrader, torch) inside their bodies.
"""
from __future__ import annotations

import functools
import logging
import signal
import sys
import typing
from collections.abc import Callable, Sequence
from importlib.metadata import PackageNotFoundError, version
from typing import Any, TypeVar

import click

from ground.errors import UserInputError

F = TypeVar("F", bound=Callable[..., Any])

EXIT_USER_ERROR = 2
EXIT_INTERRUPTED = 130
CONTEXT = {"help_option_names": ["-h", "--help"], "show_default": True, "max_content_width": 110}

# Libraries whose DEBUG and INFO chatter is not progress a person wants, even with -v.
QUIET_LOGGERS = ("matplotlib", "PIL", "fontTools", "urllib3", "filelock", "httpx", "httpcore", "huggingface_hub",
                 "transformers", "torch", "onnx", "onnxruntime", "onnxscript", "asyncio", "numba", "h5py",
                 "sentence_transformers", "peewee", "curl_cffi", "yfinance")


def package_version() -> str:
    try:
        return version("bt-hybrid")
    except PackageNotFoundError:  # running from a source tree that is not installed
        return "unknown"


def examples(*lines: str) -> str:
    """An ``Examples:`` epilog that click prints as written (``\\b`` stops it re-wrapping the lines)."""
    return "\b\nExamples:\n" + "\n".join(f"  {line}" for line in lines)


def _fail(message: str, code: int) -> typing.NoReturn:
    click.echo(message, err=True)
    sys.exit(code)


class _Friendly:
    """Mixin for click commands: user errors, Ctrl-C and click's own usage errors each end in one line."""

    def main(self, args: Sequence[str] | None = None, prog_name: str | None = None, complete_var: str | None = None,
             standalone_mode: bool = True, **extra: Any) -> Any:
        if signal.getsignal(signal.SIGINT) is not signal.default_int_handler and \
                getattr(signal.getsignal(signal.SIGINT), "__module__", "") == "backtests.cli":
            signal.signal(signal.SIGINT, signal.default_int_handler)  # from here Ctrl-C unwinds and cleans up
        try:
            return super().main(args, prog_name, complete_var, standalone_mode=False, **extra)  # type: ignore[misc]
        except click.exceptions.Exit as exc:
            sys.exit(exc.exit_code)
        except click.ClickException as exc:
            exc.show()
            sys.exit(exc.exit_code)
        except UserInputError as exc:
            _fail(f"Error: {exc}", EXIT_USER_ERROR)
        except (KeyboardInterrupt, click.Abort):
            _fail("Interrupted: nothing half-written was kept.", EXIT_INTERRUPTED)
        except BrokenPipeError:  # `bt-report list | head`
            sys.stderr.close()
            sys.exit(0)


class Command(_Friendly, click.Command):
    """A click command with the project's error handling."""


class Group(_Friendly, click.Group):
    """A click group whose sub-commands share the project's error handling, ``-h`` and shown defaults."""

    command_class = click.Command
    group_class = type


def command(**kwargs: Any) -> Callable[[F], click.Command]:
    """``@click.command`` with -h, --version, shown defaults and the project's error handling."""
    kwargs.setdefault("context_settings", CONTEXT)

    def decorate(func: F) -> click.Command:
        func = click.version_option(package_version(), "--version", prog_name="bt-hybrid")(func)
        return click.command(cls=Command, **kwargs)(func)

    return decorate


def group(**kwargs: Any) -> Callable[[F], click.Group]:
    """``@click.group`` with -h, --version, shown defaults and the project's error handling."""
    kwargs.setdefault("context_settings", CONTEXT)

    def decorate(func: F) -> click.Group:
        func = click.version_option(package_version(), "--version", prog_name="bt-hybrid")(func)
        return click.group(cls=Group, **kwargs)(func)

    return decorate


def user_errors(func: F) -> F:
    """Turn a UserInputError raised by a command into one clear line and exit code 2 (never a traceback).

    Kept for sub-commands invoked directly (tests call them through CliRunner); the group does the same.
    """

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except UserInputError as exc:
            _fail(f"Error: {exc}", EXIT_USER_ERROR)

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


class _EpochFilter(logging.Filter):
    """Drops per-epoch INFO lines (trainer, fine-tuning) unless -v: a person wants folds and steps, not epochs."""

    def __init__(self) -> None:
        super().__init__()
        self.verbose = False

    def filter(self, record: logging.LogRecord) -> bool:
        if self.verbose or record.levelno >= logging.WARNING:
            return True
        return "epoch" not in str(record.msg).lower()


def setup_logging(verbose: bool = False) -> None:
    """Progress and warnings go to stderr; results go to stdout. Safe to call more than once.

    ``verbose`` shows the project's DEBUG lines (epochs, retries); third-party libraries stay at WARNING either way.
    """
    root = logging.getLogger()
    handler = next((h for h in root.handlers if isinstance(h, _CurrentStderrHandler)), None)
    if handler is None:
        handler = _CurrentStderrHandler()
        handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
        handler.addFilter(_EpochFilter())
        root.addHandler(handler)
    for flt in handler.filters:
        if isinstance(flt, _EpochFilter):
            flt.verbose = verbose
    root.setLevel(logging.DEBUG if verbose else logging.INFO)
    for name in QUIET_LOGGERS:
        logging.getLogger(name).setLevel(logging.WARNING)
