"""Runtime: the shell around the domain — actors, supervisor, circuit breakers, metrics, readiness, HTTP, daemon.

* ``actor`` — :class:`Actor` / :class:`MessageActor` base classes and :class:`BoundedQueue`.
* ``supervisor`` — restarts with backoff and budget, stale-heartbeat detection, ordered shutdown.
* ``breaker`` — :class:`CircuitBreaker`.
* ``metrics`` — :class:`Metrics` (a private Prometheus registry) and the loop-lag monitor.
* ``readiness`` — named readiness conditions behind ``/readyz``.
* ``http`` — the Starlette app and the uvicorn server embedded in the daemon's loop.
* ``daemon`` — wiring from ``Settings``; components plug in as :class:`~alchemiser.runtime.daemon.DaemonPlugin`.
* ``systemd`` — ``sd_notify`` without a systemd library.

Submodules are imported explicitly (``from alchemiser.runtime.actor import Actor``) to keep start-up cheap.
"""
