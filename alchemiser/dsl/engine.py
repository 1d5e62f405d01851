"""The vectorised evaluator (dsl.md §6): every node yields, for all dates at once, weights and a per-date error.

Values are lists of slots plus error codes (:mod:`alchemiser.dsl.slots`); the node evaluators live in
:mod:`~alchemiser.dsl.combinators`, :mod:`~alchemiser.dsl.filters` and :mod:`~alchemiser.dsl.inverse_volatility`
and share the state of :class:`~alchemiser.dsl.context.EvalContext`.

The traversal is an explicit post-order walk of the (hash-consed) AST: no recursion per nesting level, each distinct
subtree computed once, a subtree's matrices freed as soon as its last parent has used them. With ``record_at`` set,
the engine also keeps, for that one date, what the trace needs (operand values, rankings, weights).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from alchemiser.dsl import combinators
from alchemiser.dsl.ast import (
    Asset,
    Group,
    If,
    Node,
    WeightEqual,
    WeightInverseVolatility,
    WeightSpecified,
    children_of,
)
from alchemiser.dsl.context import EvalContext
from alchemiser.dsl.filters import evaluate_filter
from alchemiser.dsl.inverse_volatility import inverse_volatility
from alchemiser.dsl.records import NodeRecord, record_node
from alchemiser.dsl.slots import IntArray, Slot, Value


@dataclass
class Engine(EvalContext):
    """Evaluates nodes of one symphony over the date axis of ``prices``."""

    records: dict[int, NodeRecord] = field(default_factory=dict)

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
            value = Value([self.asset_slot(node)], self.zero_err)
        elif isinstance(node, Group | WeightEqual):
            value = combinators.equal(self, node, [memo[id(c)] for c in node.children])
        elif isinstance(node, WeightSpecified):
            value = combinators.specified(self, node, [memo[id(c)] for c in node.children])
        elif isinstance(node, WeightInverseVolatility):
            value = inverse_volatility(self, node, [memo[id(c)] for c in node.children])
        elif isinstance(node, If):
            then = [memo[id(c)] for c in node.then]
            otherwise = None if node.otherwise is None else [memo[id(c)] for c in node.otherwise]
            value = combinators.if_(self, node, then, otherwise)
        else:
            value = evaluate_filter(self, node, [memo[id(c)] for c in node.candidates])
        if self.record_at is not None:
            self.records[id(node)] = record_node(self, node, value, self.record_at)
        return value
