"""Named crash points: the process SIGKILLs itself at a named place, for crash-only fuzzing (``tests/chaos``).

Code on the decision and execution path calls ``crash_point("after_plan_stored")`` at the places a crash is most
interesting. Nothing happens unless the environment variable ``ALCHEMISER_CRASH_POINT`` names that point when the
module is imported, optionally with the hit that should kill (``after_fill_recorded:3`` = the third fill recorded;
default the first). Then the process writes one line to stderr (``crash_point <name> hit: SIGKILL``, so the
harness knows where it died) and kills itself with SIGKILL: no ``finally`` block, ``atexit`` hook or buffered
write runs, exactly as with a power cut or the OOM killer.

Inactive (the variable unset: always in production), a call costs one global lookup and one ``is None`` test.
A name outside ``CRASH_POINTS`` in the variable is refused at import with an error naming the known points.
"""

from __future__ import annotations

import os
import signal
import sys
from typing import Final

from alchemiser.errors import ConfigError

ENV_VAR: Final = "ALCHEMISER_CRASH_POINT"

CRASH_POINTS: Final[tuple[str, ...]] = (
    "after_decision_stored",  # trading/decision.py: the decision and its strategies' results are stored
    "after_plan_stored",  # execution/actor.py: the run and its plan are stored, nothing sent yet
    "before_order_submit",  # execution/line.py: the intent is stored, the order not sent
    "after_order_submit",  # execution/line.py: the broker accepted the order, the store does not know yet
    "after_fill_recorded",  # execution/fills.py: a fill and the books it moved are committed
    "during_reconcile",  # trading/reconcile.py: broker positions read, the snapshot not yet written
    "during_book_update",  # store/execution.py: inside the books transaction, old rows deleted, new not written
    "during_store_write",  # store/database.py: inside any transaction, just before COMMIT
)


def parse(value: str) -> tuple[str, int]:
    """``"name"`` or ``"name:hit"`` → (name, hit ≥ 1); a ConfigError naming what is wrong otherwise."""
    name, _, hit_text = value.strip().partition(":")
    if name not in CRASH_POINTS:
        raise ConfigError([f"{ENV_VAR}={value!r}: unknown crash point {name!r}; known: {', '.join(CRASH_POINTS)}"])
    if not hit_text:
        return name, 1
    if not hit_text.isdigit() or int(hit_text) < 1:
        raise ConfigError([f"{ENV_VAR}={value!r}: the hit after ':' must be a whole number ≥ 1, got {hit_text!r}"])
    return name, int(hit_text)


def _armed_from_env() -> dict[str, int] | None:
    raw = os.environ.get(ENV_VAR)
    if not raw:
        return None
    name, hit = parse(raw)
    return {name: hit}


# point name → hits left before the kill; None when nothing is armed (the production case)
_ARMED: dict[str, int] | None = _armed_from_env()


def crash_point(name: str) -> None:
    """SIGKILL this process here if ``ALCHEMISER_CRASH_POINT`` armed ``name`` and this is the armed hit."""
    if _ARMED is None:
        return
    left = _ARMED.get(name)
    if left is None:
        return
    if left > 1:
        _ARMED[name] = left - 1
        return
    sys.stderr.write(f"crash_point {name} hit: SIGKILL\n")
    sys.stderr.flush()
    os.kill(os.getpid(), signal.SIGKILL)


def arm(name: str | None, hit: int = 1) -> None:
    """Arm ``name`` for its ``hit``-th call in this process (None disarms); for in-process tests of this module."""
    global _ARMED  # noqa: PLW0603 - the one switch this module exists for
    if name is None:
        _ARMED = None
        return
    _ARMED = dict([parse(f"{name}:{hit}")])
