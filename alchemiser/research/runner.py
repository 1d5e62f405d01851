"""Running a sweep: build the context once, ship it to every worker once, evaluate points in chunks.

Dask schedules, the backtest engine computes. ``workers=0`` runs every chunk in this process (no Dask: the
reference run the tests compare against); otherwise an embedded ``LocalCluster`` (one single-threaded worker
process per core unless ``workers`` says otherwise) or, with ``scheduler="tcp://HOST:8786"``, an existing cluster
whose workers can import ``alchemiser``. The context (bars included) is scattered with ``broadcast=True``: each
worker receives it once and every chunk task refers to it. On two or more workers a sweep makes two passes
(``_two_passes``): every point is screened (evaluated, its decisions signed), then each distinct signature is
backtested once, so the work is the same with 2 or N workers (one worker's memo already sees every point, so one
worker makes one pass). Chunks are written to the result store as they finish; points already in the store are
skipped; Ctrl-C cancels what is left and keeps what finished. ``run_on_workers`` is the one way tasks reach the
cluster (the leaderboard uses it too).
"""

from __future__ import annotations

import dataclasses
import hashlib
import math
import os
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import pandas as pd
from distributed import Client, Future, LocalCluster, as_completed

from alchemiser.backtest import BacktestResult, EngineConfig, run_backtest
from alchemiser.backtest.corporate import build_replay
from alchemiser.backtest.runner import (
    LoadedStrategy,
    StrategySpec,
    closes_frame,
    evaluate_strategies,
    missing_symbols,
)
from alchemiser.backtest.walkforward import split_windows
from alchemiser.data import CsvBarSource
from alchemiser.dsl import parse_symphony, used_symbols
from alchemiser.errors import DataError
from alchemiser.research.point import SweepContext, backtest_groups, run_chunk, screen_chunk
from alchemiser.research.space import Point, points
from alchemiser.research.spec import SweepSpec
from alchemiser.research.store import ResultStore

ProgressCallback = Callable[[int, int], None]
R = TypeVar("R")
T = TypeVar("T")
MAX_CHUNK = 32
CHUNKS_PER_WORKER = 4  # enough chunks to balance the load and report progress, few enough to amortise dispatch
CONNECT_TIMEOUT = "20s"


@dataclass(frozen=True)
class SweepOutcome:
    points: list[Point]
    skipped: int
    computed: int
    failed: int
    interrupted: bool
    seconds: float
    workers: int


def fingerprint(spec: SweepSpec, config: EngineConfig, context_prices: np.ndarray, symbols: Sequence[str]) -> str:
    """Hash of every input that shapes a point's result: texts, weights, params, settings, blocks and bars."""
    digest = hashlib.sha256()
    for entry in spec.strategies:
        digest.update(repr((entry.name, entry.text, str(entry.weight))).encode())
    digest.update(repr([dataclasses.astuple(p) for p in spec.params]).encode())
    digest.update(repr((config, spec.blocks)).encode())
    digest.update(repr(tuple(symbols)).encode())
    digest.update(np.ascontiguousarray(context_prices).tobytes())
    return digest.hexdigest()


def build_context(
    spec: SweepSpec, data_dir: Path, config: EngineConfig, *, share: bool = True
) -> tuple[SweepContext, BacktestResult]:
    """The context every worker gets and the baseline backtest (the symphonies as written, base settings)."""
    source = CsvBarSource(data_dir)
    total = sum((s.weight for s in spec.strategies), Decimal(0))
    loaded = [
        LoadedStrategy(StrategySpec(s.path, s.weight / total), parse_symphony(s.text, str(s.path)), s.name)
        for s in spec.strategies
    ]
    extra = [config.benchmark_symbol] if config.benchmark_symbol else []
    signals, prices, _ = evaluate_strategies(loaded, source, config.end, extra)
    missing = missing_symbols(loaded, source)
    closes = closes_frame(prices, missing)
    replay = None
    if config.prices == "events":
        # every symbol a point could hold (run_files takes the ones its run holds; events of the others do nothing)
        tradable = sorted({sym for s in loaded for sym in used_symbols(s.symphony)} - set(missing))
        replay = build_replay(
            source, tradable, extra_events=config.corporate_events, events_file=config.corporate_events_source
        )
    baseline = run_backtest(signals, closes, config, replay=replay)
    sessions = pd.DatetimeIndex(baseline.equity.index)
    windows = split_windows(sessions, spec.blocks)
    block_starts = tuple(np.datetime64(sessions[first].date(), "D") for first, _ in windows)
    context = SweepContext(
        fingerprint=fingerprint(spec, config, prices.values, prices.symbols),
        strategies=spec.strategies,
        params=spec.params,
        prices=prices,
        closes=closes,
        config=config,
        replay=replay,
        block_starts=block_starts,
        share_indicators=share,
        memo_decisions=share,
    )
    return context, baseline


def chunked(todo: Sequence[T], size: int) -> list[list[T]]:
    return [list(todo[i : i + size]) for i in range(0, len(todo), size)]


def default_chunk_size(count: int, workers: int) -> int:
    return max(1, min(MAX_CHUNK, math.ceil(count / max(1, workers * CHUNKS_PER_WORKER))))


