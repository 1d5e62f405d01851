"""The vectorised evaluator (dsl.md §6): every node yields, for all dates at once, weights and a per-date error.

Representation
--------------
A node's value is a list of *slots* plus an error-code vector. A slot is a ``(dates × its symbols)`` weight matrix
with an optional per-date *active* mask; rows summing to 0 are *empty* (e.g. a filter that selected nothing).
Ordinary nodes yield one always-active slot; an ``if`` yields the slots of both branches, each masked by the
condition, which is how branch list items get flattened into the parent's children (dsl.md §2). Parents treat each
slot as a distribution (they normalise it) and combine slots per date. Error codes index ``Engine.messages``
(0 = no error); an error only counts on dates where its branch is chosen.

The traversal is an explicit post-order walk of the (hash-consed) AST: no recursion per nesting level, each distinct
subtree computed once, a subtree's matrices freed as soon as its last parent has used them. With ``record_at`` set,
the engine also keeps, for that one date, what the trace needs (operand values, rankings, weights).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal

import numpy as np
import numpy.typing as npt

from alchemiser.data.prices import PriceMatrix
from alchemiser.dsl import indicators
from alchemiser.dsl.ast import (
    Asset,
    CompareOp,
    Comparison,
    Filter,
    Group,
    If,
    Indicator,
    IndicatorName,
    Literal,
    Metric,
    Node,
    Operand,
    SelectKind,
    WeightEqual,
    WeightInverseVolatility,
    WeightSpecified,
    children_of,
)

FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]
IntArray = npt.NDArray[np.int32]
IndicatorCache = dict[tuple[Metric, str], FloatArray]


@dataclass(slots=True)
class Slot:
    symbols: tuple[str, ...]
    weights: FloatArray  # dates × len(symbols), rows not necessarily normalised
    active: BoolArray | None = None  # None = active on every date
    is_asset: bool = False
    node: Node | None = None
    sums: FloatArray | None = None  # cached row sums of ``weights`` (shared by slots with the same weights)


@dataclass(slots=True)
class Value:
    slots: list[Slot]
    err: IntArray


@dataclass(slots=True)
class RankEntry:
    candidate: str
    score: float | None
    kept: bool
    node: Node | None = None


@dataclass(slots=True)
class NodeRecord:
    """What one node did on the recorded date (trace mode)."""

    weights: dict[str, float]
    error: int
    condition: dict[str, object] | None = None
    branch: str | None = None
    ranking: list[RankEntry] | None = None
    volatility: dict[str, float | None] | None = None


@dataclass
class Engine:
    """Evaluates nodes of one symphony over the date axis of ``prices``."""

    prices: PriceMatrix
    record_at: int | None = None
    messages: list[str] = field(default_factory=lambda: [""])
    records: dict[int, NodeRecord] = field(default_factory=dict)
    # indicator vectors by (metric, symbol); pass a dict to share them between evaluations over the SAME prices
    indicator_cache: IndicatorCache | None = None

    def __post_init__(self) -> None:
        self.n = len(self.prices)
        self._msg_index: dict[str, int] = {}
        self._zero_err: IntArray = np.zeros(self.n, dtype=np.int32)
        self._zero_err.setflags(write=False)
        self._ones: FloatArray = np.ones((self.n, 1), dtype=np.float64)
        self._ones.setflags(write=False)
        self._ones_sums: FloatArray = np.ones(self.n, dtype=np.float64)
        self._ones_sums.setflags(write=False)
        self._indicators: IndicatorCache = {} if self.indicator_cache is None else self.indicator_cache
        self._returns: dict[str, FloatArray] = {}
        self._portfolio_scores: dict[tuple[int, Metric], FloatArray] = {}
        self._pending_ranking: list[RankEntry] | None = None
        self._pending_volatility: dict[str, float | None] | None = None

    # -- errors ----------------------------------------------------------------------------------------------------
    def code(self, message: str) -> int:
        idx = self._msg_index.get(message)
        if idx is None:
            idx = len(self.messages)
            self.messages.append(message)
            self._msg_index[message] = idx
        return idx

    def _first_err(self, a: IntArray, b: IntArray) -> IntArray:
        if b is self._zero_err:
            return a
        if a is self._zero_err:
            return b
        out: IntArray = np.where(a != 0, a, b).astype(np.int32)
        return out

    # -- data ------------------------------------------------------------------------------------------------------
    def closes(self, symbol: str) -> FloatArray | None:
        return self.prices.column(symbol)

    def indicator(self, metric: Metric, symbol: str) -> FloatArray:
        key = (metric, symbol)
        values = self._indicators.get(key)
        if values is None:
            col = self.closes(symbol)
            values = np.full(self.n, np.nan) if col is None else indicators.compute(metric, col)
            values.setflags(write=False)
            self._indicators[key] = values
        return values

    def returns(self, symbol: str) -> FloatArray:
        values = self._returns.get(symbol)
        if values is None:
            col = self.closes(symbol)
            values = np.full(self.n, np.nan) if col is None else indicators.daily_returns(col)
            values.setflags(write=False)
            self._returns[symbol] = values
        return values

    # -- traversal -------------------------------------------------------------------------------------------------
    def run(self, root: Node) -> tuple[Slot, IntArray]:
        """The root's combined weights (rows not normalised; empty rows are empty) and per-date error codes."""
        value = self.evaluate(root)
        return self.collapse(value.slots), value.err

    def evaluate(self, root: Node) -> Value:
        refs: dict[int, int] = {id(root): 1}
        seen: set[int] = {id(root)}
        walk: list[Node] = [root]
        while walk:
            node = walk.pop()
            for child in children_of(node):
                refs[id(child)] = refs.get(id(child), 0) + 1
                if id(child) not in seen:
                    seen.add(id(child))
                    walk.append(child)
        memo: dict[int, Value] = {}
        stack: list[tuple[Node, bool]] = [(root, False)]
        while stack:
            node, expanded = stack.pop()
            if id(node) in memo:
                continue
            kids = children_of(node)
            if not expanded:
                stack.append((node, True))
                stack.extend((c, False) for c in reversed(kids) if id(c) not in memo)
                continue
            memo[id(node)] = self._compute(node, memo)
            for child in kids:
                refs[id(child)] -= 1
                if refs[id(child)] == 0:
                    del memo[id(child)]
        return memo[id(root)]

    def _compute(self, node: Node, memo: dict[int, Value]) -> Value:
        if isinstance(node, Asset):
            value = Value([Slot((node.symbol,), self._ones, None, True, node, self._ones_sums)], self._zero_err)
        elif isinstance(node, Group | WeightEqual):
            value = self._equal(node, [memo[id(c)] for c in node.children])
        elif isinstance(node, WeightSpecified):
            value = self._specified(node, [memo[id(c)] for c in node.children])
        elif isinstance(node, WeightInverseVolatility):
            value = self._inverse_volatility(node, [memo[id(c)] for c in node.children])
        elif isinstance(node, If):
            value = self._if(node, memo)
        else:
            value = self._filter(node, [memo[id(c)] for c in node.candidates])
        if self.record_at is not None:
            self._record(node, value, self.record_at)
        return value

    # -- combinators -----------------------------------------------------------------------------------------------
    def _accumulate(self, parts: Sequence[tuple[tuple[str, ...], FloatArray, FloatArray | None]]) -> Slot:
        """Σ scale_i · W_i over the union of the parts' symbols (scale None = 1)."""
        union: dict[str, int] = {}
        for syms, _, _ in parts:
            for s in syms:
                if s not in union:
                    union[s] = len(union)
        out = np.zeros((self.n, len(union)), dtype=np.float64)
        for syms, w, scale in parts:
            cols = [union[s] for s in syms]
            contrib = w if scale is None else w * scale[:, None]
            if len(cols) == 1:
                out[:, cols[0]] += contrib[:, 0]
            else:
                out[:, cols] += contrib
        return Slot(tuple(union), out)

    @staticmethod
    def row_sums(slot: Slot) -> FloatArray:
        """Row sums of the slot's weights (computed once per weight matrix; read-only)."""
        if slot.sums is None:
            w = slot.weights
            sums: FloatArray = w[:, 0].copy() if w.shape[1] == 1 else w.sum(axis=1)
            sums.setflags(write=False)
            slot.sums = sums
        return slot.sums

    def _usable(self, slot: Slot, sums: FloatArray) -> BoolArray:
        use: BoolArray = sums > 0.0
        if slot.active is not None:
            use &= slot.active
        return use

    def collapse(self, slots: list[Slot]) -> Slot:
        """Equal weight across the slots that are active and non-empty on each date (weight-equal semantics)."""
        if len(slots) == 1 and slots[0].active is None:
            return slots[0]
        sums = [self.row_sums(s) for s in slots]
        uses = [self._usable(s, t) for s, t in zip(slots, sums, strict=True)]
        count = np.sum(uses, axis=0, dtype=np.float64) if uses else np.zeros(self.n)
        parts: list[tuple[tuple[str, ...], FloatArray, FloatArray | None]] = []
        for slot, total, use in zip(slots, sums, uses, strict=True):
            denom = total * count
            scale = np.divide(1.0, denom, out=np.zeros(self.n), where=use & (denom > 0))
            parts.append((slot.symbols, slot.weights, scale))
        return self._accumulate(parts)

    def _children_slots(self, values: list[Value]) -> tuple[list[Slot], IntArray]:
        slots: list[Slot] = []
        err = self._zero_err
        for v in values:
            slots.extend(v.slots)
            err = self._first_err(err, v.err)
        return slots, err

    def _equal(self, node: Group | WeightEqual, values: list[Value]) -> Value:
        slots, err = self._children_slots(values)
        slot = self.collapse(slots)
        return Value([Slot(slot.symbols, slot.weights, None, False, node, slot.sums)], err)

    def _specified(self, node: WeightSpecified, values: list[Value]) -> Value:
        parts: list[tuple[tuple[str, ...], FloatArray, FloatArray | None]] = []
        err = self._zero_err
        for weight, value in zip(node.weights, values, strict=True):
            err = self._first_err(err, value.err)
            child = self.collapse(value.slots)
            total = self.row_sums(child)
            scale = np.divide(float(weight), total, out=np.zeros(self.n), where=total > 0)
            parts.append((child.symbols, child.weights, scale))
        slot = self._accumulate(parts)
        return Value([Slot(slot.symbols, slot.weights, None, False, node, slot.sums)], err)

    def _if(self, node: If, memo: dict[int, Value]) -> Value:
        cond, cond_err = self.condition(node.condition)
        slots: list[Slot] = []
        then_err = self._zero_err
        for child in node.then:
            v = memo[id(child)]
            then_err = self._first_err(then_err, v.err)
            for s in v.slots:
                active = cond if s.active is None else (s.active & cond)
                slots.append(Slot(s.symbols, s.weights, active, s.is_asset, s.node, self.row_sums(s)))
        not_cond = ~cond
        if node.otherwise is None:
            code = self.code(f"{node.condition.label()} is false on {{date}} and the if has no else branch")
            else_err: IntArray = np.where(not_cond, code, 0).astype(np.int32)
        else:
            else_err = self._zero_err
            for child in node.otherwise:
                v = memo[id(child)]
                else_err = self._first_err(else_err, v.err)
                for s in v.slots:
                    active = not_cond if s.active is None else (s.active & not_cond)
                    slots.append(Slot(s.symbols, s.weights, active, s.is_asset, s.node, self.row_sums(s)))
        branch_err: IntArray = np.where(cond, then_err, else_err).astype(np.int32)
        return Value(slots, self._first_err(cond_err, branch_err))

    def operand(self, operand: Operand) -> tuple[FloatArray | Decimal, IntArray]:
        if isinstance(operand, Literal):
            return operand.value, self._zero_err
        values = self.indicator(operand.metric, operand.symbol)
        missing = np.isnan(values)
        if not missing.any():
            return values, self._zero_err
        label = operand.label()
        closes = self.closes(operand.symbol)
        if closes is None:
            code = self.code(f"{label} is unavailable on {{date}}: no price data for {operand.symbol}")
            return values, np.where(missing, code, 0).astype(np.int32)
        need = indicators.bars_needed(operand.metric)
        short = self.code(
            f"{label} is unavailable on {{date}}: needs {need} consecutive bars of {operand.symbol} through that date"
        )
        no_bar = self.code(f"{label} is unavailable on {{date}}: {operand.symbol} has no bar on that date")
        err: IntArray = np.where(missing, np.where(np.isnan(closes), no_bar, short), 0).astype(np.int32)
        return values, err

    def condition(self, cmp: Comparison) -> tuple[BoolArray, IntArray]:
        left, left_err = self.operand(cmp.left)
        right, right_err = self.operand(cmp.right)
        err = self._first_err(left_err, right_err)
        result = _compare(cmp.op, left, right, self.n)
        return result, err

    def _filter(self, node: Filter, values: list[Value]) -> Value:
        if node.asset_mode:
            assets = [c for c in node.candidates if isinstance(c, Asset)]
            names = [a.symbol for a in assets]
            scores = np.column_stack([self.indicator(node.metric, s) for s in names])
            slot_list = [
                Slot((s,), self._ones, None, True, a, self._ones_sums) for s, a in zip(names, assets, strict=True)
            ]
            errs: list[IntArray] = [self._zero_err] * len(names)
        else:
            slot_list = []
            for cand, v in zip(node.candidates, values, strict=True):
                c = self.collapse(v.slots)
                slot_list.append(Slot(c.symbols, c.weights, c.active, False, cand, c.sums))
            errs = [v.err for v in values]
            names = [_candidate_name(c) for c in node.candidates]
            cols = []
            for cand, slot, err in zip(node.candidates, slot_list, errs, strict=True):
                cols.append(self._portfolio_score(cand, slot, err, node.metric))
            scores = np.column_stack(cols)
            # an empty candidate cannot be held on that date
            for j, slot in enumerate(slot_list):
                empty = self.row_sums(slot) <= 0.0
                if empty.any():
                    scores[empty, j] = np.nan
        order = sorted(range(len(names)), key=lambda j: (names[j], j))
        scores = scores[:, order]
        names = [names[j] for j in order]
        slot_list = [slot_list[j] for j in order]
        errs = [errs[j] for j in order]
        kept = _rank(scores, node.select.kind if node.select else None, node.select.count if node.select else None)
        count = kept.sum(axis=1).astype(np.float64)
        parts: list[tuple[tuple[str, ...], FloatArray, FloatArray | None]] = []
        err = self._zero_err
        for j, slot in enumerate(slot_list):
            total = self.row_sums(slot)
            denom = total * count
            scale = np.divide(1.0, denom, out=np.zeros(self.n), where=kept[:, j] & (denom > 0))
            parts.append((slot.symbols, slot.weights, scale))
            if errs[j] is not self._zero_err:
                err = self._first_err(err, np.where(kept[:, j], errs[j], 0).astype(np.int32))
        # nothing kept while some candidate errored: the filter is not "empty", it failed (fail closed)
        none_kept = count == 0
        for j in range(len(slot_list)):
            if errs[j] is not self._zero_err:
                err = self._first_err(err, np.where(none_kept, errs[j], 0).astype(np.int32))
        out = self._accumulate(parts)
        if self.record_at is not None:
            i = self.record_at
            ranking = [
                RankEntry(names[j], _opt(scores[i, j]), bool(kept[i, j]), slot_list[j].node) for j in range(len(names))
            ]
            top = node.select is None or node.select.kind is SelectKind.TOP
            ranking.sort(key=lambda e: (e.score is None, -(e.score or 0.0) if top else (e.score or 0.0), e.candidate))
            self._pending_ranking = ranking
        return Value([Slot(out.symbols, out.weights, None, False, node)], err)

    def _portfolio_score(self, cand: Node, slot: Slot, err: IntArray, metric: Metric) -> FloatArray:
        key = (id(cand), metric)
        cached = self._portfolio_scores.get(key)
        if cached is not None:
            return cached
        prices, runs = portfolio_price_series(slot, err, [self.returns(s) for s in slot.symbols])
        values = indicators.compute(metric, prices, runs)
        values.setflags(write=False)
        self._portfolio_scores[key] = values
        return values

    def _inverse_volatility(self, node: WeightInverseVolatility, values: list[Value]) -> Value:
        slots, err = self._children_slots(values)
        metric = Metric(IndicatorName.STDEV_RETURN, (("window", node.window),))
        union: dict[str, int] = {}
        for s in slots:
            for sym in s.symbols:
                union.setdefault(sym, len(union))
        syms = tuple(union)
        sigma = np.column_stack([self.indicator(metric, s) for s in syms]) if syms else np.zeros((self.n, 0))
        sigma_ok = np.isfinite(sigma) & (sigma > 0)
        inv = np.divide(1.0, sigma, out=np.zeros_like(sigma), where=sigma_ok)
        # expand every slot to the union (normalised), with its usable mask
        expanded: list[FloatArray] = []
        uses: list[BoolArray] = []
        for s in slots:
            total = self.row_sums(s)
            use = self._usable(s, total)
            m = np.zeros((self.n, len(syms)))
            m[:, [union[x] for x in s.symbols]] = np.divide(
                s.weights, total[:, None], out=np.zeros_like(s.weights), where=(use & (total > 0))[:, None]
            )
            expanded.append(m)
            uses.append(use)
        count = np.sum(uses, axis=0) if uses else np.zeros(self.n, dtype=np.int64)
        individual = np.zeros(self.n, dtype=bool)
        for s, use in zip(slots, uses, strict=True):
            if s.is_asset:
                individual |= use
        # sub-portfolio mode: child σ = weighted mean of its holdings' σ (holdings with a usable σ)
        shares = np.zeros((self.n, len(slots)))
        for k, m in enumerate(expanded):
            w_ok = np.where(sigma_ok, m, 0.0).sum(axis=1)
            weighted = np.where(sigma_ok, m * np.where(sigma_ok, sigma, 0.0), 0.0).sum(axis=1)
            child_sigma = np.divide(weighted, w_ok, out=np.full(self.n, np.nan), where=w_ok > 0)
            ok = uses[k] & np.isfinite(child_sigma) & (child_sigma > 0)
            shares[:, k] = np.divide(1.0, child_sigma, out=np.zeros(self.n), where=ok)
        share_total = shares.sum(axis=1)
        sub = np.zeros((self.n, len(syms)))
        for k, m in enumerate(expanded):
            sub += m * np.divide(shares[:, k], share_total, out=np.zeros(self.n), where=share_total > 0)[:, None]
        # individual mode: every held symbol by 1/σ
        held = np.zeros((self.n, len(syms)), dtype=bool)
        for m in expanded:
            held |= m > 0
        ind = np.where(held, inv, 0.0)
        ind_total = ind.sum(axis=1)
        ind = np.divide(ind, ind_total[:, None], out=np.zeros_like(ind), where=(ind_total > 0)[:, None])
        # single usable child: passes through unchanged
        single = np.zeros((self.n, len(syms)))
        for m, use in zip(expanded, uses, strict=True):
            single += np.where(use[:, None], m, 0.0)
        result = np.where((count == 1)[:, None], single, np.where(individual[:, None], ind, sub))
        none_left = (count > 1) & (np.where(individual, ind_total, share_total) <= 0)
        if none_left.any():
            code = self.code(
                f"weight-inverse-volatility {node.window}: no holding has a usable volatility "
                f"({metric.label()}) on {{date}}"
            )
            err = self._first_err(err, np.where(none_left, code, 0).astype(np.int32))
        if self.record_at is not None:
            i = self.record_at
            self._pending_volatility = {s: _opt(sigma[i, j]) for j, s in enumerate(syms) if held[i, j]}
        return Value([Slot(syms, result, None, False, node)], err)

    # -- trace recording -------------------------------------------------------------------------------------------

    @staticmethod
    def _row_weights(slots: list[Slot], i: int) -> dict[str, float]:
        """``collapse`` restricted to row ``i`` (normalised)."""
        rows: list[tuple[tuple[str, ...], FloatArray, float]] = []
        for slot in slots:
            if slot.active is not None and not slot.active[i]:
                continue
            row = slot.weights[i]
            total = float(row.sum())
            if total > 0:
                rows.append((slot.symbols, row, total))
        out: dict[str, float] = {}
        for symbols, row, total in rows:
            for j, sym in enumerate(symbols):
                if row[j] > 0:
                    out[sym] = out.get(sym, 0.0) + float(row[j]) / total / len(rows)
        return out

    def _record(self, node: Node, value: Value, i: int) -> None:
        weights = self._row_weights(value.slots, i)
        record = NodeRecord(weights=weights, error=int(value.err[i]))
        if isinstance(node, If):
            cond, _ = self.condition(node.condition)
            record.condition = {
                "expression": node.condition.label(),
                "left": self._operand_at(node.condition.left, i),
                "right": self._operand_at(node.condition.right, i),
                "result": None if self._cond_unavailable(node.condition, i) else bool(cond[i]),
            }
            if record.condition["result"] is not None:
                record.branch = "then" if cond[i] else "else"
        elif isinstance(node, Filter):
            record.ranking = self._pending_ranking
            self._pending_ranking = None
        elif isinstance(node, WeightInverseVolatility):
            record.volatility = self._pending_volatility
            self._pending_volatility = None
        self.records[id(node)] = record

    def _operand_at(self, operand: Operand, i: int) -> float | str | None:
        if isinstance(operand, Literal):
            return str(operand.value)
        return _opt(self.indicator(operand.metric, operand.symbol)[i])

    def _cond_unavailable(self, cmp: Comparison, i: int) -> bool:
        for op in (cmp.left, cmp.right):
            if isinstance(op, Indicator) and math.isnan(self.indicator(op.metric, op.symbol)[i]):
                return True
        return False


