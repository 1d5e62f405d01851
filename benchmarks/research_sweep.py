"""Research sweep speed: a KLM threshold sweep over every bar of ``../shared/data/bars``.

The sweep varies three RSI thresholds of ``config/strategies/klm.clj`` (10 values each: a 1,000-point grid; with
``--points N`` a seeded random sample of N of them). Each point is a full backtest over KLM's whole history.

* ``full``: the sweep on an embedded LocalCluster of ``--workers`` processes; wall time, points/s, peak RSS of
  each worker process.
* ``scaling``: the same points (``--points``, at most 100) on 1 and on 2 worker processes, ``--repeats`` times
  in alternating order (1, 2 then 2, 1, ...), each ratio within one repetition. Cluster start-up and the workers'
  first imports are not timed (``startup_s``: a fixed cost per sweep, not a rate). For each run: wall, points/s,
  the workers' CPU seconds, backtests run, and the load average before and after. ``--one-pass`` also measures
  the former dispatch (each chunk evaluated and backtested where it lands, a memo per worker) in the same run.
  ``--own-sessions yes|both`` makes each worker the leader of a session of its own: with Linux autogroup
  (``/proc/sys/kernel/sched_autogroup_enabled``) the CPU is shared between sessions, not processes, so on a busy
  machine LocalCluster workers (all in the benchmark's session) share one session's slice however many they are,
  while separately started ``dask worker`` processes (one session each) get a slice each.
* ``sharing``: in one process, the same points with the per-worker caches (shared indicator vectors + decision
  memo) and from scratch (every point evaluates every indicator and runs its own backtest); points/s of each.

Run: ``.venv/bin/python benchmarks/research_sweep.py --mode all --points 1000`` (``--mode scaling --points 60
--repeats 3 --one-pass`` for the scaling figures of benchmarks/README.md). Prints one JSON object per measurement.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path

from distributed import Client, LocalCluster

from alchemiser.backtest import Costs, EngineConfig
from alchemiser.research import point
from alchemiser.research.point import SweepContext
from alchemiser.research.runner import build_context, chunked, default_chunk_size, run_on_workers, run_sweep
from alchemiser.research.space import points
from alchemiser.research.spec import SweepSpec, load_spec
from alchemiser.research.store import ResultStore

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("ALCHEMISER_SHARED_DIR", REPO.parent / "shared")).resolve()
BARS = SHARED / "data" / "bars"
KLM = REPO / "config" / "strategies" / "klm.clj"
SWEEP = """
[sweep]
method = "{method}"
samples = {samples}
seed = 1
[[strategy]]
file = "{klm}"
[[param]]
name = "qqqe_overbought"
at = "15:8"
field = "right"
range = [75, 84, 1]
[[param]]
name = "vtv_overbought"
at = "18:10"
field = "right"
range = [75, 84, 1]
[[param]]
name = "vox_overbought"
at = "21:12"
field = "right"
range = [75, 84, 1]
"""
CONFIG = EngineConfig(costs=Costs(spread_bps=2, slippage_bps=1))  # the CLI's default costs


def _spec(folder: Path, points: int) -> SweepSpec:
    path = folder / "klm.toml"
    method = "grid" if points >= 1000 else "random"
    path.write_text(SWEEP.format(method=method, samples=points, klm=KLM), encoding="utf-8")
    return load_spec(path)


def _max_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def _worker_usage() -> dict[str, float]:
    """This worker's CPU seconds so far and the backtests its sweep caches ran."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return {"cpu_s": usage.ru_utime + usage.ru_stime, "backtests": sum(s.backtests for s in point._STATES.values())}


def _load() -> float:
    return round(os.getloadavg()[0], 2)


def _new_session() -> str:
    """Make this worker the leader of a new session, so Linux autogroup schedules it as its own group."""
    os.setsid()
    return Path("/proc/self/autogroup").read_text(encoding="utf-8").split()[0]


