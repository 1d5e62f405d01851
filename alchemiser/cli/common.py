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


def overrides_from(args: argparse.Namespace) -> dict[str, Any]:
    overrides: dict[str, Any] = {}
    if getattr(args, "mode", None):
        overrides["mode"] = args.mode
    return overrides


def print_problems(error: ConfigError) -> None:
    print("alchemiser: invalid configuration:", file=sys.stderr)
    for problem in error.problems:
        print(f"  - {problem}", file=sys.stderr)
