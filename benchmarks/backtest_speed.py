"""Backtest wall time and peak RSS over the whole common history of ``../shared/data/bars``.

Measures, each in its own subprocess (so peak RSS belongs to that run alone):

* every reference symphony of ``../shared/reference/strategies`` alone (target < 5 s each);
* the three default strategies together, capital-weighted 0.30 / 0.50 / 0.20 (target < 5 s);
* (separately) the time to write the HTML/JSON/CSV report of each run;
* a naive per-date loop on one strategy: for each of 100 sessions, evaluate the symphony on the bars truncated at
  the previous close and take the last row (what a non-vectorised backtester does), then extrapolate to the whole
  history and compare with the vectorised run.

Run: ``.venv/bin/python benchmarks/backtest_speed.py`` (``--one PATH[,PATH…]`` runs a single measurement).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from decimal import Decimal
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("ALCHEMISER_SHARED_DIR", REPO.parent / "shared")).resolve()
BARS = SHARED / "data" / "bars"
REFERENCE = SHARED / "reference" / "strategies"
DEFAULTS = [
    (REPO / "config" / "strategies" / "nuclear.clj", "0.30"),
    (REPO / "config" / "strategies" / "tecl.clj", "0.50"),
    (REPO / "config" / "strategies" / "klm.clj", "0.20"),
]
NAIVE_DATES = 100


def _peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def measure(items: list[tuple[Path, str]]) -> dict[str, object]:
    """One backtest run of ``items`` (path, capital weight): timings split into load/evaluate and loop."""
    from alchemiser.backtest import EngineConfig, StrategySpec, run_backtest
    from alchemiser.backtest.report import write_report
    from alchemiser.backtest.runner import closes_frame, evaluate_strategies, load_strategies, missing_symbols
    from alchemiser.data import CsvBarSource

    started = time.perf_counter()
    specs = [StrategySpec(path, Decimal(weight)) for path, weight in items]
    source = CsvBarSource(BARS)
    strategies = load_strategies(specs)
    parsed = time.perf_counter()
    signals, prices, eval_seconds = evaluate_strategies(strategies, source, None, ["SPY"])
    evaluated = time.perf_counter()
    closes = closes_frame(prices, missing_symbols(strategies, source))
    result = run_backtest(signals, closes, EngineConfig())
    done = time.perf_counter()
    with tempfile.TemporaryDirectory() as out:
        write_report(result, Path(out), windows=5)
    reported = time.perf_counter()
    return {
        "strategies": [p.name for p, _ in items],
        "sessions": len(result.equity),
        "start": result.start.isoformat(),
        "end": result.end.isoformat(),
        "trades": len(result.trades),
        "parse_s": round(parsed - started, 3),
        "load_and_evaluate_s": round(evaluated - parsed, 3),
        "evaluate_s": round(eval_seconds, 3),
        "loop_s": round(done - evaluated, 3),
        "total_s": round(done - started, 3),
        "report_s": round(reported - done, 3),
        "peak_rss_mib": round(_peak_rss_mib(), 1),
    }


def naive(path: Path) -> dict[str, object]:
    """Per-date evaluation on truncated bars for ``NAIVE_DATES`` sessions, extrapolated to the whole run."""
    import numpy as np

    from alchemiser.backtest import EngineConfig, StrategySpec, run_backtest
    from alchemiser.backtest.runner import closes_frame, evaluate_strategies, load_strategies, missing_symbols
    from alchemiser.backtest.signals import StrategySignals
    from alchemiser.data import CsvBarSource
    from alchemiser.dsl import evaluate

    source = CsvBarSource(BARS)
    strategies = load_strategies([StrategySpec(path)])
    signals, prices, _ = evaluate_strategies(strategies, source, None, ["SPY"])
    closes = closes_frame(prices, missing_symbols(strategies, source))
    vector_started = time.perf_counter()
    full = run_backtest(signals, closes, EngineConfig())
    vector_loop = time.perf_counter() - vector_started
    sessions = list(full.equity.index)
    window = sessions[-NAIVE_DATES:]
    before = sessions[-NAIVE_DATES - 1 : -1]
    symphony = strategies[0].symphony
    rows: list[dict[str, float] | None] = []
    started = time.perf_counter()
    for previous in before:
        evaluation = evaluate(symphony, prices, end=previous.date())
        rows.append(evaluation.last.allocation)
    eval_seconds = time.perf_counter() - started
    # the same accounting loop on the naive rows (decided row = previous session's evaluation: policy "live" here)
    naive_signals = StrategySignals.from_rows(strategies[0].name, window, rows)
    loop_started = time.perf_counter()
    run_backtest([naive_signals], closes.loc[window[0] : window[-1]], EngineConfig(as_of_policy="live"))
    loop_seconds = time.perf_counter() - loop_started
    per_date = (eval_seconds + loop_seconds) / NAIVE_DATES
    vector_eval = time.perf_counter()
    evaluate(symphony, prices)
    vector_eval = time.perf_counter() - vector_eval
    agree = sum(
        1
        for session, row in zip(window, rows, strict=True)
        if row is not None
        and np.allclose(
            [full.strategy_targets[strategies[0].name].loc[session].get(s, 0.0) for s in row],
            list(row.values()),
        )
    )
    return {
        "strategy": path.name,
        "dates": NAIVE_DATES,
        "naive_seconds": round(eval_seconds + loop_seconds, 3),
        "naive_per_date_ms": round(per_date * 1000, 2),
        "whole_history_sessions": len(sessions),
        "naive_extrapolated_s": round(per_date * len(sessions), 1),
        "vectorised_evaluate_s": round(vector_eval, 3),
        "vectorised_loop_s": round(vector_loop, 3),
        "speedup": round(per_date * len(sessions) / (vector_eval + vector_loop), 1),
        "naive_rows_matching_vectorised": f"{agree}/{sum(r is not None for r in rows)}",
    }


def _subprocess(args: list[str]) -> dict[str, object]:
    proc = subprocess.run(
        [sys.executable, __file__, *args], capture_output=True, text=True, timeout=600, check=False, cwd=REPO
    )
    if proc.returncode != 0:
        return {"args": args, "error": proc.stderr.strip().splitlines()[-1] if proc.stderr.strip() else "failed"}
    result: dict[str, object] = json.loads(proc.stdout.strip().splitlines()[-1])
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--one", help="comma-separated PATH[:WEIGHT] items: measure one run and print JSON")
    parser.add_argument("--naive", type=Path, help="run the naive per-date comparison on one symphony")
    args = parser.parse_args()
    if args.one:
        items = []
        for item in args.one.split(","):
            path, _, weight = item.partition(":")
            items.append((Path(path), weight or "1"))
        print(json.dumps(measure(items)))
        return 0
    if args.naive:
        print(json.dumps(naive(args.naive)))
        return 0
    if not BARS.is_dir():
        print(f"shared bars not found at {BARS}", file=sys.stderr)
        return 1
    print(f"bars: {BARS}")
    print(
        f"{'run':<34}{'sessions':>9}{'trades':>8}{'parse':>8}{'load+eval':>10}{'loop':>8}{'total':>8}"
        f"{'report':>8}{'RSS MiB':>9}"
    )
    for path in sorted(REFERENCE.glob("*.clj")):
        row = _subprocess(["--one", str(path)])
        _print_row(path.stem, row)
    row = _subprocess(["--one", ",".join(f"{p}:{w}" for p, w in DEFAULTS)])
    _print_row("defaults (nuclear+tecl+klm)", row)
    naive_row = _subprocess(["--naive", str(DEFAULTS[0][0])])
    print("naive per-date loop:", json.dumps(naive_row))
    return 0


def _print_row(label: str, row: dict[str, object]) -> None:
    if "error" in row:
        print(f"{label:<34} ERROR {row['error']}")
        return
    print(
        f"{label[:33]:<34}{row['sessions']:>9}{row['trades']:>8}{row['parse_s']:>8}{row['load_and_evaluate_s']:>10}"
        f"{row['loop_s']:>8}{row['total_s']:>8}{row['report_s']:>8}{row['peak_rss_mib']:>9}"
    )


if __name__ == "__main__":
    sys.exit(main())
