"""Entry point of the ``alchemiser`` console script."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from alchemiser import __version__
from alchemiser.cli import backtest, config_cmds, control, dsl_cmds, ops, run, sim_exchange


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="alchemiser", description="Self-hosted symphony trading daemon.")
    parser.add_argument("--version", action="version", version=f"alchemiser {__version__}")
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for module in (run, config_cmds, control, dsl_cmds, sim_exchange, backtest, ops):
        module.register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    code: int = args.func(args)
    return code


if __name__ == "__main__":
    sys.exit(main())
