"""The soak of ``daemon_soak.py`` (run that script): the harness, the sampling and the checks.

It is imported only under ``daemon_soak.py``'s main guard: the symphony worker is spawned and re-imports the script
that started the daemon as its ``__main__``, and the worker must hold what ``alchemiser run``'s worker holds, not
this harness and its imports.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import gc
import sys
import tempfile
import time
import tracemalloc
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import psutil

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from alchemiser.logging import Redactor, configure_logging  # noqa: E402
from alchemiser.sim.faults import FaultConfig  # noqa: E402
from alchemiser.store import Store  # noqa: E402
from tests.daemon.simrig import SimDaemon, build_sim_daemon, sim_settings  # noqa: E402
from tests.notify.webhook_receiver import WebhookReceiver  # noqa: E402

FD_SLACK = 8  # sockets reconnecting at the moment of the sample
TASK_SLACK = 8  # in-flight requests and reconnects at the moment of the sample
MIB = 2**20


@dataclass(frozen=True)
class Sample:
    decisions: int
    sim_day: date
    daemon_rss: int
    worker_rss: int
    fds: int
    tasks: int
    store_bytes: int

    @property
    def rss(self) -> int:
        return self.daemon_rss + self.worker_rss


def store_bytes(path: Path) -> int:
    return sum(p.stat().st_size for p in (path, Path(f"{path}-wal"), Path(f"{path}-shm")) if p.exists())


def worker_rss(pid: int | None) -> int:
    if pid is None:
        return 0
    try:
        return int(psutil.Process(pid).memory_info().rss)
    except psutil.Error:  # between a worker's exit and its respawn
        return 0


class Soak:
    def __init__(self, rig: SimDaemon, store_path: Path) -> None:
        self.rig = rig
        self.store_path = store_path
        self.samples: list[tuple[float, bool]] = []  # (latency, during a decision)
        self.series: list[Sample] = []
        self.process = psutil.Process()
        self.ws_drops = 0
        self.http_faults: collections.Counter[str] = collections.Counter()

    def count_faults(self) -> None:
        server = self.rig.sim.server
        assert server is not None
        injector = server.faults
        original = injector.http_fault

        def counting(method: str, path: str) -> Any:
            fault = original(method, path)
            if fault is not None:
                self.http_faults[str(fault.kind)] += 1
            return fault

        injector.http_fault = counting  # type: ignore[method-assign]
        for decision in ("lose_event", "duplicate_event"):
            self._count_decision(injector, decision)

    def _count_decision(self, injector: Any, name: str) -> None:
        original = getattr(injector, name)

        def counting() -> bool:
            hit: bool = original()
            if hit:
                self.http_faults[name] += 1
            return hit

        setattr(injector, name, counting)

    def sample(self, decisions: int) -> Sample:
        cycle = self.rig.trading.cycle
        taken = Sample(
            decisions=decisions,
            sim_day=self.rig.clock.now().date(),
            daemon_rss=int(self.process.memory_info().rss),
            worker_rss=worker_rss(cycle.worker_pid if cycle is not None else None),
            fds=self.process.num_fds(),
            tasks=len(asyncio.all_tasks()),
            store_bytes=store_bytes(self.store_path),
        )
        self.series.append(taken)
        return taken

    async def poll_healthz(self, stop: asyncio.Event) -> None:
        cycle = self.rig.trading.cycle
        async with httpx.AsyncClient(base_url=self.rig.url, timeout=10.0) as client:
            while not stop.is_set():
                during = cycle is not None and cycle.running
                started = time.perf_counter()
                response = await client.get("/healthz")
                self.samples.append((time.perf_counter() - started, during))
                if response.status_code != 200:
                    print(f"/healthz answered {response.status_code}: {response.text.strip()}", flush=True)
                await asyncio.sleep(0.05)

    async def drop_streams(self, stop: asyncio.Event, every_decisions: int) -> None:
        decisions = self.rig.trading.decisions
        assert decisions is not None and self.rig.sim.server is not None
        last = 0
        while not stop.is_set():
            count = await decisions.count()
            if count - last >= every_decisions:
                last = count
                self.ws_drops += self.rig.sim.server.hub.drop_all()
            await asyncio.sleep(0.5)


async def soak(
    days: int,
    speed: float,
    seed: int,
    fault_rate: float,
    *,
    trace_memory: bool = False,
    warmup: int = 60,
    sample_every: int = 20,
) -> int:
    workdir = Path(tempfile.mkdtemp(prefix="alchemiser-soak-"))
    receiver = await WebhookReceiver().start()
    settings = sim_settings(
        workdir,
        start=date(2023, 1, 3),
        webhook=receiver.url(),
        extra={"logging": {"level": "ERROR", "format": "json"}},
    )
    configure_logging(settings.logging, Redactor(settings.secret_values()))
    faults = FaultConfig(
        error_rates={"*": {"429": fault_rate / 2, "500": fault_rate / 4, "503": fault_rate / 4}},
        ws_loss_rate=fault_rate,
        ws_duplicate_rate=fault_rate,
    )
    rig = build_sim_daemon(settings, speed=speed, faults=faults, fault_seed=seed)
    wall_start = time.perf_counter()
    await rig.start()
    state = Soak(rig, settings.store.path)
    state.count_faults()
    stop = asyncio.Event()
    tasks = [
        asyncio.create_task(state.poll_healthz(stop)),
        asyncio.create_task(state.drop_streams(stop, every_decisions=3)),
    ]
    decisions = rig.trading.decisions
    assert decisions is not None
    start = state.sample(0)
    warm: Sample | None = None
    warm_snapshot: tracemalloc.Snapshot | None = None
    last_sample = 0
    try:
        async with asyncio.timeout(days * 20 + 120):
            while True:
                count = await decisions.count()
                if count >= warmup and warm is None:
                    gc.collect()
                    warm = state.sample(count)
                    last_sample = count
                    if trace_memory:
                        tracemalloc.start(5)
                        warm_snapshot = tracemalloc.take_snapshot()
                if count - last_sample >= sample_every:
                    last_sample = count
                    taken = state.sample(count)
                    print(
                        f"  {count} decisions, sim {taken.sim_day}, wall {time.perf_counter() - wall_start:.0f}s, "
                        f"rss {taken.daemon_rss / MIB:.0f}+{taken.worker_rss / MIB:.0f} MiB, fds {taken.fds}, "
                        f"tasks {taken.tasks}, store {taken.store_bytes / MIB:.1f} MiB",
                        flush=True,
                    )
                if count >= days and rig.trading.cycle is not None and not rig.trading.cycle.running:
                    break
                await asyncio.sleep(0.5)
        await asyncio.sleep(1.0)
        gc.collect()
        end = state.sample(await decisions.count())
        if trace_memory and tracemalloc.is_tracing() and warm_snapshot is not None:
            growth_stats = tracemalloc.take_snapshot().compare_to(warm_snapshot, "filename")
            print("\n== Python allocations grown since warm-up (by file) ==")
            for stat in growth_stats[:15]:
                print(f"  {stat.size_diff / 1024:9.0f} KiB  {stat.count_diff:+8d} blocks  {stat.traceback[0].filename}")
            tracemalloc.stop()
        reconcile = await rig.trading.reconciler.run(source="soak")  # type: ignore[union-attr]
        wall = time.perf_counter() - wall_start
    finally:
        stop.set()
        await asyncio.gather(*tasks, return_exceptions=True)
        code = await rig.stop()
        await receiver.stop()
    server = rig.sim.server
    assert server is not None
    exchange_orders = server.exchange.list_orders(status="all", limit=1_000_000)
    failures: list[str] = []
    by_client = collections.Counter(o.client_order_id for o in exchange_orders)
    duplicates = {k: v for k, v in by_client.items() if v > 1}
    if duplicates:
        failures.append(f"duplicate orders: {duplicates}")
    store = await Store.open(workdir / "var" / "store.sqlite")
    try:
        rows = await store.fetchall("SELECT client_order_id, broker_order_id FROM execution_orders")
        broker_ids = collections.Counter(r["broker_order_id"] for r in rows if r["broker_order_id"])
        twin = {k: v for k, v in broker_ids.items() if v > 1}
        if twin:
            failures.append(f"intents sharing a broker order: {twin}")
        fills = await store.fetchall("SELECT broker_order_id, cum_qty FROM execution_fills")
        recorded: dict[str, Decimal] = {}
        for row in fills:
            recorded[row["broker_order_id"]] = max(
                recorded.get(row["broker_order_id"], Decimal(0)), Decimal(row["cum_qty"])
            )
        missing = [
            f"{o.symbol} {o.id} filled {o.filled_qty} recorded {recorded.get(o.id, Decimal(0))}"
            for o in exchange_orders
            if o.filled_qty > 0 and recorded.get(o.id, Decimal(0)) != o.filled_qty
        ]
        if missing:
            failures.append(f"{len(missing)} fills not recorded, e.g. {missing[:3]}")
        statuses = collections.Counter(r["status"] for r in await store.fetchall("SELECT status FROM decisions"))
    finally:
        await store.close()
    if not reconcile.ok:
        failures.append(f"positions do not reconcile: {reconcile.reason}")
    growth = None if warm is None else (end.rss - warm.rss) / warm.rss
    if growth is not None and growth >= 0.10:
        failures.append(f"RSS (daemon + worker) grew {growth:.1%} after warm-up")
    if warm is not None and end.fds > warm.fds + FD_SLACK:
        failures.append(f"file descriptors grew {warm.fds} -> {end.fds} after warm-up")
    if warm is not None and end.tasks > warm.tasks + TASK_SLACK:
        failures.append(f"asyncio tasks grew {warm.tasks} -> {end.tasks} after warm-up")
    during = sorted(lat for lat, busy in state.samples if busy)
    overall = sorted(lat for lat, _ in state.samples)

    def pct(values: list[float], p: float) -> str:
        return "n/a" if not values else f"{values[min(len(values) - 1, int(p * len(values)))] * 1000:.1f} ms"

    jumps = rig.sim.forwarder.jumps if rig.sim.forwarder else 0
    with_fills = sum(1 for o in exchange_orders if o.filled_qty > 0)
    growth_text = "n/a" if growth is None else f"{growth:.1%}"
    sim_days = max(1, (end.sim_day - start.sim_day).days)
    base = warm or start
    warm_days = max(1, (end.sim_day - base.sim_day).days)

    def series(pick: Any, unit: float = 1.0, fmt: str = "{:.0f}") -> str:
        return ", ".join(f"{x.decisions}: " + fmt.format(pick(x) / unit) for x in state.series)

    rows = [
        ("simulated span", f"{settings.sim.start} .. {rig.clock.now().date()}"),
        ("wall time", f"{wall:.0f} s (speed {speed}x, {jumps} jumps over idle time)"),
        ("decisions", str(dict(statuses))),
        ("orders at exchange", f"{len(exchange_orders)} ({with_fills} with fills)"),
        ("faults injected", f"http {dict(state.http_faults)} (total {sum(state.http_faults.values())})"),
        ("ws drops", str(state.ws_drops)),
        ("notifications", f"{len(receiver.received)} delivered to the local webhook"),
        ("RSS start", f"daemon {start.daemon_rss / MIB:.0f} MiB, worker {start.worker_rss / MIB:.0f} MiB"),
        (
            "RSS after warm-up",
            f"daemon {base.daemon_rss / MIB:.0f} + worker {base.worker_rss / MIB:.0f} = "
            f"{base.rss / MIB:.0f} MiB (after {base.decisions} decisions)",
        ),
        ("RSS daemon series", series(lambda x: x.daemon_rss, MIB) + " MiB"),
        ("RSS worker series", series(lambda x: x.worker_rss, MIB) + " MiB"),
        ("RSS total series", series(lambda x: x.rss, MIB) + " MiB"),
        (
            "RSS end",
            f"daemon {end.daemon_rss / MIB:.0f} + worker {end.worker_rss / MIB:.0f} = {end.rss / MIB:.0f} MiB"
            f" (growth after warm-up {growth_text}; goal < 200 MiB: {'met' if end.rss < 200 * MIB else 'NOT met'})",
        ),
        ("fds series", series(lambda x: x.fds)),
        ("tasks series", series(lambda x: x.tasks)),
        ("store size series", series(lambda x: x.store_bytes, MIB, "{:.1f}") + " MiB"),
        (
            "store per sim day",
            f"{end.store_bytes / sim_days / 1024:.1f} KiB over {sim_days} days; "
            f"{(end.store_bytes - base.store_bytes) / warm_days / 1024:.1f} KiB/day after warm-up",
        ),
        ("/healthz all", f"{len(overall)} probes, p99 {pct(overall, 0.99)}, max {pct(overall, 1.0)}"),
        ("/healthz decisions", f"{len(during)} probes, p99 {pct(during, 0.99)}, max {pct(during, 1.0)}"),
    ]
    print("\n== daemon soak ==")
    for label, value in rows:
        print(f"{label:<20}: {value}")
    print(f"{'daemon exit code':<20}: {code}")
    if failures:
        print("INVARIANTS FAILED:")
        for failure in failures:
            print(f"  - {failure}")
        return 1
    print(
        f"{'invariants':<20}: zero duplicate orders, every fill recorded, positions reconcile, fds and tasks flat, "
        "RSS growth < 10 %"
    )
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description="Soak: the whole sim daemon for a simulated year with faults on")
    parser.add_argument("--days", type=int, default=252)
    parser.add_argument("--speed", type=float, default=120.0)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--fault-rate", type=float, default=0.02)
    parser.add_argument("--warmup", type=int, default=60, help="decisions before the RSS baseline is taken")
    parser.add_argument("--sample-every", type=int, default=20, help="decisions between two samples")
    parser.add_argument("--trace-memory", action="store_true", help="tracemalloc: where memory grew after warm-up")
    args = parser.parse_args()
    return asyncio.run(
        soak(
            args.days,
            args.speed,
            args.seed,
            args.fault_rate,
            trace_memory=args.trace_memory,
            warmup=args.warmup,
            sample_every=args.sample_every,
        )
    )
