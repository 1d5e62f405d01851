"""The trade-level report end to end: the books' trades add up to the account, round_trips.csv, the paged tables,
and ``backtest --compare A B`` over saved results and symphonies."""

from __future__ import annotations

import json
import shutil
from decimal import Decimal
from pathlib import Path

import pandas as pd
import pytest

from alchemiser.backtest import Costs, EngineConfig, StrategySpec, run_files
from alchemiser.backtest.compare import differences, load_saved
from alchemiser.backtest.paging import paged_table
from alchemiser.backtest.round_trips import ROUND_TRIP_COLUMNS
from alchemiser.cli.main import main


def _paged_rows(document: str, table_id: str) -> list[list[str]]:
    start = document.index(f'<div class="paged" id="{table_id}"')
    opening = document.index(">", document.index("<script", start)) + 1
    rows: list[list[str]] = json.loads(document[opening : document.index("</script>", opening)])
    return rows


def _specs(workdir: Path) -> list[StrategySpec]:
    return [
        StrategySpec(workdir / "momentum.clj", Decimal("0.6")),
        StrategySpec(workdir / "steady.clj", Decimal("0.4")),
    ]


def test_the_books_trades_add_up_to_the_account(workdir: Path) -> None:
    costs = Costs(spread_bps=Decimal(4), slippage_bps=Decimal(1), commission_per_order=Decimal("0.5"))
    result = run_files(_specs(workdir), workdir / "bars", EngineConfig(costs=costs))
    trips = result.round_trips
    assert len(trips) > 5 and set(trips["book"]) <= {"momentum", "steady", "unattributed"}
    assert set(trips["status"]) == {"closed", "open"}  # momentum switches; steady holds to the end
    # every cent of P&L (incl. spread, slippage, commissions) is in exactly one trade
    account_pnl = Decimal(repr(float(result.equity.iloc[-1]))) - result.initial_capital
    assert float(sum(trips["net_pnl"], Decimal(0))) == pytest.approx(float(account_pnl), abs=0.01)
    assert float(sum(trips["commissions"], Decimal(0))) == pytest.approx(0.5 * len(result.trades))
    # the per-strategy equity curves add up to the account's equity on every session
    equity = result.strategy_equity()
    assert equity is not None
    assert equity.sum(axis=1).to_numpy() == pytest.approx(result.equity.to_numpy(), abs=0.01)
    stats = {s.book: s for s in result.trade_stats()}
    assert stats["all"].closed == stats["momentum"].closed + stats["steady"].closed + (
        stats["unattributed"].closed if "unattributed" in stats else 0
    )
    assert stats["steady"].time_invested == pytest.approx(1.0, abs=0.01)