def _opt(x: float) -> float | None:
    """A value for a trace: None when unavailable (and for ±inf, which JSON cannot carry)."""
    v = float(x)
    return v if math.isfinite(v) else None


def _candidate_name(node: Node) -> str:
    if isinstance(node, Asset):
        return node.symbol
    if isinstance(node, Group):
        return node.name
    return ""


def _rank(scores: FloatArray, kind: SelectKind | None, k: int | None) -> BoolArray:
    """Kept mask: the k best available scores per row; ties keep column order (columns sorted by name)."""
    available = ~np.isnan(scores)
    if kind is None or k is None:
        return available
    key = -scores if kind is SelectKind.TOP else scores
    key = np.where(available, key, np.inf)
    order = np.argsort(key, axis=1, kind="stable")
    ranks = np.empty_like(order)
    rows = np.arange(scores.shape[0])[:, None]
    ranks[rows, order] = np.arange(scores.shape[1])[None, :]
    kept: BoolArray = (ranks < k) & available
    return kept


def _float_floor(d: Decimal) -> tuple[float, bool]:
    """Largest float ≤ d, and whether it equals d exactly."""
    f = float(d)
    exact = Decimal(f)
    if exact > d:
        f = math.nextafter(f, -math.inf)
        exact = Decimal(f)
    return f, exact == d


