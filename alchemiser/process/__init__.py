"""Process plumbing: the lowest layer a venue adapter may use.

* ``actor`` — :class:`Actor` / :class:`MessageActor` base classes and :class:`BoundedQueue`.
* ``supervisor`` — restarts with backoff and budget, stale-heartbeat detection, ordered shutdown.
* ``breaker`` — :class:`CircuitBreaker`.
* ``metrics`` — :class:`Metrics` (a private Prometheus registry) and the loop-lag monitor.
* ``readiness`` — named readiness conditions behind ``/readyz``.
* ``systemd`` — ``sd_notify`` without a systemd library.
* ``crashpoints`` — named places where ``make chaos`` SIGKILLs the process (inert unless armed).
* ``control_socket`` — the owner-only local control socket (path, permission checks, private bind).

Nothing here knows about trading: these modules import only the foundation (``config``, ``logging``, ``errors``,
``clock``). Submodules are imported explicitly (``from alchemiser.process.actor import Actor``).
"""
