"""Pieces every command module shares: exit codes, the ``--config`` argument, configuration problems on stderr,
argparse types for numbers and dates (each refusal names the value and what it must be).

Light on purpose (argparse, the standard library and the error types only): each command module imports it at
parse time.
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any, TypeVar

from alchemiser.errors import ConfigError

N = TypeVar("N", int, Decimal)

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
"""Bad usage or an invalid configuration (the same code the daemon exits with on a bad configuration)."""


def add_config_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--config",
        type=Path,
        default=None,
        help="TOML configuration file (default: config/alchemiser.toml when it exists)",
    )


def add_cluster_arguments(parser: argparse.ArgumentParser, what: str) -> None:
    """``--workers`` and ``--scheduler``: where the Dask tasks of ``what`` run."""
    parser.add_argument(
        "--workers",
        type=nonneg_int,
        default=None,
        metavar="N",
        help=f"worker processes of the embedded Dask cluster for {what} (default: one per core; 0: in this process)",
    )
    parser.add_argument(
        "--scheduler", metavar="URL", help=f"run {what} on an existing Dask scheduler, e.g. tcp://HOST:8786"
    )


def overrides_from(args: argparse.Namespace) -> dict[str, Any]:
    overrides: dict[str, Any] = {}
    if getattr(args, "mode", None):
        overrides["mode"] = args.mode
    return overrides


def fail(message: str) -> int:
    """Print ``alchemiser: error: MESSAGE`` on stderr; the usage exit code."""
    print(f"alchemiser: error: {message}", file=sys.stderr)
    return EXIT_USAGE


def print_problems(error: ConfigError) -> None:
    print("alchemiser: invalid configuration:", file=sys.stderr)
    for problem in error.problems:
        print(f"  - {problem}", file=sys.stderr)


def date_arg(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"not a date (YYYY-MM-DD): {text!r}") from exc


def decimal_arg(text: str) -> Decimal:
    try:
        value = Decimal(text)
    except InvalidOperation as exc:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from exc
    if not value.is_finite():
        raise argparse.ArgumentTypeError(f"not a finite number: {text!r}")
    return value


def int_arg(text: str) -> int:
    try:
        return int(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"not an integer: {text!r}") from exc


def _bounded(value: N, text: str, ok: bool, bound: str) -> N:
    if not ok:
        raise argparse.ArgumentTypeError(f"must be {bound}, got {text}")
    return value


def positive_decimal(text: str) -> Decimal:
    value = decimal_arg(text)
    return _bounded(value, text, value > 0, "> 0")


def nonneg_decimal(text: str) -> Decimal:
    value = decimal_arg(text)
    return _bounded(value, text, value >= 0, "≥ 0")


def nonneg_int(text: str) -> int:
    value = int_arg(text)
    return _bounded(value, text, value >= 0, "≥ 0")


def positive_int(text: str) -> int:
    value = int_arg(text)
    return _bounded(value, text, value >= 1, "≥ 1")
