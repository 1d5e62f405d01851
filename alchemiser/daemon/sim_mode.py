"""``sim`` mode: the simulated exchange embedded in the daemon, on loopback, on the daemon's own clock.

* ``sim_clock(settings)`` — the domain clock. Unless ``sim.speed`` is set explicitly, sim runs as a *demo*: an
  ``AcceleratedClock`` at ``DEMO_SPEED`` starting a minute before the data refresh of the latest session's decision,
  so a newcomer sees refresh → decision → orders → fills within a minute. ``sim.speed = 1`` (explicitly, e.g.
  ``ALCHEMISER_SIM__SPEED=1``) runs at real speed from ``sim.start`` (09:00 New York) or from now.
* ``SimPlugin`` — builds the exchange (synthetic or CSV market, including every symbol the symphonies use), serves
  Alpaca's REST + ``trade_updates`` protocol on ``127.0.0.1:<free port>`` with the SAME clock as the daemon, and
  exposes the endpoints the trading plugin points the real Alpaca adapter at. With ``fast_forward`` it also runs
  ``FastForward``: when nothing is happening (no decision running, no open order) it jumps the accelerated clock
  to shortly before the next data refresh, skipping nights and weekends. While a decision evaluates its symphonies
  the accelerated clock runs at real speed: that work takes host time, not market time, and at 120× a slow or busy
  host would otherwise see the simulated market close between the decision and its orders.

When ``alpaca.trading_url`` is configured in sim mode (a standalone ``alchemiser sim-exchange``), nothing is
embedded: the trading plugin talks to that URL like to Alpaca.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import UTC, date, datetime, time, timedelta
from typing import Protocol

from alchemiser.adapters.alpaca import AlpacaCredentials, AlpacaEndpoints
from alchemiser.clock import AcceleratedClock, Clock, RealClock
from alchemiser.config import Settings
from alchemiser.daemon.context import DaemonContext
from alchemiser.daemon.sim_world import SimStateSaver, open_world
from alchemiser.errors import AlchemiserError, ConfigError
from alchemiser.logging import get_logger
from alchemiser.process.actor import Actor
from alchemiser.sim import ExchangeConfig, SimOptions, build_sim
from alchemiser.sim.corporate_events import load_events_csv
from alchemiser.sim.faults import FaultConfig
from alchemiser.sim.persist import SavedWorld, read_state, restore, state_path
from alchemiser.sim.server import DEFAULT_KEY_ID, DEFAULT_SECRET_KEY, SimExchangeServer
from alchemiser.store.backup import SIM_STATE_SAVE_SECONDS
from alchemiser.trading.schedule import NEW_YORK, DecisionSlot, TradingCalendar
from alchemiser.trading.strategies import load_engines

log = get_logger("sim_mode")
DEMO_SPEED = 30.0
DEMO_LEAD = timedelta(minutes=1)


def embedded(settings: Settings) -> bool:
    """Sim mode without configured Alpaca URLs embeds the exchange."""
    return settings.mode == "sim" and settings.alpaca.trading_url is None


def demo_mode(settings: Settings) -> bool:
    return settings.mode == "sim" and "speed" not in settings.sim.model_fields_set


def latest_session_before(calendar: TradingCalendar, today: date) -> date:
    return calendar.previous_session(today).day


def saved_world(settings: Settings) -> SavedWorld | None:
    """The embedded exchange's saved state beside the store, if any (an unreadable one is reported at setup)."""
    if not embedded(settings):
        return None
    try:
        return read_state(state_path(settings.store.path))
    except ConfigError:
        return None


def sim_clock(settings: Settings, *, today: date | None = None, calendar: TradingCalendar | None = None) -> Clock:
    """The daemon's domain clock in sim mode (see the module docstring); a saved exchange's clock continues."""
    if settings.mode != "sim":
        return RealClock()
    sim = settings.sim
    saved = saved_world(settings)
    if saved is not None:
        return AcceleratedClock(saved.clock, speed=DEMO_SPEED if demo_mode(settings) else sim.speed)
    if not demo_mode(settings):
        if sim.start is None and sim.speed == 1.0:
            return RealClock()
        start = (
            datetime.now(UTC)
            if sim.start is None
            else datetime.combine(sim.start, time(9, 0), NEW_YORK).astimezone(UTC)
        )
        return AcceleratedClock(start, speed=sim.speed)
    cal = calendar or TradingCalendar(
        minutes_before_close=settings.schedule.minutes_before_close,
        data_refresh_lead_minutes=settings.schedule.data_refresh_lead_minutes,
    )
    day = sim.start or latest_session_before(cal, today or datetime.now(NEW_YORK).date())
    slot = cal.slot(day) or cal.next_decision(datetime.combine(day, time(0), NEW_YORK).astimezone(UTC))
    return AcceleratedClock(slot.refresh_at - DEMO_LEAD, speed=DEMO_SPEED)


