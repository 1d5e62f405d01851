"""Raw forms (:mod:`alchemiser.dsl.reader`) → typed, hash-consed AST and :class:`Symphony`.

Conversion is an explicit post-order traversal (no Python recursion per nesting level); each form is built by
:class:`~alchemiser.dsl.forms.FormBuilder`. Unknown operators, wrong argument counts or types, bad parameters and
malformed tickers are :class:`StrategyError` naming file, line and column.
"""

from __future__ import annotations

from pathlib import Path

from alchemiser.dsl.checks import Definition, KeywordMap, Vector
from alchemiser.dsl.forms import FormBuilder
from alchemiser.dsl.reader import (
    MAX_SOURCE_BYTES,
    Raw,
    RawKeyword,
    RawList,
    RawMap,
    RawSymbol,
    SourceMap,
    read_forms,
)
from alchemiser.dsl.symphony import Symphony
from alchemiser.errors import StrategyError


def _convert(forms: list[Raw], source: SourceMap) -> list[object]:
    """Post-order conversion with an explicit stack (no recursion per nesting level)."""
    builder = FormBuilder(source)
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


def _finish(builder: FormBuilder, raw: RawList | RawMap, done: list[object]) -> object:
    if isinstance(raw, RawMap):
        items: dict[str, object] = {}
        for i in range(0, len(done), 2):
            key = done[i]
            if not isinstance(key, RawKeyword):
                raise builder.fail(raw.offset, f"map keys must be keywords, got {builder.describe(key)}")
            if key.name in items:
                raise builder.fail(key.offset, f"duplicate map key :{key.name}")
            items[key.name] = done[i + 1]
        return KeywordMap(items, raw.offset)
    if raw.bracket == "[":
        return Vector(tuple(done), raw.offset)
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
    if not isinstance(value, Definition):  # pragma: no cover - guarded above
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
