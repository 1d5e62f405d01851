"""``python -m tests.chaos [--points 100] [--seed N] [--workdir DIR]`` (``make chaos``): randomised crash points.

Prints the seed first (``--seed`` replays a run: the same points in the same order) and ends with the summary line
``chaos: <n> crash points, <v> invariant violations, seed <s>``; exits 1 on any violation. Daemon logs and the
store stay in the work directory (a temporary one unless ``--workdir``).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

from tests.chaos.harness import Chaos, RandomPoints
from tests.chaos.zygote import Zygote
from tests.daemon.crashrig import SESSION, SPEED, Rig
from tests.execution.crashcheck import sim_exchange


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.chaos", description=__doc__.splitlines()[0])
    parser.add_argument("--points", type=int, default=100, help="crash points to exercise (default 100)")
    parser.add_argument("--seed", type=int, default=None, help="replay a run (default: from the time)")
    parser.add_argument("--workdir", type=Path, default=None, help="keep daemon logs and the store here")
    args = parser.parse_args(argv)
    if args.points < 1:
        parser.error("--points must be ≥ 1")
    seed = args.seed if args.seed is not None else time.time_ns() % 1_000_000
    print(f"chaos seed: {seed} (python -m tests.chaos --seed {seed} replays it)", flush=True)
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="alchemiser-chaos-"))
    workdir.mkdir(parents=True, exist_ok=True)
    print(f"chaos workdir: {workdir}", flush=True)
    exchange = ("--start", SESSION, "--start-time", "09:29", "--speed", str(SPEED), "--seed", "6")
    zygote = Zygote()
    try:
        with sim_exchange(*exchange, "--history-years", "1") as url:
            rig = Rig(workdir, url, spawner=zygote)
            chaos = Chaos(rig, seed)
            try:
                report = chaos.run(args.points, RandomPoints(chaos.rng))
            finally:
                rig.kill_all()
    finally:
        zygote.close()
    print(report.details())
    print(report.summary())
    return 1 if report.violations else 0


if __name__ == "__main__":
    sys.exit(main())
