"""Leaderboards on Dask: the same table in this process, on a real LocalCluster and on an external scheduler."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pandas as pd
import pytest
from distributed import Client

from alchemiser.backtest import EngineConfig
from alchemiser.cli.main import main
from alchemiser.data import CsvBarSource, LoadedBarSource
from alchemiser.errors import DataError
from alchemiser.research.leaderboard import leaderboard, symphony_files

ROOT = Path(__file__).resolve().parents[2]
STRATEGIES = ROOT / "config" / "strategies"
START, END = dt.date(2023, 1, 3), dt.date(2023, 6, 30)
CONFIG = EngineConfig(start=START, end=END, benchmark_symbol="SPY")
BAD_BARS = "date,open,high,low,close,adj_close,volume\n2023-01-03,1,1,1,oops,1,100\n"
USES_BAD = '(defsymphony "uses bad" {:rebalance-frequency :daily} (asset "BAD"))'
NO_DATA = '(defsymphony "no data" {:rebalance-frequency :daily} (asset "ZZZZQ"))'


@pytest.fixture(scope="module")
def board(tmp_path_factory: pytest.TempPathFactory, shared_bars_dir: Path) -> tuple[list[Path], Path]:
    """Three real symphonies, one unreadable, one on a malformed bar file, one on a symbol without data."""
    root = tmp_path_factory.mktemp("board")
    bars = root / "bars"
    bars.mkdir()
    for csv in shared_bars_dir.glob("*.csv"):
        (bars / csv.name).symlink_to(csv)
    (bars / "BAD.csv").write_text(BAD_BARS, encoding="utf-8")
    folder = root / "symphonies"
    folder.mkdir()
    for clj in STRATEGIES.glob("*.clj"):
        (folder / clj.name).write_text(clj.read_text(encoding="utf-8"), encoding="utf-8")
    (folder / "broken.clj").write_text("(defsymphony", encoding="utf-8")
    (folder / "uses_bad.clj").write_text(USES_BAD, encoding="utf-8")
    (folder / "no_data.clj").write_text(NO_DATA, encoding="utf-8")
    return symphony_files([folder]), bars


@pytest.fixture(scope="module")
def in_process(board: tuple[list[Path], Path]) -> pd.DataFrame:
    files, bars = board
    seen: list[tuple[int, int]] = []
    frame = leaderboard(files, bars, CONFIG, workers=0, progress=lambda done, total: seen.append((done, total)))
    assert seen[0] == (1, 6) and seen[-1] == (6, 6)  # the unreadable file is counted before any backtest
    return frame


def test_each_file_is_a_row_and_failures_say_why(in_process: pd.DataFrame) -> None:
    rows = in_process.set_index("strategy")
    assert list(in_process["rank"]) == [1, 2, 3, 4, 5, 6]
    assert set(in_process["strategy"][:3]) == {"klm", "nuclear", "tecl"}
    assert in_process["sharpe"][:3].is_monotonic_decreasing and in_process["sharpe"][:3].notna().all()
    assert "never closed" in rows.loc["broken", "error"]
    assert "BAD.csv" in rows.loc["uses_bad", "error"] and "'oops'" in rows.loc["uses_bad", "error"]
    assert "ZZZZQ" in rows.loc["no_data", "error"]
    assert rows.loc["tecl", "start"] >= START.isoformat() and rows.loc["tecl", "end"] <= END.isoformat()


def test_a_local_cluster_of_two_processes_gives_the_same_table(
    board: tuple[list[Path], Path], in_process: pd.DataFrame
) -> None:
    files, bars = board
    seen: list[int] = []
    frame = leaderboard(files, bars, CONFIG, workers=2, progress=lambda done, _total: seen.append(done))
    pd.testing.assert_frame_equal(frame, in_process)
    assert seen == sorted(seen) and seen[-1] == 6


def test_backtest_command_on_an_external_scheduler_gives_the_same_table(
    board: tuple[list[Path], Path], external_cluster: str, tmp_path: Path
) -> None:
    files, bars = board
    args = ["backtest", "--strategy", str(files[0].parent), "--data", str(bars), "--start", START.isoformat()]
    args += ["--end", END.isoformat()]
    assert main([*args, "--out", str(tmp_path / "here"), "--workers", "0"]) == 0
    with Client(external_cluster, timeout="30s") as client:
        client.wait_for_workers(2, timeout=90)
        assert main([*args, "--out", str(tmp_path / "there"), "--scheduler", external_cluster]) == 0
        prefixes = client.run_on_scheduler(lambda dask_scheduler: sorted(dask_scheduler.task_prefixes))
    assert "leaderboard_row" in prefixes  # the backtests ran on that cluster
    here, there = (pd.read_csv(tmp_path / name / "leaderboard.csv") for name in ("here", "there"))
    pd.testing.assert_frame_equal(there, here)
    assert there["sharpe"].notna().sum() == 3


def test_an_unreachable_scheduler_is_a_clear_error(
    board: tuple[list[Path], Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    files, bars = board
    klm = next(f for f in files if f.stem == "klm")
    args = ["backtest", "--strategy", str(klm), "--data", str(bars), "--out", str(tmp_path)]
    assert main([*args, "--each", "--scheduler", "tcp://127.0.0.1:9"]) == 2
    assert "cannot reach the Dask scheduler at tcp://127.0.0.1:9" in capsys.readouterr().err


def test_loaded_bars_keep_a_malformed_file_error_for_the_symbol(board: tuple[list[Path], Path]) -> None:
    _, bars = board
    loaded = LoadedBarSource.read(CsvBarSource(bars), ["SPY", "BAD", "ZZZZQ"])
    assert loaded.available() == frozenset({"SPY", "BAD"})
    spy = loaded.bars("SPY")
    assert spy is not None and len(spy) > 1000
    assert loaded.bars("ZZZZQ") is None
    with pytest.raises(DataError, match=r"BAD\.csv.*oops"):
        loaded.bars("BAD")
