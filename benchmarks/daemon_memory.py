"""Where a running sim daemon's memory goes: RSS, USS and PSS of ``alchemiser run`` and of each helper process (the
symphony worker, multiprocessing's resource tracker), and which packages with native code each has loaded (from its
memory maps: a package's shared libraries are mapped once it is imported).

The daemon is the full sim daemon of ``foundation_support`` (three symphonies, embedded exchange, fast-forwarded
clock). Figures are taken ``seconds`` after the daemon's first stored decision, so the worker has evaluated.
``--repo PATH`` runs the ``alchemiser`` package of another checkout (e.g. ``main``) for a before/after comparison in
one run and under one load: start both at once.

Usage: daemon_memory.py [seconds=60] [--repo PATH]
"""

from __future__ import annotations

import os
import sys
import time
from collections import defaultdict
from pathlib import Path

import httpx
import psutil

sys.path.insert(0, str(Path(__file__).resolve().parent))

from foundation_support import SimDaemon, positional

MIB = 2**20
TOKEN = "memory-benchmark-token-0123456789"  # noqa: S105 (a throw-away daemon's control token)


def repo_argument() -> str | None:
    args = sys.argv[1:]
    return args[args.index("--repo") + 1] if "--repo" in args else None


def native_packages(process: psutil.Process) -> dict[str, float]:
    """Top-level site-packages directories with a mapped shared library → resident MiB of their mappings."""
    resident: dict[str, float] = defaultdict(float)
    for mapping in process.memory_maps(grouped=True):
        path = mapping.path
        if "site-packages/" in path and (".so" in path or path.endswith(".dylib")):
            package = path.split("site-packages/", 1)[1].split("/", 1)[0].removesuffix(".libs")
            resident[package.split(".", 1)[0]] += mapping.rss / MIB
    return dict(resident)


def wait_for_decision(daemon: SimDaemon, timeout: float = 600.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            reply = httpx.get(
                f"{daemon.url}/api/decisions/last", headers={"Authorization": f"Bearer {TOKEN}"}, timeout=10
            )
            if reply.status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(1.0)
    raise RuntimeError("no decision stored")


def describe(label: str, process: psutil.Process) -> float:
    info = process.memory_full_info()
    native = native_packages(process)
    heavy = ", ".join(f"{name} {mib:.0f}" for name, mib in sorted(native.items(), key=lambda kv: -kv[1]) if mib >= 0.5)
    print(f"{label:<18} RSS {info.rss / MIB:6.1f}  USS {info.uss / MIB:6.1f}  PSS {info.pss / MIB:6.1f} MiB")
    print(f"{'':<18} native code resident (MiB): {heavy or 'none'}")
    return float(info.rss)


def main() -> None:
    seconds = positional(0, 60.0)
    repo = repo_argument()
    if repo is not None:
        os.environ["PYTHONPATH"] = str(Path(repo).resolve())
    daemon = SimDaemon(control_token=TOKEN)
    daemon.start()
    try:
        daemon.wait_ready(timeout=300)
        wait_for_decision(daemon)
        time.sleep(seconds)
        assert daemon.proc is not None
        root = psutil.Process(daemon.proc.pid)
        source = os.environ.get("PYTHONPATH") or "the installed package"
        print(f"alchemiser run from {source}, {seconds:g} s after the first decision")
        total = describe("daemon", root)
        worker = 0.0
        for child in root.children(recursive=True):
            command = " ".join(child.cmdline())
            label = "symphony worker" if "spawn_main" in command else "resource tracker"
            rss = describe(label, child)
            worker += rss if label == "symphony worker" else 0.0
        print(f"daemon + symphony worker: RSS {(total + worker) / MIB:.1f} MiB (goal < 200 MB = 190.7 MiB)")
    finally:
        daemon.stop()


if __name__ == "__main__":
    main()
