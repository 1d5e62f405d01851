"""The composition root: the daemon that wires every component for a mode, runs it and shuts it down in order.

* ``daemon`` — start-up, signals, reload, shutdown.
* ``plugins`` — which components a mode runs.
* ``trading`` — the trading stack (broker, scheduler, decision, execution, HTTP routes) as one plugin.
* ``sim_mode`` — the embedded simulated exchange and its clock link.

Only the CLI imports this package.
"""