def _compare(op: CompareOp, left: FloatArray | Decimal, right: FloatArray | Decimal, n: int) -> BoolArray:
    """Exact comparison: literal vs literal in Decimal, float vs literal exactly (no rounding of the literal)."""
    if isinstance(left, Decimal) and isinstance(right, Decimal):
        const = {
            CompareOp.GT: left > right,
            CompareOp.LT: left < right,
            CompareOp.GE: left >= right,
            CompareOp.LE: left <= right,
            CompareOp.EQ: left == right,
        }[op]
        return np.full(n, const, dtype=bool)
    if isinstance(left, Decimal):
        flipped = {
            CompareOp.GT: CompareOp.LT,
            CompareOp.LT: CompareOp.GT,
            CompareOp.GE: CompareOp.LE,
            CompareOp.LE: CompareOp.GE,
            CompareOp.EQ: CompareOp.EQ,
        }[op]
        return _compare(flipped, right, left, n)
    x = left
    with np.errstate(invalid="ignore"):
        if isinstance(right, Decimal):
            lo, exact = _float_floor(right)
            if op is CompareOp.GT:
                result = x > lo
            elif op is CompareOp.LE:
                result = x <= lo
            elif op is CompareOp.GE:
                result = x >= lo if exact else x > lo
            elif op is CompareOp.LT:
                result = x < lo if exact else x <= lo
            else:
                result = x == lo if exact else np.zeros(n, dtype=bool)
        else:
            y = right
            result = {
                CompareOp.GT: x > y,
                CompareOp.LT: x < y,
                CompareOp.GE: x >= y,
                CompareOp.LE: x <= y,
                CompareOp.EQ: x == y,
            }[op]
    out: BoolArray = np.asarray(result, dtype=bool) & ~np.isnan(x)
    if not isinstance(right, Decimal):
        out &= ~np.isnan(right)
    return out


