"""The flip finder and the replay: a revised bar that flips an ``if`` is named, with the bar that changed."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

from alchemiser.dsl import parse_symphony
from alchemiser.parity.flips import bar_changes, window_digest
from alchemiser.parity.replay import evaluate_on, replay_strategy

SYMPHONY = parse_symphony('(defsymphony "flip" {} (if (> (current-price "SPY") 100) [(asset "SPY")] [(asset "TLT")]))')
DAYS = [date(2024, 3, 1) + timedelta(days=i) for i in range(5)]


def closes(spy_last: float, *, tlt: float = 90.0, skip: date | None = None) -> dict[str, list[tuple[date, float]]]:
    spy = [(d, 98.0 + i) for i, d in enumerate(DAYS[:-1])] + [(DAYS[-1], spy_last)]
    return {
        "SPY": [row for row in spy if row[0] != skip],
        "TLT": [(d, tlt) for d in DAYS],
    }


def test_a_revised_close_that_flips_an_if_is_named() -> None:
    then, now = closes(101.0), closes(99.5)
    decided = evaluate_on(SYMPHONY, then, DAYS[-1])
    assert decided.allocation == {"SPY": Decimal(1)}
    replay = replay_strategy(
        "flip",
        SYMPHONY,
        asof=DAYS[-1],
        live_allocation=decided.allocation,
        live_trace={"steps": list(decided.steps)},
        bars_then=then,
        bars_now=now,
    )
    assert not replay.same
    assert replay.data_drift
    assert replay.replayed == {"TLT": Decimal(1)}
    [flip] = replay.flips
    assert flip.kind == "if"
    assert flip.before.startswith("then") and flip.after.startswith("else")
    assert "101" in flip.before and "99.5" in flip.after
    [change] = replay.changed_bars
    assert (change.symbol, change.session, change.kind) == ("SPY", DAYS[-1], "revised")
    assert "SPY: close of 2024-03-05 revised 101.0 -> 99.5" in change.describe()


def test_same_bars_replay_the_same_decision() -> None:
    then = closes(101.0)
    decided = evaluate_on(SYMPHONY, then, DAYS[-1])
    assert decided.allocation is not None
    replay = replay_strategy(
        "flip",
        SYMPHONY,
        asof=DAYS[-1],
        live_allocation=decided.allocation,
        live_trace={"steps": list(decided.steps)},
        bars_then=then,
        bars_now={s: [*rows, (DAYS[-1] + timedelta(days=1), 500.0)] for s, rows in then.items()},
    )
    assert replay.same and not replay.data_drift
    assert replay.flips == () and replay.changed_bars == ()  # a later bar is not a change of what was decided on


def test_a_revised_bar_that_does_not_flip_is_no_drift() -> None:
    then = closes(101.0)
    decided = evaluate_on(SYMPHONY, then, DAYS[-1])
    assert decided.allocation is not None
    replay = replay_strategy(
        "flip",
        SYMPHONY,
        asof=DAYS[-1],
        live_allocation=decided.allocation,
        live_trace={"steps": list(decided.steps)},
        bars_then=then,
        bars_now=closes(102.0),
    )
    assert replay.same and not replay.data_drift
    assert [c.kind for c in replay.changed_bars] == ["revised"]


def test_bar_changes_name_filled_in_removed_and_adjusted_history() -> None:
    then = closes(101.0, skip=DAYS[2])
    now = closes(101.0)
    assert [(c.symbol, c.session, c.kind) for c in bar_changes(then, now)] == [("SPY", DAYS[2], "filled_in")]
    assert [c.kind for c in bar_changes(now, then)] == ["removed"]
    halved = {"SPY": [(d, c / 2) for d, c in now["SPY"]], "TLT": now["TLT"]}
    [adjusted] = bar_changes(now, halved)
    assert adjusted.kind == "adjusted" and "x0.5" in adjusted.describe()


def test_a_replay_that_cannot_evaluate_says_why() -> None:
    replay = replay_strategy(
        "flip",
        SYMPHONY,
        asof=DAYS[-1],
        live_allocation={"SPY": Decimal(1)},
        live_trace=None,
        bars_then=closes(101.0),
        bars_now={},
    )
    assert not replay.same and replay.error == "no bars to replay"


def test_an_unchanged_window_is_not_evaluated_again_and_a_changed_one_is() -> None:
    then = closes(101.0)
    decided = evaluate_on(SYMPHONY, then, DAYS[-1])
    assert decided.allocation is not None
    digests = {s: window_digest(rows) for s, rows in then.items()}
    same = replay_strategy(
        "flip",
        SYMPHONY,
        asof=DAYS[-1],
        live_allocation={"SPY": Decimal("0.5")},  # a stand-in: the skipped replay returns the live decision
        live_trace=None,
        bars_then=then,
        bars_now=then,
        digests=digests,
    )
    assert same.same and same.replayed == {"SPY": Decimal("0.5")}
    revised = replay_strategy(
        "flip",
        SYMPHONY,
        asof=DAYS[-1],
        live_allocation=decided.allocation,
        live_trace={"steps": list(decided.steps)},
        bars_then=then,
        bars_now=closes(99.0),
        digests=digests,
    )
    assert revised.data_drift and revised.replayed == {"TLT": Decimal(1)}


def test_the_window_digest_sees_a_close_a_filled_in_bar_and_nothing_else() -> None:
    base = closes(101.0)["SPY"]
    assert window_digest(base) == window_digest(list(base))
    assert window_digest(base) != window_digest([*base[:-1], (DAYS[-1], 101.0000001)])
    assert window_digest(closes(101.0, skip=DAYS[2])["SPY"]) != window_digest(base)
    assert window_digest([]) == ""
