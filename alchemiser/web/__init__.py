"""The HTTP surface: health, readiness, metrics, status and the token-protected control API (and the dashboard).

* ``app`` — the Starlette app (built-in endpoints, auth middleware) and the uvicorn server in the daemon's loop.
* ``decision_routes`` — the operator routes of the decision side (decisions, rebalance, reconcile accept).

Pages and JSON read through :mod:`alchemiser.services`, so the two can never disagree.
"""
