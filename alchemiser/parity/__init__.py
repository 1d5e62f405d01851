"""Live-vs-backtest parity: decision replay and the flip finder (``replay``, ``flips``), the shadow portfolio
(``shadow``), gap attribution (``attribution``), TCA (``alchemiser.portfolio.tca``, shared with the backtest report).

Pure, deterministic functions over plain values (``facts``): the same store and bars give the same attribution.
``monitor`` reads those values from the store and runs the lot for one session; the daemon runs it off the event
loop's critical path after each decision (``alchemiser.daemon.parity``). This package's ``__init__`` imports
nothing, so ``parts`` (the cause names the read side needs) stays light: the backtester is not imported by
``alchemiser run``'s start or by the dashboard's read path.
"""
