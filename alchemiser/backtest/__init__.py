"""Backtester: the daemon's strategy engine, planner and fill model run day by day over historical bars."""
