"""The forms of the symphony language (dsl.md §2): one builder method per operator, from already-converted
arguments to typed AST nodes (:mod:`alchemiser.dsl.ast`), validated by :class:`FormChecker`."""

from __future__ import annotations

from decimal import Decimal

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
from alchemiser.dsl.checks import Definition, FormChecker, KeywordMap
from alchemiser.dsl.reader import RawKeyword, RawNumber, RawString, RawSymbol
from alchemiser.dsl.rebalance import RebalanceRule
from alchemiser.dsl.symphony import SymphonyOptions
from alchemiser.errors import StrategyError

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


class FormBuilder(FormChecker):
    """Builds the form named by a head symbol from its converted arguments."""

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

    # -- forms ---------------------------------------------------------------------------------------------------
    def defsymphony(self, args: list[object], offset: int) -> object:
        if len(args) != 3:
            raise self.fail(offset, f"(defsymphony name {{options}} body) takes 3 arguments, got {len(args)}")
        name = self.string(args[0], offset, "symphony name")
        opts = args[1]
        if not isinstance(opts, KeywordMap):
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
        try:
            RebalanceRule.from_options(frequency, threshold)
        except StrategyError as exc:
            raise self.fail(opts.offset, str(exc)) from None
        root = self.one_node(args[2], offset, "symphony body")
        return Definition(name, SymphonyOptions(asset_class, threshold, frequency, tuple(extra)), root)

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
        if rest and isinstance(rest[0], KeywordMap):
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
