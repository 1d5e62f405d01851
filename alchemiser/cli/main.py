"""Entry point of the ``alchemiser`` console script.

Each subcommand lives in a module of :mod:`alchemiser.cli` exposing ``register(subparsers)``. Only the module(s) of
the command being run are imported: ``alchemiser run`` must not pay for the backtester's imports (pandas-heavy
report code) at every daemon start, and a symphony worker process spawned by the daemon re-imports this module as
its ``__main__``. Without a known command (``--help``, ``--version``, a typo) every module is registered, so help
and error messages list all commands.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from alchemiser import __version__

# Registration order of the subcommand modules (``ops`` extends ``explain`` from ``dsl_cmds`` and ``run``).
MODULES: tuple[str, ...] = ("run", "config_cmds", "control", "dsl_cmds", "sim_exchange", "backtest", "research", "ops")

# command → the modules that define it, in registration order.
COMMANDS: dict[str, tuple[str, ...]] = {
    "run": ("run", "ops"),  # ops adds --real-speed / --speed
    "check-config": ("config_cmds",),
    "kill": ("control",),
    "resume": ("control",),
    "status": ("control",),
    "signals": ("dsl_cmds",),
    "explain": ("dsl_cmds", "ops"),
    "sim-exchange": ("sim_exchange",),
    "backtest": ("backtest",),
    "sweep": ("research",),
    "rebalance": ("ops",),
}


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The parser for ``command`` only when it is known, else for every command."""
    parser = argparse.ArgumentParser(prog="alchemiser", description="Self-hosted symphony trading daemon.")
    parser.add_argument("--version", action="version", version=f"alchemiser {__version__}")
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    names = COMMANDS.get(command, MODULES) if command is not None else MODULES
    for name in names:
        importlib.import_module(f"alchemiser.cli.{name}").register(subparsers)
    return parser


def command_of(argv: Sequence[str]) -> str | None:
    """The subcommand named in ``argv`` (the first argument that is not an option), if any."""
    return next((arg for arg in argv if not arg.startswith("-")), None)


def main(argv: Sequence[str] | None = None) -> int:
    arguments = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser(command_of(arguments))
    args = parser.parse_args(arguments)
    code: int = args.func(args)
    return code


if __name__ == "__main__":
    sys.exit(main())