def portfolio_price_series(
    slot: Slot, err: IntArray, returns: list[FloatArray]
) -> tuple[FloatArray, npt.NDArray[np.int64]]:
    """Price series of a candidate portfolio from its own daily returns (dsl.md §2.1).

    r(D) = Σ_s w_s(D−1)·r_s(D) with w(D−1) the candidate's normalised allocation evaluated through D−1; r(D) is
    unavailable when the candidate errored or was empty on D−1 or a held symbol has no return on D. The price is
    the cumulative product of (1 + r) from 1 at the start of each run; a date on which the candidate is valid but
    r(D) is unavailable starts a new run (the base), dates neither valid nor reachable are NaN. Returns the prices
    and the run length ending at each date (adjacent runs stay separate).
    """
    w = slot.weights
    n = w.shape[0]
    total = w.sum(axis=1)
    valid = (total > 0) & (err == 0)
    if slot.active is not None:
        valid &= slot.active
    wn = np.divide(w, total[:, None], out=np.zeros_like(w), where=(total > 0)[:, None])
    r = np.full(n, np.nan)
    if n > 1:
        rets = np.column_stack(returns) if returns else np.zeros((n, 0))
        held = wn[:-1] > 0
        nxt = rets[1:]
        bad = np.any(held & np.isnan(nxt), axis=1) | ~valid[:-1]
        contrib = np.where(held, wn[:-1] * np.where(np.isnan(nxt), 0.0, nxt), 0.0).sum(axis=1)
        bad |= contrib <= -1.0
        r[1:] = np.where(bad, np.nan, contrib)
    has_r = ~np.isnan(r)
    defined = has_r | valid
    prices = np.full(n, np.nan)
    runs = np.zeros(n, dtype=np.int64)
    starts = np.flatnonzero(defined & ~has_r)
    for k, start in enumerate(starts.tolist()):
        stop = int(starts[k + 1]) if k + 1 < starts.shape[0] else n
        # the run continues while returns are available
        seg_r = r[start + 1 : stop]
        breaks = np.flatnonzero(np.isnan(seg_r))
        end = start + 1 + (int(breaks[0]) if breaks.shape[0] else seg_r.shape[0])
        prices[start] = 1.0
        runs[start:end] = np.arange(1, end - start + 1)
        if end > start + 1:
            prices[start + 1 : end] = np.cumprod(1.0 + r[start + 1 : end])
    return prices, runs
