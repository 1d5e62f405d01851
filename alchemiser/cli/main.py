"""Entry point of the ``alchemiser`` console script.

Start-up follows the import graph: this module imports nothing but argparse and the version. The table below names
every command with its one-line summary and the :mod:`alchemiser.cli` modules that define it (each exposes
``register(subparsers)``). ``alchemiser --help``, ``--version``, no command or a typo are answered from the table
alone, without importing any command module. A known command imports only its own module(s): ``status`` must not
pay for pandas, ``run`` not for the backtester's report code, and a symphony worker process spawned by the daemon
re-imports this module as its ``__main__``.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence
from dataclasses import dataclass

from alchemiser import __version__


@dataclass(frozen=True)
class Command:
    summary: str
    """The ``help=`` its module registers (shown by ``alchemiser --help``; a test keeps the two equal)."""
    modules: tuple[str, ...]
    """The modules that define it, in registration order (``ops`` extends ``run`` and ``explain``)."""


# In the order ``alchemiser --help`` lists them.
COMMANDS: dict[str, Command] = {
    "run": Command("run the trading daemon in the foreground", ("run", "ops")),
    "check-config": Command("validate the configuration and exit", ("config_cmds",)),
    "kill": Command("engage the kill switch of a running daemon (latched until resume)", ("control",)),
    "resume": Command("clear the kill switch of a running daemon", ("control",)),
    "status": Command("show the status of a running daemon", ("control",)),
    "signals": Command("evaluate symphonies on historical bars and print their allocations", ("dsl_cmds",)),
    "explain": Command("print the decision trace of a symphony on one date", ("explain_cmd", "ops")),
    "sim-exchange": Command("run the simulated exchange (Alpaca REST + trade_updates on one port)", ("sim_exchange",)),
    "backtest": Command("simulate symphonies over historical bars and write an HTML/JSON/CSV report", ("backtest",)),
    "sweep": Command("parameter sweep of symphonies (grid/random) on Dask, with overfitting statistics", ("research",)),
    "backup": Command("copy the store (consistent while the daemon runs)", ("backup_cmds",)),
    "restore": Command("replace the store with a backup (the daemon must be stopped)", ("backup_cmds",)),
    "parity": Command("live-vs-backtest gap per session, its attribution and TCA", ("parity_cmd",)),
    "rebalance": Command("run a decision cycle now on a running daemon (risk rules and market hours apply)", ("ops",)),
}


# Packages a command never uses that a dependency would load anyway: made unimportable for that process. pandas
# imports pyarrow whenever it is installed (about 40 MiB resident; without it pandas keeps strings in Python objects,
# the same values); only ``sweep`` (research's Parquet store) uses pyarrow, and ``run`` is the long-lived process.
NOT_LOADED: dict[str, tuple[str, ...]] = {"run": ("pyarrow",)}


def _root_parser() -> tuple[argparse.ArgumentParser, argparse._SubParsersAction[argparse.ArgumentParser]]:
    parser = argparse.ArgumentParser(prog="alchemiser", description="Self-hosted symphony trading daemon.")
    parser.add_argument("--version", action="version", version=f"alchemiser {__version__}")
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    return parser, subparsers


def overview_parser() -> argparse.ArgumentParser:
    """Every command by name and summary only (no options, no command module imported): help and usage errors."""
    parser, subparsers = _root_parser()
    for name, command in COMMANDS.items():
        subparsers.add_parser(name, help=command.summary)
    return parser


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The full parser of ``command`` when it is known, else of every command (imports their modules)."""
    parser, subparsers = _root_parser()
    wanted = [COMMANDS[command]] if command in COMMANDS else list(COMMANDS.values())
    modules = dict.fromkeys(module for entry in wanted for module in entry.modules)
    for name in sorted(modules, key=_registration_order):
        importlib.import_module(f"alchemiser.cli.{name}").register(subparsers)
    return parser


def _registration_order(module: str) -> int:
    # ``ops`` extends what ``run`` and ``explain_cmd`` register, so it goes last.
    return 1 if module == "ops" else 0


def command_of(argv: Sequence[str]) -> str | None:
    """The subcommand named in ``argv`` (the first argument that is not an option), if any."""
    return next((arg for arg in argv if not arg.startswith("-")), None)


def main(argv: Sequence[str] | None = None) -> int:
    arguments = list(sys.argv[1:] if argv is None else argv)
    command = command_of(arguments)
    for package in NOT_LOADED.get(command or "", ()):
        sys.modules.setdefault(package, None)  # type: ignore[arg-type]  # None in sys.modules: import raises
    parser = build_parser(command) if command in COMMANDS else overview_parser()
    args = parser.parse_args(arguments)
    code: int = args.func(args)
    return code


if __name__ == "__main__":
    sys.exit(main())