def _on_cluster(
    spec: SweepSpec, workers: int, out: Path, *, one_pass: bool = False, own_sessions: bool = False
) -> dict[str, object]:
    context, baseline = build_context(spec, BARS, CONFIG)
    begun = time.perf_counter()
    cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=":0")
    try:
        with Client(cluster) as client:
            client.run(_worker_usage)  # imports alchemiser.research.point on every worker: start-up, not sweep
            if own_sessions:
                client.run(_new_session)
            startup = time.perf_counter() - begun
            before, load_before = client.run(_worker_usage), _load()
            started = time.perf_counter()
            if one_pass:
                computed = _one_pass(client, spec, context, workers)
            else:
                computed = run_sweep(spec, context, ResultStore(out), scheduler=cluster.scheduler_address).computed
            wall = time.perf_counter() - started
            after, load_after = client.run(_worker_usage), _load()
            rss = sorted(client.run(_max_rss_mb).values())
    finally:
        cluster.close()
    return {
        "workers": workers,
        "dispatch": "former one-pass" if one_pass else "run_sweep",
        "worker_sessions": "own" if own_sessions else "the benchmark's",
        "points": computed,
        "sessions": len(baseline.equity),
        "period": f"{baseline.start} → {baseline.end}",
        "startup_s": round(startup, 1),
        "wall_s": round(wall, 1),
        "points_per_s": round(computed / wall, 3),
        "worker_cpu_s": round(sum(after[w]["cpu_s"] - before[w]["cpu_s"] for w in after), 1),
        "backtests": int(sum(after[w]["backtests"] - before[w]["backtests"] for w in after)),
        "load": [load_before, load_after],
        "worker_peak_rss_mb": [round(r) for r in rss],
    }


def _one_pass(client: Client, spec: SweepSpec, context: SweepContext, workers: int) -> int:
    """The former dispatch: each chunk evaluated and backtested on the worker it lands on (memo per worker)."""
    todo = points(spec, context.fingerprint)
    rows: list[int] = []
    size = default_chunk_size(len(todo), workers)
    run_on_workers(client, point.run_chunk, context, chunked(todo, size), lambda _n, r: rows.append(len(r)))
    return sum(rows)  # the rows themselves are not kept: only the time matters here


def _scaling(folder: Path, points_count: int, repeats: int, variants: list[tuple[bool, bool]]) -> dict[str, object]:
    spec = _spec(folder, min(points_count, 100))
    ratios: dict[str, list[float]] = {}
    for rep in range(repeats):
        for one_pass, own in variants:
            name = f"{'former one-pass' if one_pass else 'run_sweep'}{', own sessions' if own else ''}"
            rate = {}
            for workers in (1, 2) if rep % 2 == 0 else (2, 1):
                tag = f"{rep}-{workers}-{int(one_pass)}-{int(own)}"
                run = _on_cluster(spec, workers, folder / tag, one_pass=one_pass, own_sessions=own)
                print(json.dumps({"measure": "scaling-run", "repeat": rep, **run}), flush=True)
                rate[workers] = float(str(run["points_per_s"]))
            ratios.setdefault(name, []).append(round(rate[2] / rate[1], 2))
    return {"speedup_2_over_1": ratios, "median": {k: statistics.median(v) for k, v in ratios.items()}}


def _in_process(spec: SweepSpec, share: bool, out: Path) -> dict[str, object]:
    context, _ = build_context(spec, BARS, CONFIG, share=share)
    started = time.perf_counter()
    outcome = run_sweep(spec, context, ResultStore(out), workers=0)
    wall = time.perf_counter() - started
    return {
        "shared_caches": share,
        "points": outcome.computed,
        "wall_s": round(wall, 1),
        "points_per_s": round(outcome.computed / wall, 3),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mode", choices=("full", "scaling", "sharing", "all"), default="all")
    parser.add_argument("--points", type=int, default=1000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=3, help="scaling: repetitions of the 1 vs 2 comparison")
    parser.add_argument("--one-pass", action="store_true", help="scaling: also measure the former one-pass dispatch")
    parser.add_argument(
        "--own-sessions",
        choices=("no", "yes", "both"),
        default="no",
        help="scaling: run each worker in a session of its own (its own Linux autogroup), as separately started "
        "`dask worker` processes are; 'both' measures each way",
    )
    args = parser.parse_args()
    args.sessions = {"no": {False}, "yes": {True}, "both": {False, True}}[args.own_sessions]
    if not BARS.is_dir():
        print(f"no bars at {BARS}", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        spec = _spec(folder, args.points)
        if args.mode in ("full", "all"):
            print(json.dumps({"measure": "full", **_on_cluster(spec, args.workers, folder / "full")}), flush=True)
        if args.mode in ("scaling", "all"):
            variants = [(False, own) for own in (False, True) if own in args.sessions]
            variants += [(True, False)] if args.one_pass else []
            scaling = _scaling(folder, args.points, args.repeats, variants)
            print(json.dumps({"measure": "scaling", **scaling}), flush=True)
        if args.mode in ("sharing", "all"):
            small = _spec(folder, min(args.points, 60))
            shared = _in_process(small, True, folder / "shared")
            scratch = _in_process(small, False, folder / "scratch")
            gain = float(str(shared["points_per_s"])) / float(str(scratch["points_per_s"]))
            print(json.dumps({"measure": "sharing", "shared": shared, "scratch": scratch, "gain": round(gain, 2)}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
