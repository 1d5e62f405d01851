"""``alchemiser run``: start the daemon in the foreground (exit 0 after a graceful stop, 2 on invalid config)."""

from __future__ import annotations

import argparse
import asyncio
from typing import Any

from alchemiser.cli.common import add_config_arguments, overrides_from, print_problems
from alchemiser.config import load_settings
from alchemiser.daemon.daemon import EXIT_CONFIG, Daemon
from alchemiser.errors import ConfigError
from alchemiser.logging import Redactor, configure_logging


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("run", help="run the trading daemon in the foreground")
    add_config_arguments(parser)
    parser.add_argument("--mode", choices=("sim", "paper", "live"), help="override the configured mode")
    parser.set_defaults(func=run_command)


def run_command(args: argparse.Namespace) -> int:
    overrides = overrides_from(args)
    try:
        settings = load_settings(args.config, overrides)
    except ConfigError as exc:
        print_problems(exc)
        return EXIT_CONFIG
    redactor = Redactor(settings.secret_values())
    configure_logging(settings.logging, redactor)
    daemon = Daemon(settings, config_path=args.config, overrides=overrides, redactor=redactor)
    return asyncio.run(daemon.run())
