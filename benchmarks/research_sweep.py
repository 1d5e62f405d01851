"""Research sweep speed: a KLM threshold sweep over every bar of ``../shared/data/bars``.

The sweep varies three RSI thresholds of ``config/strategies/klm.clj`` (10 values each: a 1,000-point grid; with
``--points N`` a seeded random sample of N of them). Each point is a full backtest over KLM's whole history.

* ``full``: the sweep on an embedded LocalCluster of ``--workers`` processes; wall time, points/s, peak RSS of
  each worker process.
* ``scaling``: the same ``--points`` on 1 and then 2 worker processes; points/s and speed-up.
* ``sharing``: in one process, the same points with the per-worker caches (shared indicator vectors + decision
  memo) and from scratch (every point evaluates every indicator and runs its own backtest); points/s of each.

Run: ``.venv/bin/python benchmarks/research_sweep.py --mode all --points 1000`` (``--mode scaling --points 60`` is
a quicker look). Prints one JSON object per measurement.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import tempfile
import time
from pathlib import Path

from distributed import Client, LocalCluster

from alchemiser.backtest import Costs, EngineConfig
from alchemiser.research.runner import build_context, run_sweep
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


def _on_cluster(spec: SweepSpec, workers: int, out: Path) -> dict[str, object]:
    context, baseline = build_context(spec, BARS, CONFIG)
    cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=":0")
    try:
        with Client(cluster) as client:
            started = time.perf_counter()
            outcome = run_sweep(spec, context, ResultStore(out), scheduler=cluster.scheduler_address)
            wall = time.perf_counter() - started
            rss = sorted(client.run(_max_rss_mb).values())
    finally:
        cluster.close()
    return {
        "workers": workers,
        "points": outcome.computed,
        "failed": outcome.failed,
        "sessions": len(baseline.equity),
        "period": f"{baseline.start} → {baseline.end}",
        "wall_s": round(wall, 1),
        "points_per_s": round(outcome.computed / wall, 3),
        "worker_peak_rss_mb": [round(r) for r in rss],
    }


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
    args = parser.parse_args()
    if not BARS.is_dir():
        print(f"no bars at {BARS}", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        spec = _spec(folder, args.points)
        if args.mode in ("full", "all"):
            print(json.dumps({"measure": "full", **_on_cluster(spec, args.workers, folder / "full")}), flush=True)
        if args.mode in ("scaling", "all"):
            small = _spec(folder, min(args.points, 100))
            one = _on_cluster(small, 1, folder / "one")
            two = _on_cluster(small, 2, folder / "two")
            speedup = float(str(two["points_per_s"])) / float(str(one["points_per_s"]))
            print(json.dumps({"measure": "scaling", "one": one, "two": two, "speedup": round(speedup, 2)}), flush=True)
        if args.mode in ("sharing", "all"):
            small = _spec(folder, min(args.points, 60))
            shared = _in_process(small, True, folder / "shared")
            scratch = _in_process(small, False, folder / "scratch")
            gain = float(str(shared["points_per_s"])) / float(str(scratch["points_per_s"]))
            print(json.dumps({"measure": "sharing", "shared": shared, "scratch": scratch, "gain": round(gain, 2)}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
