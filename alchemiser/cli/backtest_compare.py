"""``alchemiser backtest --compare A B``: two backtests side by side.

A and B are each a saved result (a folder an earlier ``alchemiser backtest --out DIR`` wrote) or a symphony file,
backtested now alone (capital weight 1) with the command's other settings; its full report goes to ``--out``/A or
``--out``/B. ``compare.html`` and ``compare.json`` go to ``--out``; the metrics table is printed.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import TextIO

from alchemiser.backtest import StrategySpec
from alchemiser.backtest.compare import ComparedRun, compare_text, from_result, load_saved, write_compare
from alchemiser.backtest.report import write_report
from alchemiser.backtest.result import BacktestResult
from alchemiser.errors import ConfigError

Simulate = Callable[[list[StrategySpec]], BacktestResult]


def _side(side: str, item: str, args: argparse.Namespace, simulate: Simulate) -> ComparedRun:
    path = Path(item)
    if path.is_dir():
        return load_saved(path)
    if not path.is_file():
        raise ConfigError([f"--compare {side}: {item} is neither a saved backtest folder nor a symphony file"])
    result = simulate([StrategySpec(path=path, capital_weight=Decimal(1))])
    write_report(result, args.out / side, windows=0)
    return from_result(result, str(path))


def run_compare(args: argparse.Namespace, out: TextIO, simulate: Simulate) -> int:
    a_item, b_item = args.compare
    a = _side("A", a_item, args, simulate)
    b = _side("B", b_item, args, simulate)
    page = write_compare(a, b, args.out)
    out.write(compare_text(a, b))
    out.write(f"comparison: {page}\n")
    return 0
