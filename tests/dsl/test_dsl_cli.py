"""``alchemiser signals`` / ``alchemiser explain`` end to end (in-process, real files in tmp_path)."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path

import pytest

from alchemiser.cli.main import main

HEADER = "date,open,high,low,close,adj_close,volume\n"
DATES = ["2024-01-02", "2024-01-03", "2024-01-04", "2024-01-05", "2024-01-08", "2024-01-09"]


@pytest.fixture
def data(tmp_path: Path) -> Path:
    folder = tmp_path / "bars"
    folder.mkdir()
    series = {
        "UP": [10, 11, 12, 13, 14, 15],
        "DOWN": [15, 14, 13, 12, 11, 10],
        "A": [5, 5, 5, 5, 5, 5],
        "B": [7, 7, 7, 7, 7, 7],
    }
    for sym, closes in series.items():
        rows = "".join(f"{d},1,1,1,{c},{c},100\n" for d, c in zip(DATES, closes, strict=True))
        (folder / f"{sym}.csv").write_text(HEADER + rows)
    return folder


@pytest.fixture
def strategy(tmp_path: Path) -> Path:
    path = tmp_path / "mine.clj"
    path.write_text(
        """(defsymphony "Mine" {:rebalance-threshold 0.05}
             (if (> (rsi "UP" {:window 2}) 50)
                 [(weight-equal [(asset "A") (asset "B")])]
                 [(asset "B")]))"""
    )
    return path


@pytest.fixture
def other(tmp_path: Path) -> Path:
    path = tmp_path / "other.clj"
    path.write_text(
        '(defsymphony "Other" {} (filter (cumulative-return {:window 1}) (select-top 1) [(asset "UP") (asset "DOWN")]))'
    )
    return path


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_signals_asof_json(capsys: pytest.CaptureFixture[str], data: Path, strategy: Path) -> None:
    code, out, _ = run(
        capsys, "signals", "--strategy", str(strategy), "--asof", "2024-01-05", "--data", str(data), "--format", "json"
    )
    assert code == 0
    assert [json.loads(line) for line in out.splitlines()] == [
        {"strategy": "mine", "asof": "2024-01-05", "status": "allocation", "allocation": {"A": 0.5, "B": 0.5}}
    ]


def test_signals_range_json_has_errors_and_skips_non_trading_days(
    capsys: pytest.CaptureFixture[str], data: Path, strategy: Path, other: Path
) -> None:
    code, out, err = run(
        capsys, "signals", "--strategy", str(strategy), "--strategy", str(other),
        "--start", "2024-01-01", "--end", "2024-01-07", "--data", str(data), "--format", "json",
    )  # fmt: skip
    assert code == 0
    rows = [json.loads(line) for line in out.splitlines()]
    assert [(r["strategy"], r["asof"]) for r in rows] == [
        (s, d) for d in DATES[:4] for s in ("mine", "other")
    ]  # 01-01 (holiday in the data), 01-06/07 (weekend) skipped
    first = rows[0]
    assert "rsi(UP, window=2) is unavailable on 2024-01-02" in first["error"] and "allocation" not in first
    # dates before the backtestable start (too few bars of UP for rsi 2) are reported as such, not as errors
    assert first["status"] == "before_start" and first["backtestable_start"] == "2024-01-04"
    assert rows[2]["status"] == "before_start" and rows[2]["asof"] == "2024-01-03"
    assert rows[4] == {
        "strategy": "mine",
        "asof": "2024-01-04",
        "status": "allocation",
        "allocation": {"A": 0.5, "B": 0.5},
    }
    assert rows[5] == {"strategy": "other", "asof": "2024-01-04", "status": "allocation", "allocation": {"UP": 1.0}}
    assert "summary: 5 allocation(s), 3 before the backtestable start, 0 fail-closed" in err
    for r in rows:
        if "allocation" in r:
            assert sum(r["allocation"].values()) == pytest.approx(1.0)


def test_signals_table(capsys: pytest.CaptureFixture[str], data: Path, strategy: Path) -> None:
    code, out, _ = run(
        capsys,
        "signals",
        "--strategy",
        str(strategy),
        "--start",
        "2024-01-03",
        "--end",
        "2024-01-05",
        "--data",
        str(data),
        "--format",
        "table",
    )
    assert code == 0
    lines = out.splitlines()
    assert lines[0].split() == ["date", "strategy", "allocation"]
    assert "ERROR: rsi(UP, window=2) is unavailable" in lines[1]
    assert lines[3].split() == ["2024-01-05", "mine", "A", "50.00%,", "B", "50.00%"]


def test_signals_asof_non_trading_day_prints_nothing(
    capsys: pytest.CaptureFixture[str], data: Path, strategy: Path
) -> None:
    code, out, err = run(
        capsys, "signals", "--strategy", str(strategy), "--asof", "2024-01-06", "--data", str(data), "--format", "json"
    )
    assert code == 0 and out == "" and "no trading days" in err


def test_signals_merges_configured_strategies(
    *,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    data: Path,
    strategy: Path,
    other: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.chdir(tmp_path)
    config = tmp_path / "alchemiser.toml"
    config.write_text(
        f'mode = "sim"\n[[strategies]]\nfile = "{strategy.name}"\nweight = 0.25\n'
        f'[[strategies]]\nfile = "{other}"\nweight = 0.75\n'
    )
    code, out, _ = run(
        capsys, "signals", "--config", str(config), "--asof", "2024-01-05", "--data", str(data), "--format", "json"
    )
    assert code == 0, out
    rows = [json.loads(line) for line in out.splitlines()]
    assert rows[-1] == {
        "strategy": "merged",
        "asof": "2024-01-05",
        "status": "allocation",
        "allocation": {"A": pytest.approx(0.125), "B": pytest.approx(0.125), "UP": pytest.approx(0.75)},
    }
    code, out, _ = run(
        capsys, "signals", "--config", str(config), "--asof", "2024-01-02", "--data", str(data), "--format", "json"
    )
    merged = json.loads(out.splitlines()[-1])
    assert merged["strategy"] == "merged" and merged["error"].startswith("mine: rsi(UP, window=2) is unavailable")


@pytest.mark.parametrize(
    ("argv", "fragment"),
    [
        (["--start", "2024-01-02"], "--start needs --end"),
        (["--asof", "2024-01-02", "--end", "2024-01-03"], "--end goes with --start"),
        (["--start", "2024-01-05", "--end", "2024-01-02"], "is after --end"),
    ],
)
def test_signals_bad_dates(
    capsys: pytest.CaptureFixture[str], data: Path, strategy: Path, argv: list[str], fragment: str
) -> None:
    code, _, err = run(capsys, "signals", "--strategy", str(strategy), *argv, "--data", str(data))
    assert code == 2 and fragment in err


def test_signals_bad_symphony_and_missing_data(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, data: Path, strategy: Path
) -> None:
    bad = tmp_path / "bad.clj"
    bad.write_text('(defsymphony "x" {} (weight-equal [(asset "A")]')
    code, _, err = run(capsys, "signals", "--strategy", str(bad), "--asof", "2024-01-05", "--data", str(data))
    assert code == 2 and "bad.clj:1:21: '(' is never closed" in err
    code, _, err = run(
        capsys, "signals", "--strategy", str(strategy), "--asof", "2024-01-05", "--data", str(tmp_path / "none")
    )
    assert code == 2 and "does not exist" in err
    with pytest.raises(SystemExit):
        main(["signals", "--strategy", str(strategy), "--asof", "2024-13-01", "--data", str(data)])
    capsys.readouterr()


def test_explain_text_and_json(capsys: pytest.CaptureFixture[str], data: Path, strategy: Path) -> None:
    code, out, _ = run(capsys, "explain", str(strategy), "--asof", "2024-01-05", "--data", str(data))
    assert code == 0
    assert "Mine as of 2024-01-05" in out and "rsi(UP, window=2) > 50: 100.0000 vs 50 → then" in out
    code, out, _ = run(
        capsys, "explain", str(strategy), "--asof", "2024-01-05", "--data", str(data), "--format", "json"
    )
    doc = json.loads(out)
    assert doc["allocation"] == {"A": 0.5, "B": 0.5}
    assert doc["steps"][0]["condition"]["result"] is True
    code, _, err = run(capsys, "explain", str(strategy), "--asof", "2024-01-06", "--data", str(data))
    assert code == 2 and "not a trading date" in err


def test_console_script_runs_defaults_on_real_data(repo_root: Path, shared_bars_dir: Path) -> None:
    """The installed entry point, default strategies, real bars: one JSON line per strategy."""
    argv = [
        sys.executable,
        "-m",
        "alchemiser.cli.main",
        "signals",
        "--asof",
        "2025-06-02",
        "--data",
        str(shared_bars_dir),
        "--format",
        "json",
    ]
    for name in ("nuclear", "tecl", "klm"):
        argv[4:4] = ["--strategy", str(repo_root / "config" / "strategies" / f"{name}.clj")]
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=120, check=False, cwd=repo_root)
    assert proc.returncode == 0, proc.stderr
    rows = [json.loads(line) for line in proc.stdout.splitlines()]
    assert {r["strategy"] for r in rows} == {"nuclear", "tecl", "klm"}
    nuclear = next(r for r in rows if r["strategy"] == "nuclear")
    assert nuclear["allocation"] == {
        "LEU": pytest.approx(1 / 3),
        "OKLO": pytest.approx(1 / 3),
        "SMR": pytest.approx(1 / 3),
    }


class _Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_goes_to_stderr_only_when_it_is_a_tty(data: Path, strategy: Path) -> None:
    from alchemiser.cli.dsl_cmds import _signals
    from alchemiser.cli.main import build_parser

    argv = ["signals", "--strategy", str(strategy), "--start", "2023-01-01", "--end", "2024-01-09"]
    args = build_parser().parse_args([*argv, "--data", str(data), "--format", "json"])
    out, err = io.StringIO(), _Tty()
    assert _signals(args, out, err) == 0
    assert err.getvalue()  # the progress bar was drawn on stderr
    rows = [json.loads(line) for line in out.getvalue().splitlines()]  # stdout stays pure JSON lines
    assert len(rows) == 6
    quiet = io.StringIO()
    assert _signals(args, io.StringIO(), quiet) == 0
    assert quiet.getvalue().startswith("summary:")  # no progress bar, only the summary line


def test_signals_exits_non_zero_when_the_data_has_none_of_the_symbols(
    capsys: pytest.CaptureFixture[str], data: Path, tmp_path: Path
) -> None:
    ghost = tmp_path / "ghost.clj"
    ghost.write_text('(defsymphony "g" {} (if (> (rsi "ITA" {:window 5}) 50) [(asset "KTOS")] [(asset "JOBY")]))')
    code, _, err = run(capsys, "signals", "--strategy", str(ghost), "--asof", "2024-01-05", "--data", str(data))
    assert code == 2
    assert "has none of the symbols the strategies need: ITA, JOBY, KTOS" in err


def test_explain_says_when_the_symphony_next_rebalances(
    capsys: pytest.CaptureFixture[str], data: Path, tmp_path: Path
) -> None:
    monthly = tmp_path / "monthly.clj"
    monthly.write_text('(defsymphony "m" {:rebalance-frequency :monthly} (weight-equal [(asset "A") (asset "B")]))')
    code, out, _ = run(capsys, "explain", str(monthly), "--asof", "2024-01-05", "--data", str(data), "--format", "json")
    assert code == 0
    assert json.loads(out)["rebalance"] == {
        "rule": "monthly",
        "next": "2024-02-01",
        "summary": "monthly: next rebalance 2024-02-01 (first session of the month)",
        "basis": "monthly: first session of each month",
        "headline": "2024-02-01",
    }
    code, out, _ = run(capsys, "explain", str(monthly), "--asof", "2024-01-05", "--data", str(data))
    assert "rebalance: monthly; next rebalance session: 2024-02-01" in out
    corridor = tmp_path / "corridor.clj"
    corridor.write_text('(defsymphony "c" {:rebalance-threshold 0.05} (weight-equal [(asset "A") (asset "B")]))')
    code, out, _ = run(capsys, "explain", str(corridor), "--asof", "2024-01-05", "--data", str(data))
    assert "rebalance: corridor 0.05; next rebalance session: -" in out
    assert "threshold: every session, rebalances when drift > 0.05" in out
