"""Where symphonies are evaluated: off the event loop, in a spawned worker *process* when the engine offers an
``evaluation_call`` (the configured symphonies), else in a worker thread.

The process is spawned when the first refresh or evaluation needs it and kept for the next decision, so CPU-bound
evaluation never holds the daemon's GIL and ``/healthz`` stays fast. Its start-up is bounded separately from the
evaluation timeout; a timeout kills it (a running call cannot be cancelled) and the next call spawns anew; a crashed
worker is a :class:`StrategyError` for that evaluation. (The worker is *spawned*: like any multiprocessing spawn, a
script that embeds the daemon must guard its entry point with ``if __name__ == "__main__":``.)

The worker dies with the daemon (:mod:`.worker_init`: parent-death signal and a parent watch) and holds the worker
lock beside the store; :func:`stop_predecessor_worker` stops a predecessor's worker that still holds it at start.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import multiprocessing
import os
import signal
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from concurrent.futures import Future, ProcessPoolExecutor, ThreadPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from datetime import date
from pathlib import Path
from typing import Any, TypeVar

from alchemiser.broker.models import Bar
from alchemiser.errors import StoreError, StrategyError
from alchemiser.logging import get_logger
from alchemiser.trading.decision_ports import StrategyEngine
from alchemiser.trading.evaluation import Evaluation
from alchemiser.trading.worker_init import init_symphony_worker

log = get_logger("decision")
WORKER_NICENESS = 5  # added to the symphony worker's nice value
T = TypeVar("T")


class SymphonyRunner:
    """Evaluates strategy engines off the loop: one worker thread, and one worker process for remote engines."""

    def __init__(
        self,
        engines: Sequence[StrategyEngine],
        *,
        use_process: bool = True,
        evaluation_timeout: float = 120.0,
        worker_start_timeout: float = 120.0,
        worker_lock: Path | None = None,
    ) -> None:
        self._engines = list(engines)
        self._worker_lock = worker_lock
        self._use_process = use_process
        self.evaluation_timeout = evaluation_timeout
        self._worker_start_timeout = worker_start_timeout
        self._threads = ThreadPoolExecutor(max_workers=1, thread_name_prefix="symphony-eval")
        self._process_pool: ProcessPoolExecutor | None = None
        self._warm_up: Future[Any] | None = None

    @property
    def worker_pid(self) -> int | None:
        """The symphony worker process, while one runs (for /status and the benchmarks' RSS figures)."""
        processes = getattr(self._process_pool, "_processes", None) or {}
        return next(iter(processes), None)

    async def in_thread(self, function: Callable[..., T], *args: Any) -> T:
        """Run ``function`` on the worker thread (CPU work that must not stall the loop, e.g. bar snapshots)."""
        return await asyncio.get_running_loop().run_in_executor(self._threads, function, *args)

    def prewarm(self) -> None:
        """Start the worker process now (if any engine needs it), so a decision does not wait for its imports."""
        if self._use_process and any(callable(getattr(e, "evaluation_call", None)) for e in self._engines):
            self._worker()

    async def evaluate(self, engine: StrategyEngine, bars: Mapping[str, Sequence[Bar]], session: date) -> Evaluation:
        """Run the evaluation in the worker process (or thread), bounded by the evaluation timeout."""
        call = getattr(engine, "evaluation_call", None)
        if call is None or not self._use_process:
            work: Awaitable[Evaluation] = self.in_thread(engine.evaluate, bars, session)
            return await asyncio.wait_for(work, timeout=self.evaluation_timeout)
        pool = await self._ready_worker()
        function, args = await self.in_thread(call, bars, session)
        loop = asyncio.get_running_loop()
        try:
            result: Evaluation = await asyncio.wait_for(
                loop.run_in_executor(pool, function, *args), timeout=self.evaluation_timeout
            )
        except TimeoutError:
            self._stop_worker(kill=True)
            raise
        except BrokenProcessPool as exc:
            self._stop_worker(kill=True)
            raise StrategyError(f"the symphony worker process died ({exc})") from exc
        return result

    def close(self) -> None:
        self._threads.shutdown(wait=False, cancel_futures=True)
        self._stop_worker(kill=False)

    def _worker(self) -> tuple[ProcessPoolExecutor, Future[Any]]:
        """The worker process and its warm-up call (done once the worker has imported what evaluation needs)."""
        if self._process_pool is None or self._warm_up is None:
            # spawn: a fresh interpreter (never a fork of this threaded process); it imports only what evaluation
            # needs. One worker: decisions evaluate their strategies one after the other anyway.
            # Niced: on a busy host the loop (health checks, order updates) wins the CPU over a batch evaluation.
            pool = ProcessPoolExecutor(
                max_workers=1,
                mp_context=multiprocessing.get_context("spawn"),
                initializer=init_symphony_worker,
                initargs=(WORKER_NICENESS, os.getpid(), None if self._worker_lock is None else str(self._worker_lock)),
            )
            warm_up = next((w for e in self._engines if callable(w := getattr(e, "worker_warm_up", None))), os.getpid)
            future: Future[Any] = pool.submit(warm_up)
            future.add_done_callback(_log_warm_up)
            self._process_pool, self._warm_up = pool, future
        return self._process_pool, self._warm_up

    def _stop_worker(self, *, kill: bool) -> None:
        """Shut the worker down; ``kill`` stops a runaway or hung evaluation at once (the next call spawns anew)."""
        pool, self._process_pool, self._warm_up = self._process_pool, None, None
        if pool is None:
            return
        if kill:
            # ProcessPoolExecutor cannot cancel a running call: kill its process (3.14 adds terminate_workers()).
            for process in list(getattr(pool, "_processes", {}).values()):
                process.kill()
        pool.shutdown(wait=False, cancel_futures=True)

    async def _ready_worker(self) -> ProcessPoolExecutor:
        """The worker, once started (its start-up does not count against the evaluation timeout, only this bound)."""
        pool, warm_up = self._worker()
        try:
            await asyncio.wait_for(asyncio.shield(asyncio.wrap_future(warm_up)), timeout=self._worker_start_timeout)
        except TimeoutError as exc:
            self._stop_worker(kill=True)
            raise StrategyError(
                f"the symphony worker process did not start within {self._worker_start_timeout:.0f}s"
            ) from exc
        except (BrokenProcessPool, OSError, ImportError) as exc:
            self._stop_worker(kill=True)
            raise StrategyError(f"the symphony worker process failed to start ({type(exc).__name__}: {exc})") from exc
        return pool


def worker_lock_path(store_path: Path) -> Path:
    """The lock file the symphony worker holds while it lives: ``<store>.worker.lock``."""
    return store_path.with_name(store_path.name + ".worker.lock")


def stop_predecessor_worker(lock_path: Path, timeout: float = 10.0) -> int | None:
    """At start: SIGKILL a previous daemon's symphony worker that still holds ``lock_path``; its pid, or ``None``.

    Only one daemon runs per store (the store lock is taken first), so a held worker lock is an orphan. Raises
    :class:`StoreError` if it cannot be stopped within ``timeout`` seconds: never run beside it."""
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        if _try_lock(fd):
            return None
        text = os.pread(fd, 32, 0).decode(errors="replace").strip()
        pid = int(text) if text.isdigit() else None
        log.warning("symphony_worker_orphan", pid=pid, lock=str(lock_path))
        if pid is not None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGKILL)
        deadline = time.monotonic() + timeout
        while not _try_lock(fd):
            if time.monotonic() > deadline:
                raise StoreError(
                    f"a symphony worker of a previous daemon (pid {pid}) still holds {lock_path} and could not be "
                    "stopped; refusing to run beside it"
                )
            time.sleep(0.05)
        return pid
    finally:
        os.close(fd)


def _try_lock(fd: int) -> bool:
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    fcntl.flock(fd, fcntl.LOCK_UN)
    return True


def _log_warm_up(future: Future[Any]) -> None:
    if future.cancelled():
        return
    error = future.exception()
    if error is None:
        log.debug("symphony_worker_started", pid=future.result())
    else:
        log.warning("symphony_worker_failed", error=f"{type(error).__name__}: {error}")