class SimPlugin:
    """Embed the simulated exchange (see the module docstring). Must be set up before the trading plugin."""

    name = "sim"

    def __init__(
        self,
        *,
        faults: FaultConfig | None = None,
        fault_seed: int = 0,
        fast_forward: bool | None = None,
        symbols: Callable[[], list[str]] | None = None,
        exchange: ExchangeConfig | None = None,
        fast_forward_margin: timedelta = timedelta(minutes=1),
        persist: bool = True,
        save_interval: float = SIM_STATE_SAVE_SECONDS,
    ) -> None:
        self._persist = persist
        self._save_interval = save_interval
        self.saver: SimStateSaver | None = None
        self._margin = fast_forward_margin
        self._faults = faults
        self._fault_seed = fault_seed
        self._fast_forward = fast_forward
        self._symbols = symbols
        self._exchange_config = exchange
        self.server: SimExchangeServer | None = None
        self.forwarder: FastForward | None = None
        #: set up from a saved exchange state (a continued world): the trading stack reconciles against the store
        self.continued = False

    @property
    def credentials(self) -> AlpacaCredentials:
        return AlpacaCredentials.of(DEFAULT_KEY_ID, DEFAULT_SECRET_KEY)

    def endpoints(self) -> AlpacaEndpoints:
        if self.server is None:
            raise ConfigError(["sim: the embedded exchange has not been started (plugin order: sim before trading)"])
        return AlpacaEndpoints(
            trading_url=self.server.base_url, data_url=self.server.base_url, stream_url=self.server.stream_url
        )

    async def setup(self, ctx: DaemonContext) -> None:
        settings = ctx.settings
        now = ctx.clock.now()
        symbols = self._symbols() if self._symbols is not None else _strategy_symbols(settings)
        config = self._exchange_config or ExchangeConfig(initial_cash=settings.sim.initial_cash, seed=settings.sim.seed)
        events_file = settings.sim.corporate_actions
        events = load_events_csv(events_file) if events_file is not None else ()
        world = await open_world(ctx.store, settings.store.path, ctx.clock) if self._persist else None
        saved = None if world is None else world.saved
        options = SimOptions(
            corporate_events=events,
            data=settings.sim.data,
            seed=settings.sim.seed,
            start=saved.market_start if saved else settings.sim.start or now.astimezone(NEW_YORK).date(),
            always_open=settings.sim.always_open,
            exchange=replace(config),
        )
        try:
            parts = build_sim(options, now=now, extra_symbols=symbols)
        except (ValueError, AlchemiserError) as exc:
            raise ConfigError([f"sim: cannot build the simulated exchange: {exc}"]) from exc
        if saved is not None:
            restore(parts.exchange, saved)
            self.continued = True
        if world is not None:
            self.saver = SimStateSaver(
                parts.exchange,
                world,
                clock=ctx.clock,
                runtime_clock=ctx.runtime_clock,
                market_start=parts.start,
                interval=self._save_interval,
            )
            self.saver.save()  # at once: a crash before the first periodic save must not orphan the store's world
            ctx.add_actor(self.saver, critical=False)
            ctx.add_shutdown_hook(self.saver.save)
        server = SimExchangeServer(parts.exchange, clock=ctx.clock, faults=self._faults, fault_seed=self._fault_seed)
        await server.start()
        self.server = server
        ctx.add_shutdown_hook(server.stop)
        ctx.add_status(
            "sim",
            lambda: {
                "exchange_url": server.base_url,
                "clock": ctx.clock.now().isoformat(),
                "speed": getattr(ctx.clock, "speed", 1.0),
                "market": str(settings.sim.data),
                "demo": demo_mode(settings),
            },
        )
        log.info(
            "sim_exchange_started",
            url=server.base_url,
            clock=now.isoformat(),
            speed=getattr(ctx.clock, "speed", 1.0),
            symbols=len(symbols),
            continued=saved is not None,
        )
        fast_forward = demo_mode(settings) if self._fast_forward is None else self._fast_forward
        if fast_forward and isinstance(ctx.clock, AcceleratedClock):
            self.forwarder = FastForward(ctx.clock, ctx.runtime_clock, server, margin=self._margin)
            ctx.add_actor(self.forwarder, critical=False)


