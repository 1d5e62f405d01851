"""Decision traces (dsl.md §5): the active path of a symphony on one date, JSON-serialisable.

A trace is a flat list of steps in depth-first order (``depth`` gives the nesting, ``parent`` the index of the
parent step), so that it can be stored, served and printed without recursion however deep the symphony is.
Each step has the node's kind, name, source position, weights on that date and error; an ``if`` adds its operand
values and the branch taken; a ``filter`` adds the ranking with scores and which candidates were kept; a
``weight-inverse-volatility`` adds the volatilities used.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from alchemiser.data.prices import PriceMatrix, to_date, to_date64
from alchemiser.dsl.ast import Asset, Filter, Group, If, Node, WeightInverseVolatility, node_kind
from alchemiser.dsl.context import render_message
from alchemiser.dsl.engine import Engine
from alchemiser.dsl.evaluate import finalise, used_symbols
from alchemiser.dsl.records import NodeRecord
from alchemiser.dsl.symphony import Symphony
from alchemiser.errors import DataError


@dataclass(frozen=True, slots=True)
class Trace:
    symphony: str
    asof: dt.date
    allocation: dict[str, float] | None
    error: str | None
    steps: tuple[dict[str, Any], ...]

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"symphony": self.symphony, "asof": self.asof.isoformat()}
        if self.error is not None:
            out["error"] = self.error
        else:
            out["allocation"] = self.allocation
        out["steps"] = list(self.steps)
        return out

    def render(self) -> str:
        """Human-readable, indented text."""
        lines = [f"{self.symphony} as of {self.asof.isoformat()}"]
        if self.error is not None:
            lines.append(f"ERROR: {self.error}")
        else:
            lines.append("allocation: " + _fmt_weights(self.allocation or {}))
        for step in self.steps:
            pad = "  " * (step["depth"] + 1)
            head = step["kind"]
            if step.get("name"):
                head += f' "{step["name"]}"'
            line = f"{pad}{head}"
            cond = step.get("condition")
            if cond is not None:
                line += (
                    f"  [{cond['expression']}: {_fmt_operand(cond['left'])} vs {_fmt_operand(cond['right'])}"
                    f" → {step.get('branch') or 'unavailable'}]"
                )
            if step["kind"] != "asset":
                line += "  = " + _fmt_weights(step["weights"])
            if step.get("error"):
                line += f"  ERROR: {step['error']}"
            lines.append(line)
            for entry in step.get("ranking") or []:
                mark = "*" if entry["kept"] else " "
                score = "unavailable" if entry["score"] is None else f"{entry['score']:.4f}"
                lines.append(f"{pad}  {mark} {entry['candidate'] or '(unnamed)'}: {score}")
            vol = step.get("volatility")
            if vol:
                lines.append(
                    f"{pad}  volatility: "
                    + ", ".join(f"{k} {'n/a' if v is None else f'{v:.4f}'}" for k, v in sorted(vol.items()))
                )
        return "\n".join(lines)


def _fmt_weights(weights: dict[str, float]) -> str:
    if not weights:
        return "{}"
    return ", ".join(f"{s} {w:.4f}" for s, w in sorted(weights.items(), key=lambda kv: (-kv[1], kv[0])))


def _fmt_operand(value: object) -> str:
    if value is None:
        return "unavailable"
    if isinstance(value, float):
        return f"{value:.4f}"
    return str(value)


def trace(symphony: Symphony, prices: PriceMatrix, asof: dt.date | str) -> Trace:
    """The active path of ``symphony`` on ``asof`` using bars through ``asof``'s close."""
    prices = prices.truncate(asof).select(used_symbols(symphony))
    i = prices.index_of(asof)
    if i is None:
        raise DataError(f"{to_date64(asof)} is not a trading date in the data for {symphony.name!r}")
    engine = Engine(prices, record_at=i)
    slot, err = engine.run(symphony.root)
    weights, codes = finalise(
        engine, slot.symbols, slot.weights[i : i + 1], err[i : i + 1], prices=prices, rows=slice(i, i + 1)
    )
    date = to_date(prices.dates[i])
    code = int(codes[0])
    error = render_message(engine.messages[code], date) if code else None
    allocation = None if code else {s: float(w) for s, w in zip(slot.symbols, weights[0], strict=True) if w > 0}
    steps = _steps(symphony, engine, date)
    return Trace(symphony.name, date, allocation, error, tuple(steps))


def _steps(symphony: Symphony, engine: Engine, date: dt.date) -> list[dict[str, Any]]:
    steps: list[dict[str, Any]] = []
    # (node, depth, parent index), explicit stack, children pushed in reverse to keep source order
    stack: list[tuple[Node, int, int | None]] = [(symphony.root, 0, None)]
    while stack:
        node, depth, parent = stack.pop()
        record = engine.records.get(id(node))
        step = _step(symphony, engine, node, record=record, depth=depth, parent=parent, date=date)
        index = len(steps)
        steps.append(step)
        for child in reversed(_active_children(node, record)):
            stack.append((child, depth + 1, index))
    return steps


def _active_children(node: Node, record: NodeRecord | None) -> list[Node]:
    if isinstance(node, Asset):
        return []
    if isinstance(node, If):
        if record is None or record.branch is None:
            return []
        return list(node.then if record.branch == "then" else (node.otherwise or ()))
    if isinstance(node, Filter):
        if node.asset_mode or record is None or record.ranking is None:
            return []
        return [e.node for e in record.ranking if e.kept and e.node is not None]
    return list(node.children)


def _step(
    symphony: Symphony,
    engine: Engine,
    node: Node,
    *,
    record: NodeRecord | None,
    depth: int,
    parent: int | None,
    date: dt.date,
) -> dict[str, Any]:
    step: dict[str, Any] = {
        "depth": depth,
        "parent": parent,
        "kind": node_kind(node),
        "at": symphony.where(node.offset),
    }
    if isinstance(node, Asset):
        step["name"] = node.symbol
    elif isinstance(node, Group):
        step["name"] = node.name
    elif isinstance(node, WeightInverseVolatility):
        step["name"] = f"window {node.window}"
    elif isinstance(node, Filter):
        sel = f"{node.select.kind.value} {node.select.count}" if node.select else "all"
        step["name"] = f"{node.metric.label()} {sel}" + ("" if node.asset_mode else " (portfolio mode)")
    if record is None:
        step["weights"] = {}
        return step
    step["weights"] = dict(sorted(record.weights.items()))
    if record.error:
        step["error"] = render_message(engine.messages[record.error], date)
    if record.condition is not None:
        step["condition"] = record.condition
        step["branch"] = record.branch
    if record.ranking is not None:
        step["ranking"] = [{"candidate": e.candidate, "score": e.score, "kept": e.kept} for e in record.ranking]
    if record.volatility is not None:
        step["volatility"] = dict(sorted(record.volatility.items()))
    return step