def test_report_has_trade_sections_csv_and_every_trade_in_the_pager(
    workdir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out, extra_csv = workdir / "out", workdir / "elsewhere" / "trades.csv"
    args = ["backtest", "--data", str(workdir / "bars"), "--out", str(out), "--trades-csv", str(extra_csv)]
    args += ["--strategy", f"{workdir / 'momentum.clj'}=0.6", "--strategy", f"{workdir / 'steady.clj'}=0.4"]
    assert main(args) == 0, capsys.readouterr().err
    csv = pd.read_csv(out / "round_trips.csv", dtype=str, keep_default_na=False)
    assert list(csv.columns) == list(ROUND_TRIP_COLUMNS)
    assert extra_csv.read_text(encoding="utf-8") == (out / "round_trips.csv").read_text(encoding="utf-8")
    open_rows = csv[csv["status"] == "open"]
    assert len(open_rows) >= 1 and set(open_rows["closed"]) == {""}
    assert all(len(v.split(".")[1]) == 4 for v in csv["net_pnl"] if "." in v)  # money to 4 decimals

    document = (out / "report.html").read_text(encoding="utf-8")
    for heading in ("Trade analysis", "Strategy equity", "Trades (round trips)", "Fills"):
        assert f"<h2>{heading}</h2>" in document
    assert 'data-chart="strategy-equity"' in document and "Win rate" in document
    rows = _paged_rows(document, "round-trips")
    assert len(rows) == len(csv)
    assert [r[0] for r in rows] == list(csv["book"]) and rows[0][2] == csv["opened"].iloc[0]
    summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    assert [s["book"] for s in summary["trade_stats"]][-1] == "all"
    assert summary["trade_stats"][-1]["closed"] == int((csv["status"] == "closed").sum())


def test_paged_tables_cannot_be_broken_out_of() -> None:
    block = paged_table("t", ["a"], [["</script><b>x</b>"], ["<!--"]], csv_name="t.csv", page_size=1)
    data = block[block.index("application/json") : block.index("</script>")]
    assert "<b>" not in data and "<!--" not in data  # the JSON keeps "<" escaped
    assert json.loads(data[data.index(">") + 1 :]) == [["</script><b>x</b>"], ["<!--"]]
    assert "&lt;/script&gt;&lt;b&gt;x&lt;/b&gt;" in block  # the server-rendered first page is escaped
    assert "The first 1 of 2 rows; t.csv holds all of them." in block


@pytest.fixture
def saved(workdir: Path) -> tuple[Path, Path]:
    for name in ("momentum", "steady"):
        args = ["backtest", "--data", str(workdir / "bars"), "--strategy", str(workdir / f"{name}.clj")]
        assert main([*args, "--out", str(workdir / name), "--windows", "0"]) == 0
    return workdir / "momentum", workdir / "steady"


def test_compare_two_saved_results(workdir: Path, saved: tuple[Path, Path], capsys: pytest.CaptureFixture[str]) -> None:
    capsys.readouterr()
    out = workdir / "cmp"
    assert main(["backtest", "--compare", str(saved[0]), str(saved[1]), "--out", str(out)]) == 0  # no --data needed
    printed = capsys.readouterr().out
    assert "A: momentum" in printed and "B: steady" in printed and f"comparison: {out / 'compare.html'}" in printed
    a_summary = json.loads((saved[0] / "summary.json").read_text(encoding="utf-8"))
    b_summary = json.loads((saved[1] / "summary.json").read_text(encoding="utf-8"))
    table = {row["metric"]: row for row in json.loads((out / "compare.json").read_text(encoding="utf-8"))["metrics"]}
    assert table["Total return"]["a"] == a_summary["metrics"]["total_return"]
    assert table["Total return"]["b"] == b_summary["metrics"]["total_return"]
    assert table["Win rate"]["a"] == a_summary["trade_stats"][-1]["win_rate"]
    delta = b_summary["metrics"]["sharpe"] - a_summary["metrics"]["sharpe"]
    sharpe_line = next(line for line in printed.splitlines() if line.startswith("Sharpe"))
    assert sharpe_line.split()[-1] == f"{delta:+.2f}"
    document = (out / "compare.html").read_text(encoding="utf-8")
    assert 'data-chart="compare-equity"' in document
    assert "A: momentum" in document and "B: steady" in document and "<th>B − A</th>" in document


def test_compare_runs_a_symphony_against_a_saved_result(
    workdir: Path, saved: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    out = workdir / "cmp"
    args = ["backtest", "--compare", str(saved[0]), str(workdir / "steady.clj"), "--data", str(workdir / "bars")]
    assert main([*args, "--out", str(out)]) == 0, capsys.readouterr().err
    assert (out / "B" / "report.html").is_file()  # the fresh side keeps its full report
    table = {row["metric"]: row for row in json.loads((out / "compare.json").read_text(encoding="utf-8"))["metrics"]}
    b_summary = json.loads((saved[1] / "summary.json").read_text(encoding="utf-8"))
    assert table["End equity"]["b"] == pytest.approx(b_summary["metrics"]["end_equity"])  # same run, same settings


def test_compare_says_what_makes_two_results_unlike(workdir: Path, saved: tuple[Path, Path]) -> None:
    other = workdir / "other"
    shutil.copytree(saved[0], other)
    summary = json.loads((other / "summary.json").read_text(encoding="utf-8"))
    summary["settings"]["start"] = "2020-03-02"  # B starts later
    summary["settings"]["costs"]["commission_per_order"] = "1"
    (other / "summary.json").write_text(json.dumps(summary), encoding="utf-8")
    assert differences(load_saved(saved[0]), load_saved(saved[0])) == []
    notes = differences(load_saved(saved[0]), load_saved(other))
    assert len(notes) == 2
    assert notes[0].startswith("The periods differ (A 2020-01-")
    assert "A spread bps 2, slippage bps 1, commission per order 0," in notes[1]
    assert "B spread bps 2, slippage bps 1, commission per order 1," in notes[1]


@pytest.mark.parametrize(
    ("sides", "message"),
    [
        (["{dir}/momentum", "{dir}/nope.clj"], "--compare B: {dir}/nope.clj is neither a saved backtest folder"),
        (["{dir}/bars", "{dir}/momentum"], "{dir}/bars is not a saved backtest (it needs summary.json"),
        (["{dir}/momentum", "{dir}/steady.clj", "--data", None], "--data DIR is required"),
    ],
)
@pytest.mark.usefixtures("saved")
def test_compare_refuses_what_it_cannot_compare(
    workdir: Path, capsys: pytest.CaptureFixture[str], sides: list[str | None], message: str
) -> None:
    capsys.readouterr()
    args = ["backtest", "--compare", *(str(s).format(dir=workdir) for s in sides[:2]), "--out", str(workdir / "c")]
    if "--data" not in sides:
        args += ["--data", str(workdir / "bars")]
    assert main(args) == 2
    assert message.format(dir=workdir) in capsys.readouterr().err
    assert not (workdir / "c" / "compare.html").exists()
