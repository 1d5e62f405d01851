"""The daemon: builds every component from ``Settings``, runs until signalled, shuts down in order.

Start: lock the store (one daemon per store file) → open + migrate the store → close runs a crash left open →
record this run → load the latched kill switch → metrics, readiness, supervisor → **plugins** → HTTP server →
supervisor starts the actors → ``READY=1`` to systemd.

Signals: SIGTERM/SIGINT → graceful shutdown bounded by ``supervisor.shutdown_timeout_seconds`` (exit 0; 1 if the
bound was hit); a second SIGTERM/SIGINT forces an immediate exit (128 + signal). SIGHUP → :meth:`Daemon.reload`:
re-read configuration, secrets and strategy files, validate, and apply the reloadable parts (Alpaca keys,
control token, notification URLs, strategies); anything invalid is rejected with a logged reason and the running
configuration stays. Other changed keys are reported as needing a restart.

Plugging in a component (the scheduler, execution, the simulated exchange, …) — write a plugin and list it in
:func:`default_plugins`::

    class ExecutionPlugin:
        name = "execution"

        async def setup(self, ctx: DaemonContext) -> None:
            actor = ExecutionActor(ctx.settings.execution, ctx.clock, ctx.store, ctx.kill_switch)
            ctx.add_actor(actor)                                     # supervised, started in order
            ctx.add_route(Route("/api/rebalance", actor.rebalance_endpoint, methods=["POST"]))  # token-protected
            ctx.add_status("execution", actor.status)                # section in GET /status
            ctx.readiness.register("broker", actor.broker_check)     # condition in GET /readyz
            ctx.add_reload_listener(actor.on_settings)               # after a successful SIGHUP reload
            ctx.add_shutdown_hook(actor.close)                       # after actors stop, before the store closes

Plugins run in list order; ``setup`` raising an ``AlchemiserError`` aborts start with a clear log line. The plugin
API (:class:`DaemonContext`, :class:`DaemonPlugin`) lives in :mod:`alchemiser.daemon.context`.
"""

from __future__ import annotations

import asyncio
import inspect
import os
import signal
from collections.abc import Awaitable, Callable, Mapping
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo

from alchemiser import __version__
from alchemiser.clock import Clock, RealClock
from alchemiser.config import Settings, load_settings
from alchemiser.daemon.context import DaemonContext, DaemonPlugin, ReloadListener, ReloadValidator, ShutdownHook
from alchemiser.daemon.plugins import daemon_plugins
from alchemiser.daemon.reload import (
    apply_reloadable,
    changed_reloadable_keys,
    restart_required_keys,
    strategy_digests,
    validate_strategy_files,
)
from alchemiser.daemon.sim_mode import sim_clock
from alchemiser.daemon.store_health import watch_store_health
from alchemiser.daemon.store_lock import StoreLock
from alchemiser.errors import AlchemiserError, ConfigError
from alchemiser.logging import Redactor, bind_run_id, get_logger, reclaim_stdlib_loggers
from alchemiser.process.control_socket import socket_path
from alchemiser.process.forced_exit import exit_now
from alchemiser.process.metrics import LoopLagMonitor, Metrics
from alchemiser.process.readiness import Check, Readiness, ReadinessFlag
from alchemiser.process.supervisor import Supervisor, SupervisorAlert
from alchemiser.process.systemd import SystemdNotifier
from alchemiser.services import control
from alchemiser.services.daemon_view import DaemonView, StatusProvider
from alchemiser.services.preflight import require_preflight
from alchemiser.store.audit import AuditLog
from alchemiser.store.database import Store
from alchemiser.store.kill_switch import KillSwitch, KillSwitchState
from alchemiser.store.operator_requests import OperatorRequests
from alchemiser.store.runs import RunRepository, new_run_id
from alchemiser.web.app import build_app
from alchemiser.web.server import HttpServer

NEW_YORK = ZoneInfo("America/New_York")

EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_CONFIG = 2


def default_plugins(settings: Settings) -> list[DaemonPlugin]:
    """The components every daemon runs, in start order (see :mod:`alchemiser.daemon.plugins`)."""
    return daemon_plugins(settings)


def build_clock(settings: Settings) -> Clock:
    """The domain clock: wall time in paper/live; in sim, accelerated by ``sim.speed`` from ``sim.start``.

    ``sim.start`` (a date) starts the simulated clock at 09:00 New York time that day. Without an explicit
    ``sim.speed`` sim runs as a demo (accelerated, starting shortly before a decision; see
    :func:`alchemiser.daemon.sim_mode.sim_clock`).
    """
    if settings.mode != "sim":
        return RealClock()
    return sim_clock(settings)


