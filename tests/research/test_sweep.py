"""Sweeps end to end on real bars: single process, a real LocalCluster, and an external scheduler + 2 workers."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pandas as pd
import pytest
from distributed import Client

from alchemiser.backtest import EngineConfig, StrategySpec, run_files
from alchemiser.cli.main import main
from alchemiser.research import point
from alchemiser.research.runner import build_context, run_sweep
from alchemiser.research.spec import SweepSpec, load_spec
from alchemiser.research.store import ResultStore

ROOT = Path(__file__).resolve().parents[2]
TECL = ROOT / "config" / "strategies" / "tecl.clj"
CONFIG = EngineConfig(start=dt.date(2023, 1, 3), end=dt.date(2023, 12, 29), benchmark_symbol="SPY")
SWEEP = f"""
[sweep]
start = 2023-01-03
end = 2023-12-29
blocks = 4
top = 2
[[strategy]]
file = "{TECL}"
[[param]]
name = "tqqq_overbought"
at = "13:8"
field = "right"
values = [77, 79, 81]
[[param]]
name = "spy_trend_window"
at = "9:4"
field = "right.window"
values = [200, 0]
"""
COMPARED = ["point", "key", "status", "error", "p_tqqq_overbought", "p_spy_trend_window", "sharpe", "final_equity"]


@pytest.fixture(scope="module")
def sweep(tmp_path_factory: pytest.TempPathFactory, shared_bars_dir: Path) -> tuple[SweepSpec, Path, Path]:
    folder = tmp_path_factory.mktemp("sweep")
    path = folder / "sweep.toml"
    path.write_text(SWEEP, encoding="utf-8")
    return load_spec(path), shared_bars_dir, folder


@pytest.fixture(scope="module")
def reference(sweep: tuple[SweepSpec, Path, Path]) -> pd.DataFrame:
    spec, bars, folder = sweep
    context, _ = build_context(spec, bars, CONFIG)
    store = ResultStore(folder / "reference")
    outcome = run_sweep(spec, context, store, workers=0, chunk_size=1)
    assert (outcome.computed, outcome.failed) == (6, 3)
    return store.load([p.key for p in outcome.points])


def _same(frame: pd.DataFrame, reference: pd.DataFrame) -> None:
    pd.testing.assert_frame_equal(frame[COMPARED], reference[COMPARED])
    pd.testing.assert_frame_equal(frame[["block_sum"]], reference[["block_sum"]])


def test_points_are_full_backtests_and_failures_are_recorded(
    reference: pd.DataFrame, sweep: tuple[SweepSpec, Path, Path]
) -> None:
    _, bars, _ = sweep
    failed = reference[reference["status"] == "error"]
    assert list(failed["p_spy_trend_window"]) == [0.0, 0.0, 0.0]
    assert all("window" in e for e in failed["error"])
    as_written = reference[(reference["p_tqqq_overbought"] == 79) & (reference["p_spy_trend_window"] == 200)].iloc[0]
    direct = run_files([StrategySpec(TECL)], bars, CONFIG).performance()
    assert as_written["sharpe"] == direct.sharpe and as_written["final_equity"] == direct.end_equity
    assert len(set(reference.loc[reference["status"] == "ok", "sharpe"])) > 1


def test_chunk_size_and_reruns_do_not_change_results(
    reference: pd.DataFrame, sweep: tuple[SweepSpec, Path, Path]
) -> None:
    spec, bars, folder = sweep
    context, _ = build_context(spec, bars, CONFIG, share=False)  # no shared caches: the same numbers
    store = ResultStore(folder / "chunks")
    first = run_sweep(spec, context, store, workers=0, chunk_size=4)
    _same(store.load([p.key for p in first.points]), reference)
    again = run_sweep(spec, context, store, workers=0)
    assert (again.computed, again.skipped) == (0, 6)
    lost = next(iter(store.parts.glob("part-*.parquet")))  # a lost part is recomputed, nothing else
    rows = len(pd.read_parquet(lost))
    lost.unlink()
    resumed = run_sweep(spec, context, store, workers=0, chunk_size=1)
    assert (resumed.computed, resumed.skipped) == (rows, 6 - rows)
    _same(store.load([p.key for p in resumed.points]), reference)


def test_a_local_cluster_of_two_processes_gives_the_same_results(
    reference: pd.DataFrame, sweep: tuple[SweepSpec, Path, Path]
) -> None:
    spec, bars, folder = sweep
    context, _ = build_context(spec, bars, CONFIG)
    store = ResultStore(folder / "local")
    stages: list[tuple[str, int]] = []
    seen: list[int] = []
    outcome = run_sweep(
        spec,
        context,
        store,
        workers=2,
        chunk_size=2,
        progress=lambda done, _total: seen.append(done),
        stage=lambda name: stages.append((name, len(seen))),
    )
    assert outcome.workers == 2 and outcome.computed == 6
    _same(store.load([p.key for p in outcome.points]), reference)
    # the points are screened (3 chunks of 2), then backtested: the bar counts each pass from where it stands
    names = [name for name, _ in stages]
    assert names[0] == "screening" and names[-1] == "backtesting" and names.count("backtesting") == 1
    screened = seen[: stages[-1][1]]
    assert screened[-1] == 6 and seen[-1] == 6 and seen[stages[-1][1]] == 0


def test_a_local_cluster_of_one_process_gives_the_same_results_in_one_pass(
    reference: pd.DataFrame, sweep: tuple[SweepSpec, Path, Path]
) -> None:
    spec, bars, folder = sweep
    context, _ = build_context(spec, bars, CONFIG)
    stages: list[str] = []
    outcome = run_sweep(spec, context, ResultStore(folder / "one"), workers=1, chunk_size=3, stage=stages.append)
    assert outcome.workers == 1 and outcome.computed == 6 and stages == []  # no screening pass
    _same(ResultStore(folder / "one").load([p.key for p in outcome.points]), reference)


def test_an_external_scheduler_with_two_workers_gives_the_same_results(
    reference: pd.DataFrame, sweep: tuple[SweepSpec, Path, Path], external_cluster: str
) -> None:
    spec, bars, folder = sweep
    context, _ = build_context(spec, bars, CONFIG)
    store = ResultStore(folder / "external")
    with Client(external_cluster, timeout="30s") as client:
        client.wait_for_workers(2, timeout=90)
        outcome = run_sweep(spec, context, store, scheduler=external_cluster, chunk_size=1)
        backtests = client.run(lambda: sum(state.backtests for state in point._STATES.values()))
    assert outcome.workers == 2 and outcome.computed == 6
    frame = store.load([p.key for p in outcome.points])
    _same(frame, reference)
    # one backtest per distinct decision signature across both workers, however the points were spread
    assert sum(backtests.values()) == frame.loc[frame["status"] == "ok", "signature"].nunique()


def test_sweep_command_writes_points_report_and_summary(
    sweep: tuple[SweepSpec, Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    spec, bars, folder = sweep
    out = folder / "cli"
    code = main(["sweep", str(spec.path), "--data", str(bars), "--out", str(out), "--workers", "0"])
    printed = capsys.readouterr().out
    assert code == 0, printed
    assert "6 points: 6 computed (3 failed)" in printed and "probability of backtest overfitting" in printed
    page = (out / "report.html").read_text(encoding="utf-8")
    for needle in ("Deflated Sharpe ratio", "Probability of backtest overfitting", "Walk-forward", "<svg", "Failed"):
        assert needle in page
    assert "<script" not in page and "<link" not in page and 'src="http' not in page  # nothing fetched
    assert len(list((out / "points").glob("part-*.parquet"))) >= 1
    assert main(["sweep", str(spec.path), "--data", str(bars), "--out", str(out), "--workers", "0"]) == 0
    assert "6 already in" in capsys.readouterr().out


def test_sweep_command_rejects_bad_input_and_lists_sites(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["sweep", "--sites", str(TECL)]) == 0
    listing = capsys.readouterr().out
    assert "13:8" in listing and "right.window" in listing and '(rsi "TQQQ" {:window 10})' in listing
    bad = tmp_path / "bad.toml"
    bad.write_text('[[strategy]]\nfile = "missing.clj"\n', encoding="utf-8")
    assert main(["sweep", str(bad), "--data", str(tmp_path), "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert "cannot read" in err and "at least one [[param]]" in err
    assert main(["sweep", str(bad)]) == 2
    assert "--data is required" in capsys.readouterr().err


def test_backtest_of_a_folder_is_a_leaderboard(
    tmp_path: Path, shared_bars_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = tmp_path / "symphonies"
    folder.mkdir()
    (folder / "tecl.clj").write_text(TECL.read_text(encoding="utf-8"), encoding="utf-8")
    (folder / "broken.clj").write_text("(defsymphony", encoding="utf-8")
    args = ["backtest", "--strategy", str(folder), "--data", str(shared_bars_dir), "--out", str(tmp_path / "o")]
    assert main([*args, "--start", "2023-01-03", "--end", "2023-06-30"]) == 0
    printed = capsys.readouterr().out
    lines = [line for line in printed.splitlines() if line.strip()[:1].isdigit()]
    assert lines[0].split()[1] == "tecl" and "broken" in lines[1] and "never closed" in lines[1]
    table = pd.read_csv(tmp_path / "o" / "leaderboard.csv")
    assert list(table["strategy"]) == ["tecl", "broken"] and table["sharpe"].notna().tolist() == [True, False]
