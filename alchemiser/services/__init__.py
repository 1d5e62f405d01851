"""The query and command layer that every surface reads through: JSON routes, HTML pages and the CLI.

* ``daemon_view`` — :class:`DaemonView`, the read side of a running daemon (clocks, readiness, supervisor, kill
  switch, status sections registered by components).
* ``status`` — the ``/status`` snapshot and the liveness answer.
* ``control`` — operator commands on the kill switch (engage with an action, resume), audited with who and why;
  ``controls`` — the dashboard's validation of those commands' input (a reason, an action) with HTTP statuses.
* the dashboard's pages, one module per page's data: ``overview``, ``positions``, ``strategies``, ``decisions``,
  ``orders``, ``events``, ``account`` (equity curve) — pure reads from the store and the live components
  (:class:`~alchemiser.services.sources.LiveSources`), returning typed dataclasses; ``jsonable`` makes the JSON twin.
* ``format`` — money, weights and times for people (the dashboard, ``/status`` and the CLI).

A page and its JSON twin call the same function here, so they can never disagree.
"""
