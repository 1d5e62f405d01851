"""Tokenizer and iterative reader: symphony text → raw forms (lists, maps, atoms) with source offsets.

The reader never recurses on the Python stack: nesting is tracked with an explicit stack, so depth is limited
only by :data:`MAX_DEPTH` (a clear :class:`~alchemiser.errors.StrategyError` beyond it), not by the interpreter.
Every error names the source, line and column.
"""

from __future__ import annotations

import bisect
import math
import re
from decimal import Decimal
from typing import NamedTuple

from alchemiser.errors import StrategyError

MAX_SOURCE_BYTES = 10 * 1024 * 1024
"""Largest symphony accepted (10 MiB)."""

MAX_DEPTH = 2000
"""Deepest bracket nesting accepted (real files nest ~200 deep; ≥ 400 must work)."""

_TOKEN_RE = re.compile(
    r"""
    (?P<ws>[\s,]+)
  | (?P<comment>;[^\n]*)
  | (?P<open>[(\[{])
  | (?P<close>[)\]}])
  | (?P<string>"(?:[^"\\]|\\.)*")
  | (?P<quote>")
  | (?P<atom>[^\s,;()\[\]{}"]+)
    """,
    re.VERBOSE | re.DOTALL,
)
MAX_NUMBER_DIGITS = 30
_NUMBER_RE = re.compile(r"-?\d+(?:\.\d+)?\Z")
_KEYWORD_RE = re.compile(r":[A-Za-z0-9_-]+\Z")
_SYMBOL_RE = re.compile(r"[A-Za-z0-9_><=!?+*/\-]+\Z")
_ESCAPES = {'"': '"', "\\": "\\", "n": "\n", "t": "\t", "r": "\r"}
_CLOSER = {"(": ")", "[": "]", "{": "}"}


class SourceMap:
    """Turns character offsets of one source text into 1-based line and column numbers."""

    __slots__ = ("_line_starts", "name")

    def __init__(self, text: str, name: str) -> None:
        self.name = name
        starts = [0]
        starts.extend(m.end() for m in re.finditer("\n", text))
        self._line_starts = starts

    def line_col(self, offset: int) -> tuple[int, int]:
        line = bisect.bisect_right(self._line_starts, offset)
        return line, offset - self._line_starts[line - 1] + 1

    def where(self, offset: int) -> str:
        line, col = self.line_col(offset)
        return f"{self.name}:{line}:{col}"


class RawSymbol(NamedTuple):
    name: str
    offset: int


class RawKeyword(NamedTuple):
    name: str  # without the leading colon
    offset: int


class RawString(NamedTuple):
    value: str
    offset: int


class RawNumber(NamedTuple):
    value: Decimal
    offset: int


class RawList(NamedTuple):
    items: tuple[Raw, ...]
    offset: int
    bracket: str  # "(" or "["


class RawMap(NamedTuple):
    items: tuple[tuple[Raw, Raw], ...]
    offset: int


Raw = RawSymbol | RawKeyword | RawString | RawNumber | RawList | RawMap


def _unescape(body: str, offset: int, source: SourceMap) -> str:
    if "\\" not in body:
        return body
    out: list[str] = []
    i = 0
    while i < len(body):
        ch = body[i]
        if ch == "\\":
            nxt = body[i + 1]
            if nxt not in _ESCAPES:
                raise StrategyError(f"{source.where(offset + i + 1)}: unknown escape '\\{nxt}' in string")
            out.append(_ESCAPES[nxt])
            i += 2
        else:
            out.append(ch)
            i += 1
    return "".join(out)


def read_forms(text: str, source_name: str = "<string>") -> tuple[list[Raw], SourceMap]:
    """Read every top-level form of ``text``. Raises StrategyError naming line and column on bad input."""
    source = SourceMap(text, source_name)
    if len(text) > MAX_SOURCE_BYTES:
        raise StrategyError(f"{source_name}: symphony is {len(text)} characters, larger than the limit of 10 MiB")
    top: list[Raw] = []
    # Each stack frame: (opening bracket, offset, collected items).
    stack: list[tuple[str, int, list[Raw]]] = []
    items = top
    pos = 0
    end = len(text)
    match = _TOKEN_RE.match
    while pos < end:
        m = match(text, pos)
        if m is None:  # pragma: no cover - the atom alternative matches any other character
            raise StrategyError(f"{source.where(pos)}: unexpected character {text[pos]!r}")
        kind = m.lastgroup
        tok_start = pos
        pos = m.end()
        if kind in {"ws", "comment"}:
            continue
        if kind == "open":
            if len(stack) >= MAX_DEPTH:
                raise StrategyError(f"{source.where(tok_start)}: nesting deeper than the limit of {MAX_DEPTH} levels")
            items = []
            stack.append((m.group(), tok_start, items))
            continue
        if kind == "close":
            closer = m.group()
            if not stack:
                raise StrategyError(f"{source.where(tok_start)}: unexpected '{closer}' with no open bracket")
            opener, open_offset, done = stack.pop()
            if _CLOSER[opener] != closer:
                raise StrategyError(
                    f"{source.where(tok_start)}: '{closer}' does not match '{opener}' opened at "
                    f"{source.where(open_offset)}"
                )
            form: Raw
            if opener == "{":
                if len(done) % 2:
                    raise StrategyError(
                        f"{source.where(open_offset)}: map has an odd number of forms ({len(done)}); "
                        "expected key/value pairs"
                    )
                form = RawMap(tuple(zip(done[0::2], done[1::2], strict=True)), open_offset)
            else:
                form = RawList(tuple(done), open_offset, opener)
            items = stack[-1][2] if stack else top
            items.append(form)
            continue
        if kind == "string":
            raw = m.group()
            items.append(RawString(_unescape(raw[1:-1], tok_start + 1, source), tok_start))
            continue
        if kind == "quote":
            raise StrategyError(f"{source.where(tok_start)}: unterminated string")
        atom = m.group()
        if _NUMBER_RE.match(atom):
            items.append(RawNumber(_finite_number(atom, tok_start, source), tok_start))
        elif atom[0] == ":":
            if not _KEYWORD_RE.match(atom):
                raise StrategyError(f"{source.where(tok_start)}: invalid keyword {atom!r}")
            items.append(RawKeyword(atom[1:], tok_start))
        elif _SYMBOL_RE.match(atom) and not atom[0].isdigit():
            items.append(RawSymbol(atom, tok_start))
        else:
            raise StrategyError(f"{source.where(tok_start)}: invalid token {atom[:40]!r}")
    if stack:
        opener, open_offset, _ = stack[-1]
        raise StrategyError(f"{source.where(open_offset)}: '{opener}' is never closed (unexpected end of input)")
    return top, source


def _finite_number(atom: str, offset: int, source: SourceMap) -> Decimal:
    """A number literal that stays finite as a float (the engine computes in floats); else a parse error.

    A weight or threshold with hundreds of digits is never meant: it would overflow to infinity and turn a
    weighting into NaN, i.e. an empty allocation, which in the daemon could mean selling everything."""
    digits = len(atom.lstrip("-").replace(".", ""))
    if digits > MAX_NUMBER_DIGITS:
        raise StrategyError(
            f"{source.where(offset)}: number {atom[:20]}... has {digits} digits (at most {MAX_NUMBER_DIGITS})"
        )
    value = Decimal(atom)
    if not math.isfinite(float(value)):
        raise StrategyError(f"{source.where(offset)}: number {atom[:20]} is not finite as a float")
    return value