class Daemon:
    def __init__(
        self,
        settings: Settings,
        *,
        config_path: Path | str | None = None,
        overrides: Mapping[str, Any] | None = None,
        secrets_dir: Path | Literal["auto"] | None = "auto",
        plugins: list[DaemonPlugin] | None = None,
        clock: Clock | None = None,
        runtime_clock: Clock | None = None,
        redactor: Redactor | None = None,
        systemd: SystemdNotifier | None = None,
        handle_signals: bool = True,
        on_started: Callable[[str], None] | None = None,
    ) -> None:
        self.settings = settings
        self._config_path = config_path
        self._overrides = dict(overrides or {})
        self._secrets_dir = secrets_dir
        self._plugins = plugins if plugins is not None else default_plugins(settings)
        self.clock = clock or build_clock(settings)
        self.runtime_clock = runtime_clock or RealClock()
        self.redactor = redactor or Redactor(settings.secret_values())
        self._systemd = systemd or SystemdNotifier()
        self._handle_signals = handle_signals
        self._on_started = on_started  # told the HTTP URL once the daemon serves (``make run`` prints a login link)
        self.reload_validators: list[ReloadValidator] = [validate_strategy_files]
        self.reload_listeners: list[ReloadListener] = []
        self.shutdown_hooks: list[ShutdownHook] = []
        self.liveness_probes: list[Callable[[], Check]] = []
        self._stop_event = asyncio.Event()
        self._stop_reason = ""
        self._signals_seen = 0
        self._reload_lock = asyncio.Lock()
        self._background: set[asyncio.Task[Any]] = set()
        self._log = get_logger("daemon")
        self.context: DaemonContext | None = None
        self.http: HttpServer | None = None
        self._store: Store | None = None
        self._lock: StoreLock | None = None
        self._lag: LoopLagMonitor | None = None
        self._startup_flag: ReadinessFlag | None = None

    # ------------------------------------------------------------------------------------------ running

    async def run(self) -> int:
        """Start, serve until a stop is requested, shut down. Returns the process exit code."""
        if self._handle_signals:
            self._install_signal_handlers()
        try:
            try:
                await self._startup()
            except ConfigError as exc:
                self._log.critical("daemon.start_failed", error=str(exc), problems=exc.problems)
                await self._cleanup_after_failed_start()
                return EXIT_CONFIG
            except (AlchemiserError, OSError) as exc:
                self._log.critical("daemon.start_failed", error=str(exc), error_type=type(exc).__name__)
                await self._cleanup_after_failed_start()
                return EXIT_FAILURE
            await self._stop_event.wait()
            return await self._shutdown()
        finally:
            if self._handle_signals:
                self._remove_signal_handlers()

    def request_stop(self, reason: str = "requested") -> None:
        if not self._stop_event.is_set():
            self._stop_reason = reason
            self._stop_event.set()

    @property
    def stopping(self) -> bool:
        return self._stop_event.is_set()

    async def _startup(self) -> None:
        settings = self.settings
        self._log.info(
            "daemon.starting", mode=settings.mode, version=__version__, pid=os.getpid(), store=str(settings.store.path)
        )
        if settings.mode == "live":
            self._log.warning("daemon.live_trading", message="LIVE mode: orders use real money")
        await asyncio.to_thread(require_preflight, settings, self._log)  # the very checks of ``check-config``
        self._lock = StoreLock(settings.store.path)
        self._lock.acquire()
        store = await Store.open(settings.store.path, clock=self.runtime_clock)
        self._store = store
        runs = RunRepository(store, self.runtime_clock)
        abandoned = await runs.mark_abandoned()
        run_id = new_run_id(self.runtime_clock)
        bind_run_id(run_id)
        audit = AuditLog(store, self.runtime_clock, run_id)
        await runs.start(run_id, mode=settings.mode, version=__version__)
        if abandoned:
            self._log.warning("daemon.previous_run_crashed", run_ids=abandoned)
            await audit.append("daemon.previous_run_crashed", data={"run_ids": abandoned})
        await audit.append("daemon.started", data={"mode": settings.mode, "version": __version__, "pid": os.getpid()})
        kill_switch = KillSwitch(store, audit, self.runtime_clock)
        await kill_switch.load()
        requests = OperatorRequests(store, audit, self.runtime_clock, run_id)
        await control.recover_requests(requests, kill_switch)  # what a crash left open (each one is logged)
        state = kill_switch.state
        if state.engaged:
            self._log.warning("kill_switch.latched_at_start", reason=state.reason, since=state.changed_at.isoformat())

        metrics = Metrics(mode=settings.mode)
        metrics.kill_switch.set(1 if state.engaged else 0)

        async def export_kill_switch(changed: KillSwitchState) -> None:
            metrics.kill_switch.set(1 if changed.engaged else 0)

        kill_switch.add_listener(export_kill_switch)
        readiness = Readiness()
        self._startup_flag = readiness.flag("startup", reason="starting")
        readiness.register("kill_switch", lambda: control.kill_switch_check(kill_switch))
        watch_store_health(store, readiness)
        supervisor = Supervisor.from_settings(
            settings.supervisor, self.runtime_clock, metrics=metrics, readiness=readiness
        )

        async def audit_alert(alert: SupervisorAlert) -> None:
            await audit.append("supervisor.gave_up", data={"actor": alert.actor, "message": alert.message})

        supervisor.add_alert_listener(audit_alert)
        status_providers: dict[str, StatusProvider] = {"operator_requests": requests.status}
        view = DaemonView(  # before the plugins: the dashboard's controls go through the same commands as the API
            mode=settings.mode,
            version=__version__,
            run_id=run_id,
            started_at=self.runtime_clock.now(),
            runtime_clock=self.runtime_clock,
            domain_clock=self.clock,
            readiness=readiness,
            metrics=metrics,
            supervisor=supervisor,
            kill_switch=kill_switch,
            control_token=lambda: self.settings.control_token,
            default_kill_action=lambda: self.settings.risk.kill_switch_action,
            status_providers=status_providers,  # the same dict the plugins fill through the context
            liveness=self.liveness_probes,
            accepted_hosts=lambda: self.settings.http.dashboard_hosts(),  # noqa: PLW0108 - settings change on reload
            requests=requests,
        )
        ctx = DaemonContext(
            daemon=self,
            clock=self.clock,
            runtime_clock=self.runtime_clock,
            store=store,
            audit=audit,
            kill_switch=kill_switch,
            runs=runs,
            run_id=run_id,
            metrics=metrics,
            readiness=readiness,
            supervisor=supervisor,
            redactor=self.redactor,
            status_providers=status_providers,
            view=view,
            requests=requests,
        )
        self.context = ctx
        for plugin in self._plugins:
            self._log.debug("daemon.plugin_setup", plugin=plugin.name)
            await plugin.setup(ctx)

        self.http = HttpServer(
            build_app(view, ctx.routes),
            settings.http.host,
            settings.http.port,
            local_socket=socket_path(settings.store.path),
        )
        await self.http.start()
        reclaimed = reclaim_stdlib_loggers()  # a plugin's uvicorn may have taken its loggers out of redaction
        if reclaimed:
            self._log.debug("logging.reclaimed", loggers=reclaimed)
        self._lag = LoopLagMonitor(metrics)
        self._lag.start()
        ctx.add_status("loop_lag", self._lag.summary)
        await supervisor.start()
        self._startup_flag.set_ok("started")
        self._systemd.ready(f"{settings.mode} mode, http {self.http.url}")
        if self._on_started is not None:
            self._on_started(self.http.url)
        self._spawn(self._watchdog_pings(supervisor), "systemd-watchdog")
        self._log.info(
            "daemon.started",
            url=self.http.url,
            actors=supervisor.actor_names,
            kill_switch=state.engaged,
            control_api=settings.control_token is not None,
        )

    async def _shutdown(self) -> int:
        settings = self.settings
        bound = settings.supervisor.shutdown_timeout_seconds
        self._log.info("daemon.stopping", reason=self._stop_reason, bound_seconds=bound)
        self._systemd.stopping()
        if self._startup_flag is not None:
            self._startup_flag.set_failed("shutting down")
        loop = asyncio.get_running_loop()
        deadline = loop.time() + bound
        clean = True
        try:
            async with asyncio.timeout(bound):
                ctx = self.context
                if ctx is not None:
                    clean = await ctx.supervisor.stop(max(0.5, (deadline - loop.time()) * 0.8))
                for hook in reversed(self.shutdown_hooks):
                    clean = await self._run_shutdown_hook(hook) and clean
                if self.http is not None:
                    await self.http.stop(grace=max(0.1, min(5.0, deadline - loop.time())))
                if self._lag is not None:
                    await self._lag.stop()
                await self._cancel_background()
                if ctx is not None:
                    await ctx.audit.append("daemon.stopped", data={"reason": self._stop_reason, "clean": clean})
                    await ctx.runs.finish(ctx.run_id, status="stopped", reason=self._stop_reason)
        except TimeoutError:
            self._log.error("daemon.shutdown_timeout", bound_seconds=bound)
            clean = False
            code = EXIT_FAILURE
        else:
            code = EXIT_OK
        await self._close_store()
        self._log.info("daemon.stopped", reason=self._stop_reason, clean=clean, exit_code=code)
        return code

    async def _run_shutdown_hook(self, hook: ShutdownHook) -> bool:
        try:
            result = hook()
            if inspect.isawaitable(result):
                await result
        except (AlchemiserError, OSError) as exc:
            self._log.error("daemon.shutdown_hook_failed", hook=repr(hook), error=str(exc), exc_info=exc)
            return False
        return True

    async def _cleanup_after_failed_start(self) -> None:
        ctx = self.context
        if ctx is not None:
            await ctx.supervisor.stop(5.0)
            await ctx.runs.finish(ctx.run_id, status="stopped", reason="start failed")
        if self.http is not None:
            await self.http.stop(grace=1.0)
        if self._lag is not None:
            await self._lag.stop()
        await self._cancel_background()
        await self._close_store()

    async def _close_store(self) -> None:
        if self._store is not None:
            await self._store.close()
            self._store = None
        if self._lock is not None:
            self._lock.release()
            self._lock = None

    # ------------------------------------------------------------------------------------------ signals

    def _install_signal_handlers(self) -> None:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, self._on_stop_signal, sig)
        loop.add_signal_handler(signal.SIGHUP, self._on_hup)

    def _remove_signal_handlers(self) -> None:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            loop.remove_signal_handler(sig)

    def _on_stop_signal(self, sig: signal.Signals) -> None:
        self._signals_seen += 1
        if self._signals_seen == 1:
            self._log.info("daemon.signal", signal=sig.name, action="graceful shutdown")
            self.request_stop(f"signal {sig.name}")
            return
        self._log.critical("daemon.forced_exit", signal=sig.name, message="second signal: exiting immediately")
        exit_now(128 + int(sig))

    def _on_hup(self) -> None:
        self._log.info("daemon.signal", signal="SIGHUP", action="reload")
        self._spawn(self.reload(), "reload")

    def _spawn(self, coro: Awaitable[Any], name: str) -> None:
        task = asyncio.ensure_future(coro)
        task.set_name(name)
        self._background.add(task)
        task.add_done_callback(self._background_done)

    def _background_done(self, task: asyncio.Task[Any]) -> None:
        self._background.discard(task)
        if not task.cancelled() and task.exception() is not None:
            exc = task.exception()
            self._log.error("daemon.background_task_failed", task=task.get_name(), error=str(exc), exc_info=exc)

    async def _cancel_background(self) -> None:
        for task in list(self._background):
            task.cancel()
        await asyncio.gather(*self._background, return_exceptions=True)

    async def _watchdog_pings(self, supervisor: Supervisor) -> None:
        interval = self._systemd.watchdog_interval()
        if interval is None:
            return
        while not self.stopping:
            live = supervisor.liveness()
            if live.ok:
                self._systemd.watchdog()
            else:
                self._log.error("systemd.watchdog_withheld", reason=live.reason)
            await self.runtime_clock.sleep(interval)

    # ------------------------------------------------------------------------------------------ reload

    async def reload(self) -> bool:
        """Re-read configuration; apply secrets and strategies if everything validates. ``True`` if applied."""
        async with self._reload_lock:
            self._systemd.reloading()
            try:
                applied = await self._reload()
            finally:
                self._systemd.ready("reloaded")
            return applied

    async def _reload(self) -> bool:
        old = self.settings
        try:
            candidate = await asyncio.to_thread(
                load_settings, self._config_path, self._overrides, secrets_dir=self._secrets_dir
            )
        except ConfigError as exc:
            await self._reject_reload(exc.problems)
            return False
        new = apply_reloadable(old, candidate)
        try:
            for validator in self.reload_validators:
                result = validator(new)
                if inspect.isawaitable(result):
                    await result
        except ConfigError as exc:
            await self._reject_reload(exc.problems)
            return False
        except AlchemiserError as exc:
            await self._reject_reload([str(exc)])
            return False
        restart_only = restart_required_keys(new, candidate)
        self.redactor.update([*old.secret_values(), *new.secret_values()])
        self.settings = new
        changed = changed_reloadable_keys(old, new)
        digests = strategy_digests(new)
        self._log.info("config.reloaded", changed=changed, restart_required=restart_only, strategies=digests)
        if restart_only:
            self._log.warning("config.reload_needs_restart", keys=restart_only)
        if self.context is not None:
            await self.context.audit.append(
                "config.reloaded", data={"changed": changed, "restart_required": restart_only, "strategies": digests}
            )
        for listener in self.reload_listeners:
            result = listener(new, old)
            if inspect.isawaitable(result):
                await result
        return True

    async def _reject_reload(self, problems: list[str]) -> None:
        self._log.error("config.reload_rejected", problems=problems, message="keeping the running configuration")
        if self.context is not None:
            await self.context.audit.append("config.reload_rejected", data={"problems": problems})
