"""Reconnect pacing of the ``trade_updates`` stream: equal-jitter exponential backoff on two schedules.

An ordinary drop retries on the short schedule; a 406/429 handshake refusal (Alpaca's one connection per key, or a
half-dead predecessor not yet reaped, ~90 s) retries on the long one. A session that was established resets both.
"""

from __future__ import annotations

import random


def equal_jitter_delay(attempt: int, base: float, cap: float, rng: random.Random) -> float:
    """Exponential backoff with equal jitter: a delay in [c/2, c] with c = min(cap, base·2^attempt)."""
    ceiling = min(cap, base * 2.0 ** max(0, attempt))
    jitter: float = rng.uniform(0, ceiling / 2)
    return ceiling / 2 + jitter


class ReconnectBackoff:
    """How long to wait before the next connection attempt."""

    def __init__(self, normal: tuple[float, float], refused: tuple[float, float], rng: random.Random) -> None:
        self.normal = normal
        self._refused_schedule = refused
        self._rng = rng
        self._attempt = 0
        self.refusals = 0

    def established(self) -> None:
        """A session got through: the next drop starts the schedules over."""
        self._attempt = 0
        self.refusals = 0

    def refused(self) -> int:
        """Count a handshake refusal; returns how many in a row."""
        self.refusals += 1
        return self.refusals

    def next_delay(self, *, refused_now: bool) -> float:
        if refused_now:
            base, cap = self._refused_schedule
            return equal_jitter_delay(self.refusals - 1, base, cap, self._rng)
        delay = equal_jitter_delay(self._attempt, *self.normal, self._rng)
        self._attempt += 1
        return delay

    def retry_delay(self, attempt: int) -> float:
        """The wait before retry ``attempt`` of a REST call inside a session (the short schedule)."""
        return equal_jitter_delay(attempt, *self.normal, self._rng)
