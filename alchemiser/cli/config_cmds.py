"""``alchemiser check-config``: validate the configuration without starting (exit 0, or 2 listing every problem).

It runs the same checks as ``alchemiser run`` before trading (:func:`alchemiser.services.preflight.preflight`). That
module parses the symphonies, which imports the DSL and numpy, so it is imported when the command runs, not when the
CLI builds its parser (``--help`` and the control commands stay light: ``tests/foundation/test_foundation_imports``).
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from alchemiser.cli.common import EXIT_OK, EXIT_USAGE, add_config_arguments, overrides_from, print_problems
from alchemiser.config import load_settings
from alchemiser.errors import ConfigError


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("check-config", help="validate the configuration and exit")
    add_config_arguments(parser)
    parser.add_argument("--mode", choices=("sim", "paper", "live"), help="validate as if run with this mode")
    parser.add_argument("--show", action="store_true", help="print the effective configuration (secrets masked)")
    parser.set_defaults(func=check_config_command)


def check_config_command(args: argparse.Namespace) -> int:
    try:
        settings = load_settings(args.config, overrides_from(args))
    except ConfigError as exc:
        print_problems(exc)
        return EXIT_USAGE
    from alchemiser.services.preflight import preflight  # start-up time: see the module docstring

    report = preflight(settings)
    for warning in report.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    if report.problems:
        print_problems(ConfigError(report.problems))
        return EXIT_USAGE
    strategies = ", ".join(f"{s.file} ({s.weight:g})" for s in settings.strategies)
    print(f"configuration OK: mode={settings.mode}, http={settings.http.host}:{settings.http.port}, ", end="")
    print(f"store={settings.store.path}, strategies: {strategies}")
    if settings.control_token is None:
        print("note: no control_token configured, so the control API (kill/resume) is disabled")
    if args.show:
        print(json.dumps(settings.summary(), indent=2, default=str))
    return EXIT_OK
