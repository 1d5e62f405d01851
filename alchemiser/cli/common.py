"""Pieces every command module shares: exit codes, the ``--config`` argument, configuration problems on stderr.

Light on purpose (argparse and the error types only): each command module imports it at parse time.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from alchemiser.errors import ConfigError

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


def nonneg_int(text: str) -> int:
    """An argument that must be an integer ≥ 0 (``--workers``, ``--windows``)."""
    try:
        value = int(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"not an integer: {text!r}") from exc
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be ≥ 0, got {text}")
    return value


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


def print_problems(error: ConfigError) -> None:
    print("alchemiser: invalid configuration:", file=sys.stderr)
    for problem in error.problems:
        print(f"  - {problem}", file=sys.stderr)
