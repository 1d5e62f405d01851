"""The trading day: when to decide, with which data, what to hold, and how the account is kept honest.

* ``schedule`` — decision slots from the exchange calendar (holidays, early closes, late windows).
* ``scheduler`` — the actor that fires decisions at their slots.
* ``data_refresh`` — daily bars for the strategy universe before each decision.
* ``strategies`` — the configured symphonies and their weights.
* ``decision`` — one decision cycle: evaluate → merge → plan → hand to execution, with a stored trace.
* ``rebalancing`` — each strategy's book rule (calendar day, corridor, fail closed) on the live book.
* ``rebalance_outlook`` — when each strategy next rebalances (``explain``, ``/status``, the Strategies page).
* ``execution_bridge`` — from a stored plan to the execution actor and back.
* ``reconcile`` — start-up and on-demand reconciliation of the store against the broker.
* ``watchers`` — background checks (data staleness, drawdown) that raise alerts.
* ``metrics`` — Prometheus metrics of the decision side.

It sits above execution, the venues and the store, and below the HTTP surface and the composition root.
"""
