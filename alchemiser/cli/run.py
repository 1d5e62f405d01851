"""``alchemiser run``: start the daemon in the foreground (exit 0 after a graceful stop, 2 on invalid config).

``run --fresh`` (sim mode with the embedded exchange only) first archives the store and the exchange's saved state
into ``archive/`` beside them, so the run starts a new simulated account; paper and live stores are never touched.
"""

from __future__ import annotations

import argparse
import asyncio
import secrets
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from alchemiser.cli.common import add_config_arguments, overrides_from, print_problems
from alchemiser.config import Settings, load_settings
from alchemiser.daemon.daemon import EXIT_CONFIG, EXIT_FAILURE, Daemon
from alchemiser.daemon.sim_mode import embedded
from alchemiser.daemon.sim_world import archive_world
from alchemiser.errors import ConfigError, StoreError
from alchemiser.logging import Redactor, configure_logging


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("run", help="run the trading daemon in the foreground")
    add_config_arguments(parser)
    parser.add_argument("--mode", choices=("sim", "paper", "live"), help="override the configured mode")
    parser.add_argument(
        "--fresh",
        action="store_true",
        help="sim: archive the store and the simulated exchange's state, then start a new simulated account",
    )
    parser.add_argument(
        "--log-format",
        choices=("auto", "console", "json"),
        help="log lines as coloured console text or JSON (default: logging.format, auto = console on a terminal)",
    )
    parser.add_argument(
        "--log-level", choices=("DEBUG", "INFO", "WARNING", "ERROR"), type=str.upper, help="override logging.level"
    )
    parser.set_defaults(func=run_command)


def run_command(args: argparse.Namespace) -> int:
    overrides = overrides_from(args) | log_overrides(args)
    login = None
    try:
        settings = load_settings(args.config, overrides)
        if settings.mode == "sim" and settings.control_token is None:
            # Like Jupyter: a token for this run, so a newcomer gets the dashboard at once. It is an override, so a
            # SIGHUP reload keeps it; the redactor knows it, so it never reaches a log line.
            login = secrets.token_urlsafe(24)
            overrides["control_token"] = login
            settings = load_settings(args.config, overrides)
    except ConfigError as exc:
        print_problems(exc)
        return EXIT_CONFIG
    if getattr(args, "fresh", False):
        code = start_fresh(settings)
        if code is not None:
            return code
    redactor = Redactor(settings.secret_values())
    configure_logging(settings.logging, redactor)
    announce = None if login is None else _login_link(login)
    daemon = Daemon(settings, config_path=args.config, overrides=overrides, redactor=redactor, on_started=announce)
    return asyncio.run(daemon.run())


def log_overrides(args: argparse.Namespace) -> dict[str, Any]:
    """``--log-format``/``--log-level`` as configuration overrides (a SIGHUP reload keeps them)."""
    chosen = {"format": getattr(args, "log_format", None), "level": getattr(args, "log_level", None)}
    present = {key: value for key, value in chosen.items() if value}
    return {"logging": present} if present else {}


def _login_link(token: str) -> Callable[[str], None]:
    def announce(url: str) -> None:
        print(
            f"\n  Dashboard (this run's token; set control_token to choose your own):\n"
            f"      {url}/login?token={token}\n",
            file=sys.stderr,
            flush=True,
        )

    return announce


def start_fresh(settings: Settings) -> int | None:
    """Archive the sim store and exchange state; an exit code when that is refused, else ``None`` (go on)."""
    if not embedded(settings):
        print(
            f"alchemiser: --fresh starts a new embedded simulated account; mode {settings.mode!r}"
            + (" with an external exchange (alpaca.trading_url)" if settings.mode == "sim" else "")
            + " is left untouched",
            file=sys.stderr,
        )
        return EXIT_CONFIG
    try:
        folder = archive_world(settings.store.path, datetime.now(UTC))
    except (StoreError, OSError) as exc:
        print(f"alchemiser: cannot archive the sim store: {exc}", file=sys.stderr)
        return EXIT_FAILURE
    if folder is not None:
        print(f"alchemiser: archived the previous simulated account to {folder}", file=sys.stderr)
    return None
