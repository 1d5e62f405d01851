"""``alchemiser explain PATH --asof D --data DIR [--format text|json]``: the decision trace of a symphony on one date.

Every if on the active path with its operand values and branch, filter rankings, weights, and what the rebalance
rule says about the next session. A module of its own so that ``signals`` does not import the trading calendar
(exchange-calendars and pandas). ``explain --last`` (from a running daemon) is added by :mod:`alchemiser.cli.ops`.
Exit status: 0 on success, 2 on bad input (unreadable or invalid symphony, missing data folder).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from alchemiser.cli.common import date_arg, fail
from alchemiser.data import CsvBarSource, PriceMatrix
from alchemiser.dsl import load_symphony, trace
from alchemiser.dsl.evaluate import used_symbols
from alchemiser.errors import AlchemiserError
from alchemiser.trading.rebalance_outlook import outlook_after


def register(subparsers: Any) -> None:
    explain = subparsers.add_parser(
        "explain",
        help="print the decision trace of a symphony on one date",
        description="Show the active path of a symphony on a date: conditions, operand values, rankings, weights.",
    )
    explain.add_argument("path", type=Path, metavar="PATH", help="symphony .clj file")
    explain.add_argument("--asof", type=date_arg, required=True, metavar="YYYY-MM-DD")
    explain.add_argument("--data", type=Path, required=True, metavar="DIR", help="folder of <SYMBOL>.csv bar files")
    explain.add_argument("--format", choices=("text", "json"), default="text")
    explain.set_defaults(func=run_explain)


def run_explain(args: argparse.Namespace) -> int:
    try:
        symphony = load_symphony(args.path)
        source = CsvBarSource(args.data)
        prices: PriceMatrix = source.prices(used_symbols(symphony), end=args.asof)
        result = trace(symphony, prices, args.asof)
    except AlchemiserError as exc:
        return fail(str(exc))
    outlook = outlook_after(symphony.rebalance_rule, args.asof)  # the same words as /status and the dashboard
    if args.format == "json":
        sys.stdout.write(json.dumps({**result.to_dict(), "rebalance": outlook.to_json()}, indent=1) + "\n")
    else:
        sys.stdout.write(result.render() + "\n")
        next_day = "-" if outlook.next is None else outlook.next.isoformat()
        sys.stdout.write(f"rebalance: {outlook.rule}; next rebalance session: {next_day} ({outlook.summary})\n")
    return 0
