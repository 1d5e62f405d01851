"""CLI commands (being built; see the issue that owns this module)."""

from __future__ import annotations

import argparse
from typing import Any


def register(subparsers: Any) -> None:
    """Register this module's subcommands (none yet)."""
    del subparsers


def _unused(args: argparse.Namespace) -> int:
    return 2