def _strategy_symbols(settings: Settings) -> list[str]:
    return sorted({s for engine in load_engines(settings.strategies) for s in engine.symbols})


class SchedulerLike(Protocol):
    phase: str
    next_slot: DecisionSlot | None

    @property
    def busy(self) -> bool: ...

    @property
    def evaluating(self) -> bool: ...


IdleProbe = Callable[[], bool]
NextInstant = Callable[[], datetime | None]


class FastForward(Actor):
    """Skip idle simulated time: when ``idle()`` holds and the next interesting instant is far, jump to just before it.

    ``idle`` and ``next_instant`` are wired by the trading plugin (scheduler phase, running decision, open orders at
    the exchange); until then the actor does nothing.
    """

    def __init__(
        self,
        clock: AcceleratedClock,
        runtime_clock: Clock,
        server: SimExchangeServer,
        *,
        interval: float = 0.2,
        margin: timedelta = timedelta(minutes=1),
        min_jump: timedelta = timedelta(seconds=30),
    ) -> None:
        super().__init__("sim_fast_forward", runtime_clock, heartbeat_timeout=60.0)
        self._sim_clock = clock
        self._server = server
        self._interval = interval
        self._margin = margin
        self._min_jump = min_jump
        self.idle_probe: IdleProbe | None = None
        self.hold_probe: IdleProbe | None = None  # True while simulated time must pass at real speed
        self.next_instant: NextInstant | None = None
        self.jumps = 0
        self._held_speed: float | None = None

    def open_orders(self) -> int:
        return len(self._server.exchange.list_orders(status="open", limit=500))

    async def run(self) -> None:
        while not self.stop_requested:
            self.step()
            await self.sleep(self._interval)

    def step(self) -> bool:
        """Jump if possible; True when the clock moved."""
        self._hold_at_real_speed(self.hold_probe is not None and self.hold_probe())
        if self.idle_probe is None or self.next_instant is None:
            return False
        if not self.idle_probe() or self.open_orders():
            return False
        target = self.next_instant()
        if target is None:
            return False
        now = self._sim_clock.now()
        if target - now < self._min_jump + self._margin:
            return False
        self._sim_clock.jump_to(target - self._margin)
        self.jumps += 1
        log.debug("sim_clock_jump", to=(target - self._margin).isoformat(), jumps=self.jumps)
        return True

    def _hold_at_real_speed(self, hold: bool) -> None:
        if hold and self._held_speed is None and self._sim_clock.speed > 1.0:
            self._held_speed = self._sim_clock.speed
            self._sim_clock.set_speed(1.0)
            log.debug("sim_clock_held", speed=1.0)
        elif not hold and self._held_speed is not None:
            self._sim_clock.set_speed(self._held_speed)
            log.debug("sim_clock_released", speed=self._held_speed)
            self._held_speed = None


class SimLinkPlugin:
    """Connects the fast-forward of the embedded exchange to the scheduler (set up after the trading plugin)."""

    name = "sim_link"

    def __init__(
        self,
        sim: SimPlugin,
        scheduler: Callable[[], SchedulerLike | None],
        *,
        wakes: Sequence[Callable[[], datetime | None]] = (),
    ) -> None:
        self._sim = sim
        self._scheduler = scheduler
        self._wakes = wakes  # other instants a jump must not skip (e.g. the session-close account snapshot)

    async def setup(self, ctx: DaemonContext) -> None:
        forwarder = self._sim.forwarder
        scheduler = self._scheduler()
        if forwarder is None or scheduler is None:
            return
        forwarder.idle_probe = lambda: (
            scheduler.phase in ("waiting_refresh", "waiting_decision", "idle") and not scheduler.busy
        )
        forwarder.hold_probe = lambda: scheduler.evaluating

        def next_instant() -> datetime | None:
            slot = scheduler.next_slot
            if slot is None:
                return None
            target = slot.decision_at if scheduler.phase == "waiting_decision" else slot.refresh_at
            now = ctx.clock.now()
            wakes = [w for w in (wake() for wake in self._wakes) if w is not None and w > now]
            return min([target, *wakes])

        forwarder.next_instant = next_instant