@contextmanager
def dask_client(workers: int, scheduler: str | None) -> Iterator[Client]:
    """A client of the given scheduler, or of an embedded LocalCluster of ``workers`` processes."""
    if scheduler is not None:
        try:
            client = Client(scheduler, timeout=CONNECT_TIMEOUT)
        except (OSError, TimeoutError) as exc:
            raise DataError(f"cannot reach the Dask scheduler at {scheduler}: {exc}") from exc
        try:
            yield client
        finally:
            client.close()
        return
    cluster = LocalCluster(
        n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=":0", host="127.0.0.1"
    )
    client = Client(cluster)
    try:
        yield client
    finally:
        client.close()
        cluster.close()


def run_on_workers(
    client: Client,
    function: Callable[..., R],
    shared: object,
    items: Sequence[object],
    on_result: Callable[[int, R], None],
    *extra: object,
) -> None:
    """``function(shared, item, *extra)`` for each item on the cluster, ``on_result(index, result)`` as each finishes.

    ``shared`` (the bars) is scattered with ``broadcast=True`` unless it is already a scattered ``Future``: each
    worker receives it once and every task refers to it. Ctrl-C cancels the tasks left and is raised again.
    """
    shipped = shared if isinstance(shared, Future) else client.scatter(shared, broadcast=True, hash=False)
    futures = {client.submit(function, shipped, item, *extra, pure=False): n for n, item in enumerate(items)}
    try:
        for future in as_completed(futures):
            on_result(futures[future], future.result())
    except KeyboardInterrupt:
        client.cancel(list(futures))
        raise


def _two_passes(
    client: Client,
    context: SweepContext,
    chunks: list[list[Point]],
    *,
    chunk_size: int | None,
    workers: int,
    record: Callable[[list[dict[str, Any]]], None],
    stage: Callable[[str, int | None], None],
) -> None:
    """Screen every point (evaluate, sign its decisions), then backtest each distinct signature once.

    Why: most points of a threshold sweep repeat another point's decisions on every session (45 distinct of 100 in
    the KLM benchmark), and a backtest costs 5x an evaluation. A per-worker memo finds those repeats only among the
    points that worker happened to get, so 2 workers ran far more backtests than 1 and were slower; grouping by
    signature makes the work the same for any number of workers. Failed points are recorded after the first pass.
    ``stage(name, screened)`` reports the pass and, while screening, the points screened so far.
    """
    shipped = client.scatter(context, broadcast=True, hash=False)
    groups: dict[str, list[Point]] = {}
    by_index = {point.index: point for chunk in chunks for point in chunk}

    failed: list[dict[str, Any]] = []

    def screened(_n: int, rows: list[dict[str, Any]]) -> None:
        failed.extend(row for row in rows if row["status"] != "pending")
        for row in rows:
            if row["status"] == "pending":
                groups.setdefault(str(row["signature"]), []).append(by_index[int(row["point"])])
        stage("screening", len(failed) + sum(len(g) for g in groups.values()))

    stage("screening", 0)
    run_on_workers(client, screen_chunk, shipped, chunks, screened)
    stage("backtesting", None)
    record(failed)
    ordered = sorted((sorted(g, key=lambda p: p.index) for g in groups.values()), key=lambda g: g[0].index)
    size = chunk_size or default_chunk_size(len(ordered), workers)
    run_on_workers(client, backtest_groups, shipped, chunked(ordered, size), lambda _n, rows: record(rows))


def run_sweep(
    spec: SweepSpec,
    context: SweepContext,
    store: ResultStore,
    *,
    workers: int | None = None,
    scheduler: str | None = None,
    chunk_size: int | None = None,
    progress: ProgressCallback | None = None,
    stage: Callable[[str], None] | None = None,
) -> SweepOutcome:
    """Evaluate every point not yet in ``store``; ``workers=0`` (and no scheduler) runs in this process.

    ``progress(done, total)`` counts finished points; on a cluster of two or more workers ``stage`` names each
    pass ("screening", then "backtesting") and while screening ``progress`` counts the points screened."""
    started = time.perf_counter()
    every = points(spec, context.fingerprint)
    finished = store.finished_keys()
    todo = [p for p in every if p.key not in finished]
    skipped = len(every) - len(todo)
    count = workers if workers is not None else (os.cpu_count() or 1)
    state = {"done": 0, "failed": 0}

    def record(rows: list[dict[str, object]]) -> None:
        store.append(rows)
        state["done"] += len(rows)
        state["failed"] += sum(1 for r in rows if r["status"] != "ok")
        if progress is not None:
            progress(state["done"], len(todo))

    def stage_at(name: str, screened: int | None) -> None:
        if stage is not None:
            stage(name)
        if progress is not None:
            progress(state["done"] if screened is None else screened, len(todo))

    interrupted = False
    if progress is not None:
        progress(0, len(todo))
    try:
        if todo and count == 0 and scheduler is None:
            for chunk in chunked(todo, chunk_size or MAX_CHUNK):
                record(run_chunk(context, chunk))
        elif todo:
            with dask_client(count, scheduler) as client:
                count = len(client.scheduler_info(n_workers=-1)["workers"]) or count
                size = chunk_size or default_chunk_size(len(todo), count)
                if count == 1:  # one worker's memo sees every point: one pass, nothing evaluated twice
                    run_on_workers(client, run_chunk, context, chunked(todo, size), lambda _n, rows: record(rows))
                else:
                    _two_passes(
                        client,
                        context,
                        chunked(todo, size),
                        chunk_size=chunk_size,
                        workers=count,
                        record=record,
                        stage=stage_at,
                    )
    except KeyboardInterrupt:
        interrupted = True
    return SweepOutcome(
        points=every,
        skipped=skipped,
        computed=state["done"],
        failed=state["failed"],
        interrupted=interrupted,
        seconds=time.perf_counter() - started,
        workers=count,
    )
