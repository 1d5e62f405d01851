"""One simulated world across runs: the embedded exchange's saved state and the store must belong together.

At start (:func:`open_world`): the saved state (``sim/persist.py``) carries a ``world_id``; the store records the
same id (``store/sim_world.py``).

* no saved state, store without history → a new world (id recorded in the store, state saved from now on);
* saved state and store with the same id → the exchange continues (account, positions, open orders, clock);
* anything else (state without the store, a store from another world, a store with decisions but no saved exchange
  — e.g. from before this existed) → ``ConfigError`` saying what disagrees and the command that fixes it
  (``alchemiser run --fresh``). Never a silent start against an account the store does not describe.

While running, :class:`SimStateSaver` writes the state whenever the exchange changed (every ``interval`` wall
seconds at most) and once more at shutdown, so a crash loses at most a few seconds of simulated trading.
"""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

from alchemiser.clock import Clock
from alchemiser.daemon.store_lock import StoreLock
from alchemiser.errors import ConfigError
from alchemiser.logging import get_logger
from alchemiser.process.actor import Actor
from alchemiser.sim.core import SimExchange
from alchemiser.sim.persist import SavedWorld, read_state, snapshot, state_path, write_state
from alchemiser.store.backup import SIM_STATE_SAVE_SECONDS
from alchemiser.store.database import Store
from alchemiser.store.sim_world import has_trading_history, record_world, recorded_world

log = get_logger("sim_world")
FIX = "`alchemiser run --fresh` (or `make run-fresh`) archives this store and starts a new simulated account"


@dataclass(frozen=True, slots=True)
class World:
    world_id: str
    saved: SavedWorld | None  # None: a new world
    path: Path


async def open_world(store: Store, store_path: Path, clock: Clock) -> World:
    """Check the saved exchange state against the store (see the module docstring)."""
    path = state_path(store_path)
    saved = read_state(path)
    recorded = await recorded_world(store)
    if saved is None:
        if recorded is not None:
            raise ConfigError(
                [f"sim: the store {store_path} belongs to simulated world {recorded}, but its exchange state {path} "
                 f"is missing; {FIX}"]
            )  # fmt: skip
        if await has_trading_history(store):
            raise ConfigError(
                [f"sim: the store {store_path} holds decisions and orders from an earlier simulated account that "
                 f"was not saved (no {path}); continuing would trade a fresh account against them; {FIX}"]
            )  # fmt: skip
        world_id = str(uuid.uuid4())
        await record_world(store, world_id, clock.now())
        log.info("sim_world.created", world_id=world_id)
        return World(world_id, None, path)
    if recorded != saved.world_id:
        what = "records no simulated world" if recorded is None else f"belongs to simulated world {recorded}"
        raise ConfigError(
            [f"sim: the exchange state {path} is world {saved.world_id} but the store {store_path} {what}; {FIX}"]
        )
    log.info("sim_world.continued", world_id=saved.world_id, clock=saved.clock.isoformat())
    return World(saved.world_id, saved, path)


class SimStateSaver(Actor):
    """Saves the exchange's state when it changed (at most every ``interval`` wall seconds) and at :meth:`save`."""

    def __init__(
        self,
        exchange: SimExchange,
        world: World,
        *,
        clock: Clock,
        runtime_clock: Clock,
        market_start: date,
        interval: float = SIM_STATE_SAVE_SECONDS,
    ) -> None:
        super().__init__("sim_state_saver", runtime_clock, heartbeat_timeout=120.0)
        self._exchange = exchange
        self._world = world
        self._sim_clock = clock
        self._market_start = market_start
        self._interval = interval
        self._saved_mark: tuple[int, int] | None = None
        self.saves = 0

    def _mark(self) -> tuple[int, int]:
        return self._exchange.event_count, self._exchange.order_count

    async def run(self) -> None:
        while not self.stop_requested:
            await self.sleep(self._interval)
            if self._mark() != self._saved_mark:
                mark, state = self._mark(), self._snapshot()
                await asyncio.to_thread(write_state, self._world.path, state)  # the fsync stays off the loop
                self._saved(mark)

    def save(self) -> None:
        """Write the state now (the simulated clock as it reads now)."""
        mark, state = self._mark(), self._snapshot()
        write_state(self._world.path, state)
        self._saved(mark)

    def _snapshot(self) -> dict[str, Any]:
        return snapshot(
            self._exchange,
            world_id=self._world.world_id,
            clock=self._sim_clock.now(),
            market_start=self._market_start,
        )

    def _saved(self, mark: tuple[int, int]) -> None:
        self._saved_mark = mark
        self.saves += 1


def archive_world(store_path: Path, stamp: datetime) -> Path | None:
    """Move the store (with its WAL files) and the exchange state into ``archive/<name>-<stamp>/`` beside them.

    Refuses (``StoreError``) while a daemon holds the store. Returns the archive folder, or ``None`` when there was
    nothing to archive.
    """
    lock = StoreLock(store_path)
    lock.acquire()
    try:
        files = [
            path
            for path in (
                store_path,
                store_path.with_name(store_path.name + "-wal"),
                store_path.with_name(store_path.name + "-shm"),
                state_path(store_path),
            )
            if path.exists()
        ]
        if not files:
            return None
        folder = store_path.parent / "archive" / f"{store_path.name}-{stamp.strftime('%Y%m%dT%H%M%S')}"
        folder.mkdir(parents=True, exist_ok=False)
        for path in files:
            path.rename(folder / path.name)
        log.info("sim_world.archived", folder=str(folder), files=[p.name for p in files])
        return folder
    finally:
        lock.release()
