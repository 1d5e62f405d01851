"""Raw forms → typed, hash-consed AST (:mod:`alchemiser.dsl.ast`) and :class:`Symphony`.

Conversion is an explicit post-order traversal (no Python recursion per nesting level). Unknown operators, wrong
argument counts or types, bad parameters and malformed tickers are :class:`StrategyError` naming file, line and
column.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

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
    Select,
    SelectKind,
    WeightEqual,
    WeightInverseVolatility,
    WeightSpecified,
)
from alchemiser.dsl.reader import (
    MAX_SOURCE_BYTES,
    Raw,
    RawKeyword,
    RawList,
    RawMap,
    RawNumber,
    RawString,
    RawSymbol,
    SourceMap,
    read_forms,
)
from alchemiser.errors import StrategyError

_TICKER_RE = re.compile(r"[A-Z0-9][A-Z0-9.\-]{0,14}\Z")

# Parameters each indicator takes (all positive integers) and the defaults of the optional ones.
_INDICATOR_PARAMS: dict[IndicatorName, tuple[tuple[str, int | None], ...]] = {
    IndicatorName.CURRENT_PRICE: (),
    IndicatorName.RSI: (("window", None),),
    IndicatorName.MOVING_AVERAGE_PRICE: (("window", None),),
    IndicatorName.EXPONENTIAL_MOVING_AVERAGE_PRICE: (("window", None),),
    IndicatorName.MOVING_AVERAGE_RETURN: (("window", None),),
    IndicatorName.CUMULATIVE_RETURN: (("window", None),),
    IndicatorName.STDEV_RETURN: (("window", None),),
    IndicatorName.STDEV_PRICE: (("window", None),),
    IndicatorName.MAX_DRAWDOWN: (("window", None),),
    IndicatorName.PPO: (("short-window", 12), ("long-window", 26)),
    IndicatorName.PPO_SIGNAL: (("short-window", 12), ("long-window", 26), ("smooth-window", 9)),
}
_MAX_WINDOW = 100_000


def normalise_ticker(raw: str) -> str:
    """Broker form of a ticker: upper case, ``/`` → ``.`` (``BRK/B`` → ``BRK.B``)."""
    return raw.strip().upper().replace("/", ".")


@dataclass(frozen=True, slots=True)
class SymphonyOptions:
    asset_class: str | None = None
    rebalance_threshold: float | None = None
    rebalance_frequency: str | None = None
    extra: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True, slots=True)
class Symphony:
    """A parsed symphony: its name, options and AST root."""

    name: str
    options: SymphonyOptions
    root: Node
    source: SourceMap = field(repr=False, compare=False)

    @property
    def rebalance_threshold(self) -> float | None:
        return self.options.rebalance_threshold

    def where(self, offset: int) -> str:
        return self.source.where(offset)


@dataclass(frozen=True, slots=True)
class _Vector:
    items: tuple[object, ...]
    offset: int


@dataclass(frozen=True, slots=True)
class _Map:
    items: dict[str, object]
    offset: int


@dataclass(frozen=True, slots=True)
class _Def:
    name: str
    options: SymphonyOptions
    root: Node


class _Builder:
    """Builds typed values from already-converted arguments; interns nodes (hash-consing)."""

    def __init__(self, source: SourceMap) -> None:
        self.source = source
        self.interned: dict[tuple[object, ...], Node] = {}

    def dispatch(self, head: str, args: list[object], offset: int) -> object | None:
        """Build the form named ``head``; None when no such operator exists."""
        entry = _HEADS.get(head)
        if entry is None:
            return None
        method, extra = entry
        if extra is None:
            built: object = getattr(self, method)(args, offset)
        else:
            built = getattr(self, method)(extra, args, offset)
        return built

    # -- helpers -------------------------------------------------------------------------------------------------
    def fail(self, offset: int, message: str) -> StrategyError:
        return StrategyError(f"{self.source.where(offset)}: {message}")

    def intern(self, key: tuple[object, ...], make: Callable[[], Node]) -> Node:
        node = self.interned.get(key)
        if node is None:
            node = make()
            self.interned[key] = node
        return node

    @staticmethod
    def describe(value: object) -> str:
        if isinstance(value, RawString):
            return f'string "{value.value[:30]}"'
        if isinstance(value, RawNumber):
            return f"number {value.value}"
        if isinstance(value, RawKeyword):
            return f"keyword :{value.name}"
        if isinstance(value, RawSymbol):
            return f"symbol {value.name}"
        if isinstance(value, _Vector):
            return "a list"
        if isinstance(value, _Map):
            return "a map"
        if isinstance(value, Metric):
            return f"indicator ({value.name.value}) without a ticker"
        if isinstance(value, Indicator):
            return f"indicator ({value.metric.name.value} ...)"
        if isinstance(value, Comparison):
            return f"comparison ({value.op.value} ...)"
        if isinstance(value, Select):
            return f"({value.kind.value} ...)"
        return f"({type(value).__name__.lower()} ...)"

    def nodes(self, value: object, offset: int, what: str) -> tuple[Node, ...]:
        """A child position: one node or a list of nodes."""
        items = value.items if isinstance(value, _Vector) else (value,)
        out: list[Node] = []
        for item in items:
            if not isinstance(
                item, Asset | Group | WeightEqual | WeightSpecified | WeightInverseVolatility | If | Filter
            ):
                raise self.fail(
                    offset,
                    f"{what} must be a portfolio form (asset, group, weight-*, if, filter), got {self.describe(item)}",
                )
            out.append(item)
        return tuple(out)

    def one_node(self, value: object, offset: int, what: str) -> Node:
        items = self.nodes(value, offset, what)
        if not items:
            raise self.fail(offset, f"{what} is empty")
        if len(items) == 1:
            return items[0]
        return self.intern(("weight-equal", *(id(c) for c in items)), lambda: WeightEqual(items, offset))

    def positive_int(self, value: object, offset: int, what: str) -> int:
        if not isinstance(value, RawNumber) or value.value != value.value.to_integral_value() or value.value < 1:
            raise self.fail(offset, f"{what} must be a positive integer, got {self.describe(value)}")
        if value.value > _MAX_WINDOW:
            raise self.fail(offset, f"{what} {value.value} is larger than the limit of {_MAX_WINDOW}")
        return int(value.value)

    def string(self, value: object, offset: int, what: str) -> str:
        if not isinstance(value, RawString):
            raise self.fail(offset, f"{what} must be a string, got {self.describe(value)}")
        return value.value

    def ticker(self, value: object, offset: int, what: str) -> str:
        raw = self.string(value, offset, what)
        ticker = normalise_ticker(raw)
        if not _TICKER_RE.match(ticker):
            raise self.fail(offset, f"{what} {raw!r} is not a valid ticker")
        return ticker

    # -- forms ---------------------------------------------------------------------------------------------------
    def defsymphony(self, args: list[object], offset: int) -> object:
        if len(args) != 3:
            raise self.fail(offset, f"(defsymphony name {{options}} body) takes 3 arguments, got {len(args)}")
        name = self.string(args[0], offset, "symphony name")
        opts = args[1]
        if not isinstance(opts, _Map):
            raise self.fail(offset, f"symphony options must be a map, got {self.describe(opts)}")
        asset_class: str | None = None
        threshold: float | None = None
        frequency: str | None = None
        extra: list[tuple[str, str]] = []
        for key, value in opts.items.items():
            if key == "asset-class":
                asset_class = self.string(value, opts.offset, ":asset-class")
            elif key == "rebalance-threshold":
                if not isinstance(value, RawNumber) or not (Decimal(0) <= value.value < Decimal(1)):
                    raise self.fail(
                        opts.offset, f":rebalance-threshold must be a number in [0, 1), got {self.describe(value)}"
                    )
                threshold = float(value.value)
            elif key == "rebalance-frequency":
                if isinstance(value, RawKeyword):
                    frequency = value.name
                elif isinstance(value, RawString):
                    frequency = value.value
                else:
                    raise self.fail(opts.offset, f":rebalance-frequency must be a keyword, got {self.describe(value)}")
            else:
                extra.append((key, self.describe(value)))
        root = self.one_node(args[2], offset, "symphony body")
        return _Def(name, SymphonyOptions(asset_class, threshold, frequency, tuple(extra)), root)

    def asset(self, args: list[object], offset: int) -> object:
        if not 1 <= len(args) <= 2:
            raise self.fail(offset, f'(asset "TICKER" "name") takes 1 or 2 arguments, got {len(args)}')
        symbol = self.ticker(args[0], offset, "asset ticker")
        display: str | None = None
        if len(args) == 2:
            if isinstance(args[1], RawString):
                display = args[1].value
            elif not (isinstance(args[1], RawSymbol) and args[1].name == "nil"):
                raise self.fail(offset, f"asset display name must be a string or nil, got {self.describe(args[1])}")
        return self.intern(("asset", symbol), lambda: Asset(symbol, display, offset))

    def group(self, args: list[object], offset: int) -> object:
        if len(args) != 2:
            raise self.fail(offset, f'(group "name" [children]) takes 2 arguments, got {len(args)}')
        name = self.string(args[0], offset, "group name")
        children = self.nodes(args[1], offset, "group child")
        if not children:
            raise self.fail(offset, f"group {name!r} has no children")
        return self.intern(("group", name, *(id(c) for c in children)), lambda: Group(name, children, offset))

    def weight_equal(self, args: list[object], offset: int) -> object:
        if len(args) != 1:
            raise self.fail(offset, f"(weight-equal [children]) takes 1 argument, got {len(args)}")
        children = self.nodes(args[0], offset, "weight-equal child")
        if not children:
            raise self.fail(offset, "weight-equal has no children")
        return self.intern(("weight-equal", *(id(c) for c in children)), lambda: WeightEqual(children, offset))

    def weight_specified(self, args: list[object], offset: int) -> object:
        if not args or len(args) % 2:
            raise self.fail(offset, "(weight-specified w1 x1 w2 x2 ...) needs weight/child pairs")
        weights: list[Decimal] = []
        children: list[Node] = []
        for i in range(0, len(args), 2):
            w = args[i]
            if not isinstance(w, RawNumber) or w.value < 0:
                raise self.fail(
                    offset, f"weight-specified weight #{i // 2 + 1} must be a number ≥ 0, got {self.describe(w)}"
                )
            weights.append(w.value)
            children.append(self.one_node(args[i + 1], offset, f"weight-specified child #{i // 2 + 1}"))
        if sum(weights) <= 0:
            raise self.fail(offset, "weight-specified weights sum to 0")
        wt, ch = tuple(weights), tuple(children)
        return self.intern(("weight-specified", *wt, *(id(c) for c in ch)), lambda: WeightSpecified(wt, ch, offset))

    def weight_inverse_volatility(self, args: list[object], offset: int) -> object:
        if len(args) != 2:
            raise self.fail(offset, f"(weight-inverse-volatility N [children]) takes 2 arguments, got {len(args)}")
        window = self.positive_int(args[0], offset, "weight-inverse-volatility window")
        children = self.nodes(args[1], offset, "weight-inverse-volatility child")
        if not children:
            raise self.fail(offset, "weight-inverse-volatility has no children")
        return self.intern(
            ("wiv", window, *(id(c) for c in children)), lambda: WeightInverseVolatility(window, children, offset)
        )

    def if_(self, args: list[object], offset: int) -> object:
        if len(args) not in (2, 3):
            raise self.fail(offset, f"(if condition [then] [else]) takes 2 or 3 arguments, got {len(args)}")
        cond = args[0]
        if not isinstance(cond, Comparison):
            raise self.fail(offset, f"if condition must be a comparison (> < >= <= =), got {self.describe(cond)}")
        then = self.nodes(args[1], offset, "if then-branch")
        otherwise = self.nodes(args[2], offset, "if else-branch") if len(args) == 3 else None
        if not then:
            raise self.fail(offset, "if then-branch is empty")
        key: tuple[object, ...] = (
            "if",
            cond.op,
            _operand_key(cond.left),
            _operand_key(cond.right),
            tuple(id(c) for c in then),
            None if otherwise is None else tuple(id(c) for c in otherwise),
        )
        return self.intern(key, lambda: If(cond, then, otherwise, offset))

    def filter(self, args: list[object], offset: int) -> object:
        if len(args) not in (2, 3):
            raise self.fail(
                offset, f"(filter metric (select-top k) [candidates]) takes 2 or 3 arguments, got {len(args)}"
            )
        metric = args[0]
        if not isinstance(metric, Metric):
            raise self.fail(
                offset,
                f"filter metric must be an indicator without a ticker, e.g. (rsi {{:window 10}}), "
                f"got {self.describe(metric)}",
            )
        select: Select | None = None
        if len(args) == 3:
            if not isinstance(args[1], Select):
                raise self.fail(
                    offset,
                    f"filter selection must be (select-top k) or (select-bottom k), got {self.describe(args[1])}",
                )
            select = args[1]
        candidates = self.nodes(args[-1], offset, "filter candidate")
        if not candidates:
            raise self.fail(offset, "filter has no candidates")
        seen: set[int] = set()
        unique: list[Node] = []
        for c in candidates:  # duplicate candidates count once
            if id(c) not in seen:
                seen.add(id(c))
                unique.append(c)
        cand = tuple(unique)
        key = ("filter", metric, select, *(id(c) for c in cand))
        return self.intern(key, lambda: Filter(metric, select, cand, offset))

    def _select(self, kind: SelectKind, args: list[object], offset: int) -> object:
        if len(args) != 1:
            raise self.fail(offset, f"({kind.value} k) takes 1 argument, got {len(args)}")
        return Select(kind, self.positive_int(args[0], offset, f"{kind.value} count"))

    def select_top(self, args: list[object], offset: int) -> object:
        return self._select(SelectKind.TOP, args, offset)

    def select_bottom(self, args: list[object], offset: int) -> object:
        return self._select(SelectKind.BOTTOM, args, offset)

    def comparison(self, op: CompareOp, args: list[object], offset: int) -> object:
        if len(args) != 2:
            raise self.fail(offset, f"({op.value} a b) takes exactly 2 operands, got {len(args)}")
        operands: list[Operand] = []
        for arg in args:
            if isinstance(arg, RawNumber):
                operands.append(Literal(arg.value, arg.offset))
            elif isinstance(arg, Indicator):
                operands.append(arg)
            else:
                raise self.fail(
                    offset,
                    f"({op.value} ...) operand must be a number or an indicator with a "
                    f"ticker, got {self.describe(arg)}",
                )
        return Comparison(op, operands[0], operands[1], offset)

    def indicator(self, name: IndicatorName, args: list[object], offset: int) -> object:
        spec = _INDICATOR_PARAMS[name]
        symbol: str | None = None
        rest = list(args)
        if rest and isinstance(rest[0], RawString):
            symbol = self.ticker(rest.pop(0), offset, f"{name.value} ticker")
        given: dict[str, object] = {}
        if rest and isinstance(rest[0], _Map):
            given = dict(rest[0].items)
            rest.pop(0)
        if rest:
            raise self.fail(offset, f'({name.value} "TICKER" {{params}}) got an unexpected {self.describe(rest[0])}')
        params: list[tuple[str, int]] = []
        for key, default in spec:
            if key in given:
                params.append((key, self.positive_int(given.pop(key), offset, f"{name.value} :{key}")))
            elif default is not None:
                params.append((key, default))
            else:
                raise self.fail(offset, f"({name.value}) needs :{key}")
        if given:
            raise self.fail(offset, f"({name.value}) has unknown parameter :{sorted(given)[0]}")
        if name in (IndicatorName.PPO, IndicatorName.PPO_SIGNAL):
            p = dict(params)
            if p["short-window"] >= p["long-window"]:
                raise self.fail(offset, f"({name.value}) :short-window must be smaller than :long-window")
        metric = Metric(name, tuple(sorted(params)))
        if symbol is None:
            return metric
        return Indicator(metric, symbol, offset)


_HEADS: dict[str, tuple[str, object]] = {
    "defsymphony": ("defsymphony", None),
    "asset": ("asset", None),
    "group": ("group", None),
    "weight-equal": ("weight_equal", None),
    "weight-specified": ("weight_specified", None),
    "weight-inverse-volatility": ("weight_inverse_volatility", None),
    "if": ("if_", None),
    "filter": ("filter", None),
    "select-top": ("select_top", None),
    "select-bottom": ("select_bottom", None),
}
_HEADS.update({op.value: ("comparison", op) for op in CompareOp})
_HEADS.update({name.value: ("indicator", name) for name in IndicatorName})


def _operand_key(operand: Operand) -> object:
    if isinstance(operand, Literal):
        return ("lit", operand.value)
    return ("ind", operand.metric, operand.symbol)


def _convert(forms: list[Raw], source: SourceMap) -> list[object]:
    """Post-order conversion with an explicit stack (no recursion per nesting level)."""
    builder = _Builder(source)
    results: list[object] = []
    # Frame: [raw form, its sub-forms, converted sub-forms so far].
    stack: list[tuple[RawList | RawMap, tuple[Raw, ...], list[object]]] = []
    cursors: list[int] = []
    top_index = 0
    while True:
        if stack:
            frame_raw, children, done = stack[-1]
            cursor = cursors[-1]
            if cursor < len(children):
                cursors[-1] = cursor + 1
                child = children[cursor]
                if isinstance(child, RawList | RawMap):
                    stack.append((child, _sub_forms(child), []))
                    cursors.append(0)
                else:
                    done.append(child)
                continue
            stack.pop()
            cursors.pop()
            value = _finish(builder, frame_raw, done)
            if stack:
                stack[-1][2].append(value)
            else:
                results.append(value)
            continue
        if top_index >= len(forms):
            break
        raw = forms[top_index]
        top_index += 1
        if isinstance(raw, RawList | RawMap):
            stack.append((raw, _sub_forms(raw), []))
            cursors.append(0)
        else:
            results.append(raw)
    return results


def _sub_forms(raw: RawList | RawMap) -> tuple[Raw, ...]:
    if isinstance(raw, RawList):
        return raw.items
    return tuple(x for pair in raw.items for x in pair)


def _finish(builder: _Builder, raw: RawList | RawMap, done: list[object]) -> object:
    if isinstance(raw, RawMap):
        items: dict[str, object] = {}
        for i in range(0, len(done), 2):
            key = done[i]
            if not isinstance(key, RawKeyword):
                raise builder.fail(raw.offset, f"map keys must be keywords, got {builder.describe(key)}")
            if key.name in items:
                raise builder.fail(key.offset, f"duplicate map key :{key.name}")
            items[key.name] = done[i + 1]
        return _Map(items, raw.offset)
    if raw.bracket == "[":
        return _Vector(tuple(done), raw.offset)
    if not done:
        raise builder.fail(raw.offset, "empty form ()")
    head = done[0]
    if not isinstance(head, RawSymbol):
        raise builder.fail(raw.offset, f"form must start with an operator name, got {builder.describe(head)}")
    built = builder.dispatch(head.name, done[1:], raw.offset)
    if built is None:
        raise builder.fail(head.offset, f"unknown operator {head.name!r}")
    return built


def parse_symphony(text: str, source: str = "<string>") -> Symphony:
    """Parse one symphony from text. ``source`` names it in error messages (usually the file path)."""
    forms, smap = read_forms(text, source)
    if len(forms) != 1:
        raise StrategyError(f"{source}: expected exactly one top-level (defsymphony ...) form, found {len(forms)}")
    first = forms[0]
    if not (
        isinstance(first, RawList)
        and first.items
        and isinstance(first.items[0], RawSymbol)
        and first.items[0].name == "defsymphony"
    ):
        raise StrategyError(f"{smap.where(first.offset)}: the top-level form must be (defsymphony ...)")
    (value,) = _convert(forms, smap)
    if not isinstance(value, _Def):  # pragma: no cover - guarded above
        raise StrategyError(f"{source}: the top-level form must be (defsymphony ...)")
    return Symphony(value.name, value.options, value.root, smap)


def load_symphony(path: str | Path) -> Symphony:
    """Read and parse a ``.clj`` symphony file (UTF-8, at most 10 MiB)."""
    p = Path(path)
    try:
        size = p.stat().st_size
        if size > MAX_SOURCE_BYTES:
            raise StrategyError(f"{p}: symphony file is {size} bytes, larger than the limit of 10 MiB")
        data = p.read_bytes()
    except OSError as exc:
        raise StrategyError(f"{p}: cannot read symphony file: {exc.strerror or exc}") from exc
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise StrategyError(f"{p}: symphony file is not valid UTF-8 (byte offset {exc.start})") from exc
    return parse_symphony(text, str(p))
