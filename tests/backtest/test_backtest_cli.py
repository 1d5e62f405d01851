"""``alchemiser backtest`` end to end: outputs, configured strategies, bad input, the progress bar on a terminal."""

from __future__ import annotations

import json
import os
import pty
import select
import subprocess
import sys
import time
from decimal import Decimal
from html.parser import HTMLParser
from pathlib import Path

import pandas as pd
import pytest

from alchemiser.backtest import EngineConfig, StrategySpec, run_files
from alchemiser.cli.backtest import engine_config
from alchemiser.cli.main import build_parser, main


class _Svgs(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.charts: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "svg":
            chart = dict(attrs).get("data-chart")
            if chart:
                self.charts.append(chart)


def test_backtest_command_writes_report_and_prints_json(workdir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = workdir / "out"
    code = main(
        [
            "backtest",
            "--strategy",
            f"{workdir / 'momentum.clj'}=0.6",
            "--strategy",
            f"{workdir / 'steady.clj'}=0.4",
            "--data",
            str(workdir / "bars"),
            "--start",
            "2020-01-01",
            "--spread-bps",
            "4",
            "--slippage-bps",
            "1",
            "--commission",
            "0.5",
            "--windows",
            "3",
            "--out",
            str(out),
            "--json",
        ]
    )
    captured = capsys.readouterr()
    assert code == 0, captured.err
    summary = json.loads(captured.out)
    assert summary["settings"]["costs"]["spread_bps"] == "4"
    assert [s["name"] for s in summary["settings"]["strategies"]] == ["momentum", "steady"]
    assert [s["capital_weight"] for s in summary["settings"]["strategies"]] == ["0.6", "0.4"]
    assert len(summary["walk_forward"]) == 3
    assert summary["benchmark"] is not None
    assert summary["notes"][0].startswith("Start moved from 2020-01-01")
    assert set(summary["metrics"]["contributions"]) == {"momentum", "steady"}
    for name in ("report.html", "summary.json", "equity.csv", "weights.csv", "targets.csv", "trades.csv"):
        assert (out / name).is_file(), name
    assert set(summary["files"]) >= {"html", "trades", "round_trips"}
    parser = _Svgs()
    parser.feed((out / "report.html").read_text(encoding="utf-8"))
    assert parser.charts == ["equity", "drawdown", "monthly", "allocation", "strategy-equity"]
    trades = pd.read_csv(out / "trades.csv")
    assert (trades["commission"] == 0.5).all()
    assert summary["metrics"]["trades"] == len(trades)


def test_backtest_command_uses_the_configured_strategies_and_weights(
    workdir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = workdir / "alchemiser.toml"
    config.write_text(
        f'[[strategies]]\nfile = "{workdir / "momentum.clj"}"\nweight = 0.25\n'
        f'[[strategies]]\nfile = "{workdir / "steady.clj"}"\nweight = 0.75\n',
        encoding="utf-8",
    )
    code = main(["backtest", "--config", str(config), "--data", str(workdir / "bars"), "--out", str(workdir / "o")])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert "strategies: momentum (25%), steady (75%)" in captured.out
    assert "report: " in captured.out
    summary = json.loads((workdir / "o" / "summary.json").read_text(encoding="utf-8"))
    assert [s["capital_weight"] for s in summary["settings"]["strategies"]] == ["0.25", "0.75"]


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--data", "/nonexistent/bars"], "is not a directory"),
        (["--strategy", "{dir}/momentum.clj=0.5", "--strategy", "{dir}/steady.clj"], "to every strategy or to none"),
        (["--strategy", "{dir}/momentum.clj=1.5"], "weight must be in (0, 1]"),
        (["--strategy", "{dir}/momentum.clj=0.7", "--strategy", "{dir}/steady.clj=0.7"], "weights sum to 1.4 > 1"),
        (["--strategy", "{dir}/nope.clj"], "nope.clj does not exist"),
        (["--strategy", "{dir}/momentum.clj", "--start", "2021-01-01", "--end", "2020-01-01"], "is before --start"),
        (["--strategy", "{dir}/momentum.clj", "--start", "2031-01-01"], "no sessions in the data between"),
    ],
)
def test_backtest_command_rejects_bad_input(
    workdir: Path, capsys: pytest.CaptureFixture[str], extra: list[str], message: str
) -> None:
    args = ["backtest", "--out", str(workdir / "o")]
    args += [a.format(dir=workdir) for a in extra]
    if "--data" not in extra:
        args += ["--data", str(workdir / "bars")]
    assert main(args) == 2
    assert message in capsys.readouterr().err
    assert not (workdir / "o" / "report.html").exists()


def test_bad_numbers_are_refused_by_the_parser(workdir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    for bad in (["--capital", "-5"], ["--spread-bps", "abc"], ["--windows", "-1"], ["--start", "2020-13-01"]):
        with pytest.raises(SystemExit) as exc:
            main(["backtest", "--data", str(workdir / "bars"), *bad])
        assert exc.value.code == 2
    assert "must be > 0" in capsys.readouterr().err


def test_progress_is_reported_through_the_run(workdir: Path) -> None:
    calls: list[tuple[int, int]] = []
    result = run_files(
        [StrategySpec(workdir / "momentum.clj")],
        workdir / "bars",
        EngineConfig(),
        progress=lambda done, total: calls.append((done, total)),
    )
    total = len(result.equity)
    assert calls[0] == (1, total)
    assert calls[-1] == (total, total)
    assert [d for d, _ in calls] == sorted(d for d, _ in calls)


def test_progress_bar_is_drawn_on_a_terminal_and_not_in_a_pipe(workdir: Path) -> None:
    args = [
        sys.executable,
        "-m",
        "alchemiser.cli.main",
        "backtest",
        "--strategy",
        str(workdir / "momentum.clj"),
        "--data",
        str(workdir / "bars"),
        "--out",
        str(workdir / "o"),
    ]
    piped = subprocess.run(args, capture_output=True, text=True, timeout=120, check=False)
    assert piped.returncode == 0, piped.stderr
    assert "sessions" not in piped.stderr  # no bar when stderr is not a terminal

    master, slave = pty.openpty()
    env = {**os.environ, "COLUMNS": "100", "TERM": "xterm"}
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=slave, env=env)
    os.close(slave)
    seen = b""
    deadline = time.monotonic() + 120
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([master], [], [], 0.5)
            if ready:
                try:
                    chunk = os.read(master, 4096)
                except OSError:
                    break
                if not chunk:
                    break
                seen += chunk
            elif proc.poll() is not None:
                break
        assert proc.wait(timeout=60) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
        if proc.stdout is not None:
            proc.stdout.close()
        os.close(master)
    assert b"backtest" in seen
    assert b"sessions" in seen


def test_engine_config_maps_costs_and_takes_planner_and_risk_limits_from_the_daemon_settings() -> None:
    parser = build_parser()
    args = parser.parse_args(
        ["backtest", "--data", ".", "--strategy", "x.clj", "--spread-bps", "3", "--commission-per-share", "0.005"]
    )
    config = engine_config(args, None)
    assert config.costs.spread_bps == Decimal(3)
    assert config.costs.commission_per_share == Decimal("0.005")
    assert config.planner.min_trade_notional == Decimal(5)  # the daemon's default risk settings
    assert config.planner.cash_buffer_pct == Decimal("0.01")
    assert config.risk is not None and config.risk.drawdown_halt_pct is None  # backtest shape limits only
    strict = engine_config(parser.parse_args(["backtest", "--data", ".", "--risk", "config", "--min-trade", "0"]), None)
    assert strict.risk is not None and strict.risk.drawdown_halt_pct == Decimal("0.25")
    assert strict.planner.min_trade_notional == Decimal(0)
    assert (
        engine_config(parser.parse_args(["backtest", "--data", ".", "--benchmark", "none"]), None).benchmark_symbol
        is None
    )


def test_the_cli_does_not_load_matplotlib_until_a_report_is_written() -> None:
    # every `alchemiser` command (the daemon included) imports the backtest module to register its parser
    code = "import sys, alchemiser.cli.main; print('matplotlib' in sys.modules)"
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True)
    assert proc.stdout.strip() == "False"


def test_backtest_command_passes_policy_and_fill_time_through(
    workdir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["backtest", "--strategy", str(workdir / "momentum.clj"), "--data", str(workdir / "bars")]
    args += ["--as-of-policy", "live", "--fill-at", "decision", "--windows", "0", "--out", str(workdir / "o"), "--json"]
    assert main(args) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["settings"]["as_of_policy"] == "live"
    assert summary["walk_forward"] == []
    assert any("15 minutes before the close" in note for note in summary["notes"])
    assert summary["files"]["html"].endswith("report.html")


def test_default_costs_match_the_simulated_exchange_so_a_backtest_is_never_free() -> None:
    config = engine_config(build_parser().parse_args(["backtest", "--data", ".", "--strategy", "x.clj"]), None)
    assert config.costs.spread_bps == Decimal(2)
    assert config.costs.slippage_bps == Decimal(1)
