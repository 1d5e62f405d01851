"""``alchemiser parity [--since DATE] [--format table|json|csv]``: the live-vs-backtest gap per session and its
attribution, read from the store directly (like ``backup``: no daemon needed; SQLite WAL lets it read while the
daemon runs). The table ends with the cumulative parts and the costliest orders."""

from __future__ import annotations

import argparse
import asyncio
import csv
import json
import sys
from datetime import date
from pathlib import Path
from typing import Any

from alchemiser.cli.common import add_config_arguments, print_problems
from alchemiser.config.control_access import load_control_access
from alchemiser.errors import ConfigError, StoreError
from alchemiser.parity.parts import PARTS
from alchemiser.services.parity import parity_view
from alchemiser.store.database import Store


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("parity", help="live-vs-backtest gap per session, its attribution and TCA")
    add_config_arguments(parser)
    parser.add_argument("--since", type=date.fromisoformat, help="first session (YYYY-MM-DD)")
    parser.add_argument("--format", choices=("table", "json", "csv"), default="table")
    parser.set_defaults(func=parity_command)


async def _read(path: Path, since: date | None) -> dict[str, Any]:
    store = await Store.open(path)
    try:
        return await parity_view(store, since=since)
    finally:
        await store.close()


def parity_command(args: argparse.Namespace) -> int:
    try:
        path = load_control_access(args.config).store_path
    except ConfigError as exc:
        print_problems(exc)
        return 2
    if not Path(path).exists():
        print(f"alchemiser: no store at {path}", file=sys.stderr)
        return 1
    try:
        view = asyncio.run(_read(Path(path), args.since))
    except StoreError as exc:
        print(f"alchemiser: {exc}", file=sys.stderr)
        return 1
    if args.format == "json":
        print(json.dumps(view, indent=2))
    elif args.format == "csv":
        writer = csv.writer(sys.stdout)
        writer.writerow(["session", "live_equity", "shadow_equity", "gap", "session_gap", "data_drift", *PARTS])
        for s in view["sessions"]:
            writer.writerow(
                [s["session"], s["live_equity"], s["shadow_equity"], s["gap"], s["session_gap"], s["data_drift"]]
                + [s["parts"][p] for p in PARTS]
            )
    else:
        print(_table(view))
    return 0


def _table(view: dict[str, Any]) -> str:
    head = f"{'session':<11}{'live':>13}{'shadow':>13}{'gap':>11}{'today':>10}" + "".join(f"{p:>12}" for p in PARTS)
    lines = [head]
    for s in view["sessions"]:
        drift = "  DATA DRIFT" if s["data_drift"] else ""
        lines.append(
            f"{s['session']:<11}{s['live_equity']:>13}{s['shadow_equity']:>13}{s['gap']:>11}{s['session_gap']:>10}"
            + "".join(f"{s['parts'][p]:>12}" for p in PARTS)
            + drift
        )
    lines.append(f"{'cumulative':<58}" + "".join(f"{view['cumulative'][p]:>12}" for p in PARTS))
    lines.append(f"({view['fees_note']})")
    worst = view["tca"]["worst"]
    if worst:
        lines.append("worst orders (cost vs decision price):")
        for o in worst:
            lines.append(
                f"  {o['session']} {o['side']:<4} {o['symbol']:<6} {o['filled_qty']}/{o['planned_qty']}"
                f" cost {o['cost_vs_decision']} ({o['bps_vs_decision']} bps), step {o['filled_step']}"
            )
    return "\n".join(lines)
