"""The HTML report opens offline and holds its charts; JSON/CSV outputs match the result."""

from __future__ import annotations

import json
from decimal import Decimal
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pandas as pd

from alchemiser.backtest.paging import PAGE_SIZE
from alchemiser.backtest.report import write_report
from alchemiser.backtest.result import TRADE_COLUMNS, BacktestResult, Costs, StrategyInfo


class _Collector(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.charts: list[str] = []
        self.svg_depth = 0
        self.svg_paths: dict[str, int] = {}
        self.current: str | None = None
        self.tags: list[str] = []
        self.external: list[str] = []
        self.headings: list[str] = []
        self._in_h2 = False
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        values = dict(attrs)
        for key in ("src", "href", "xlink:href"):
            target = values.get(key)
            if target and not target.startswith(("#", "data:")):  # fragment or inline data only
                self.external.append(target)
        if tag == "svg":
            self.svg_depth += 1
            if self.svg_depth == 1:
                self.current = values.get("data-chart") or "?"
                self.charts.append(self.current)
                self.svg_paths[self.current] = 0
        elif self.svg_depth and tag in ("path", "use", "rect", "text") and self.current:
            self.svg_paths[self.current] += 1
        if tag == "h2":
            self._in_h2 = True

    def handle_endtag(self, tag: str) -> None:
        if tag == "svg":
            self.svg_depth -= 1
        if tag == "h2":
            self._in_h2 = False

    def handle_data(self, data: str) -> None:
        if self._in_h2:
            self.headings.append(data.strip())
        self.text.append(data)


def _result(sessions: int = 400, trades: int = 30) -> BacktestResult:
    idx = pd.bdate_range("2019-01-02", periods=sessions)
    rng = np.random.default_rng(3)
    equity = pd.Series(10_000.0 * np.cumprod(1.0 + rng.normal(0.0006, 0.012, sessions)), index=idx)
    cash = equity * 0.01
    a = np.where(np.arange(sessions) % 60 < 30, 0.99, 0.0)
    weights = pd.DataFrame({"AAA": a, "BBB": 0.99 - a}, index=idx)
    trade_rows = [
        {
            "date": idx[i * (sessions // trades)],
            "symbol": "AAA" if i % 2 else "BBB",
            "side": "buy" if i % 2 else "sell",
            "qty": Decimal("12.5"),
            "price": Decimal("101.25"),
            "reference": Decimal("101.20"),
            "notional": Decimal("1265.625"),
            "commission": Decimal("0.5"),
            "reason": "enter",
        }
        for i in range(trades)
    ]
    return BacktestResult(
        initial_capital=Decimal(10_000),
        as_of_policy="previous_close",
        costs=Costs(spread_bps=Decimal(2), slippage_bps=Decimal(1)),
        strategies=[
            StrategyInfo("two <asset>", "tests/two.clj", Decimal("0.6"), Decimal("0.05"), idx[0].date()),
            StrategyInfo("other", "tests/other.clj", Decimal("0.4"), None, idx[0].date(), failed_sessions=2),
        ],
        requested_start=(idx[0] - pd.Timedelta(days=30)).date(),
        requested_end=idx[-1].date(),
        equity=equity,
        cash=cash,
        weights=weights,
        targets=weights,
        strategy_targets={"two <asset>": weights},
        trades=pd.DataFrame(trade_rows, columns=list(TRADE_COLUMNS)),
        contributions=pd.DataFrame({"two <asset>": [0.0003] * sessions, "other": [0.0001] * sessions}, index=idx),
        benchmark=pd.Series(np.linspace(10_000.0, 12_000.0, sessions), index=idx),
        benchmark_symbol="SPY",
        notes=["Start moved from 2018-11-20 to 2019-01-02: the first session every strategy can evaluate."],
    )


def test_html_report_is_self_contained_and_has_its_charts(tmp_path: Path) -> None:
    result = _result()
    files = write_report(result, tmp_path / "out", windows=4)
    document = files.html.read_text(encoding="utf-8")
    parser = _Collector()
    parser.feed(document)
    parser.close()
    assert parser.charts == ["equity", "drawdown", "monthly", "allocation"]
    for chart, drawn in parser.svg_paths.items():
        assert drawn > 10, f"chart {chart} is empty"
    # scripts: the one inline pager plus one inline JSON block per paged table (round trips, fills), none fetched
    assert parser.tags.count("script") == 3
    assert parser.external == []  # nothing to fetch: opens without network
    for heading in ("Settings", "Notes", "Metrics", "Equity", "Drawdown", "Monthly returns", "Allocation"):
        assert heading in parser.headings
    assert "Walk-forward windows" in parser.headings
    text = " ".join(parser.text)
    assert "Start moved from 2018-11-20 to 2019-01-02" in text
    assert f"start moved forward from {result.requested_start}" in text
    assert "two <asset>" in text  # escaped in the markup, intact as text
    assert "<asset>" not in document
    # the TCA section shows the fill model's commission as fees: 15 orders of each symbol at 0.50
    assert "Transaction costs" in parser.headings and "Fees" in text and "7.50" in text
    assert "Sharpe" in text and "Max drawdown" in text and "SPY" in text


def test_monthly_heatmap_has_one_row_per_year(tmp_path: Path) -> None:
    files = write_report(_result(sessions=600), tmp_path)
    document = files.html.read_text(encoding="utf-8")
    start = document.index('data-chart="monthly"')
    monthly = document[start : document.index("</svg>", start)]
    for year in ("2019", "2020", "2021"):
        assert f">{year}<" in monthly
    assert ">Jan<" in monthly and ">Dec<" in monthly


def test_json_and_csv_outputs_match_the_result(tmp_path: Path) -> None:
    result = _result()
    files = write_report(result, tmp_path, windows=3)
    summary = json.loads(files.summary.read_text(encoding="utf-8"))
    metrics = result.performance()
    assert summary["metrics"]["total_return"] == metrics.total_return
    assert summary["metrics"]["trades"] == 30
    assert summary["settings"]["as_of_policy"] == "previous_close"
    assert summary["settings"]["strategies"][1]["failed_sessions"] == 2
    assert len(summary["walk_forward"]) == 3
    assert summary["benchmark"]["end_equity"] == 12_000.0
    assert summary["notes"] == result.notes

    equity = pd.read_csv(files.equity, index_col="date")
    assert list(equity.columns) == ["equity", "cash", "benchmark"]
    assert len(equity) == len(result.equity)
    assert equity["equity"].iloc[-1] == round(float(result.equity.iloc[-1]), 6)
    weights = pd.read_csv(files.weights, index_col="date")
    assert list(weights.columns) == ["AAA", "BBB"]
    trades = pd.read_csv(files.trades, dtype=str)
    assert list(trades.columns) == list(TRADE_COLUMNS)
    assert trades["notional"].iloc[0] == "1265.625"  # exact decimals, not floats
    assert trades["date"].iloc[0] == "2019-01-02"


def test_long_fill_lists_are_all_in_the_html_pager_and_in_csv(tmp_path: Path) -> None:
    result = _result(sessions=2400, trades=1200)
    files = write_report(result, tmp_path)
    document = files.html.read_text(encoding="utf-8")
    start = document.index('<div class="paged" id="fills"')
    data = document[document.index(">", document.index("<script", start)) + 1 : document.index("</script>", start)]
    rows = json.loads(data)
    assert len(rows) == 1200  # every fill travels to the page, not only the latest ones
    assert rows[0][0] == "2019-01-02" and rows[-1][2] == "buy"
    assert f"The first {PAGE_SIZE} of 1200 rows; trades.csv holds all of them." in document
    assert len(pd.read_csv(files.trades)) == 1200


def test_report_without_benchmark_or_trades(tmp_path: Path) -> None:
    result = _result(trades=0)
    result.benchmark = None
    result.benchmark_symbol = None
    files = write_report(result, tmp_path)
    parser = _Collector()
    parser.feed(files.html.read_text(encoding="utf-8"))
    assert parser.charts == ["equity", "drawdown", "monthly", "allocation"]
    summary = json.loads(files.summary.read_text(encoding="utf-8"))
    assert summary["benchmark"] is None
    assert summary["metrics"]["trades"] == 0
    assert list(pd.read_csv(files.equity).columns) == ["date", "equity", "cash"]
