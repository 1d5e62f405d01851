"""Structured logging: structlog JSON lines (or coloured console lines on a TTY), with secrets redacted.

Every line carries ``timestamp`` (UTC ISO-8601), ``level``, ``component`` and ``event``, plus whatever ids are
bound in the current context (``run_id``, ``decision_id``, ``order_id``) via :func:`bind_ids`. Records from the
standard library (uvicorn, asyncio, aiosqlite) go through the same processors.

Usage::

    redactor = Redactor(settings.secret_values())
    configure_logging(settings.logging, redactor)
    log = get_logger("execution")
    with bind_ids(decision_id="d-1"):
        log.info("order.submitted", order_id="o-1", symbol="SPY")

``Redactor.update`` swaps the secret set at runtime (SIGHUP key rotation) without reconfiguring.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any, TextIO

import structlog
from structlog.typing import EventDict, Processor, WrappedLogger

from alchemiser.config import LoggingSettings

REDACTED = "[REDACTED]"
CORRELATION_IDS = ("run_id", "decision_id", "order_id")
_MAX_DEPTH = 8


class Redactor:
    """A structlog processor that replaces every known secret value wherever it appears in an event."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        self._secrets: tuple[str, ...] = ()
        self.update(secrets)

    def update(self, secrets: Iterable[str]) -> None:
        """Replace the secret set (longest first, so a secret containing another is fully masked)."""
        unique = {s for s in secrets if s}
        self._secrets = tuple(sorted(unique, key=len, reverse=True))

    @property
    def count(self) -> int:
        return len(self._secrets)

    def redact_text(self, text: str) -> str:
        for secret in self._secrets:
            if secret in text:
                text = text.replace(secret, REDACTED)
        return text

    def redact(self, value: Any, depth: int = 0) -> Any:
        if not self._secrets:
            return value
        if isinstance(value, str):
            return self.redact_text(value)
        if isinstance(value, bool | int | float) or value is None:
            return value
        if depth >= _MAX_DEPTH:
            return self.redact_text(repr(value))
        if isinstance(value, Mapping):
            return {self.redact(k, depth + 1): self.redact(v, depth + 1) for k, v in value.items()}
        if isinstance(value, list | tuple | set | frozenset):
            return [self.redact(v, depth + 1) for v in value]
        if isinstance(value, BaseException):
            return self.redact_text(f"{type(value).__name__}: {value}")
        text = repr(value)
        redacted = self.redact_text(text)
        return value if redacted == text else redacted

    def __call__(self, logger: WrappedLogger, method_name: str, event_dict: EventDict) -> EventDict:
        del logger, method_name
        if not self._secrets:
            return event_dict
        return {key: self.redact(value) for key, value in event_dict.items()}


_LEADING_KEYS = ("timestamp", "level", "component", "event")


def _order_keys(logger: WrappedLogger, method_name: str, event_dict: EventDict) -> EventDict:
    del logger, method_name
    ordered = {key: event_dict.pop(key) for key in _LEADING_KEYS if key in event_dict}
    ordered.update(event_dict)
    return ordered


def _default_component(logger: WrappedLogger, method_name: str, event_dict: EventDict) -> EventDict:
    del method_name
    if "component" not in event_dict:
        record = event_dict.get("_record")
        name = getattr(record, "name", None) or getattr(logger, "name", None)
        event_dict["component"] = name or "alchemiser"
    return event_dict


def _drop_stdlib_internals(logger: WrappedLogger, method_name: str, event_dict: EventDict) -> EventDict:
    del logger, method_name
    event_dict.pop("_record", None)
    event_dict.pop("_from_structlog", None)
    event_dict.pop("color_message", None)
    return event_dict


def _shared_processors(redactor: Redactor) -> list[Processor]:
    return [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        _default_component,
        structlog.processors.TimeStamper(fmt="iso", utc=True, key="timestamp"),
        structlog.processors.StackInfoRenderer(),
        structlog.processors.format_exc_info,
        structlog.processors.UnicodeDecoder(),
        redactor,
    ]


def _is_tty(stream: TextIO) -> bool:
    isatty = getattr(stream, "isatty", None)
    return bool(isatty and isatty())


def use_console(settings: LoggingSettings, stream: TextIO) -> bool:
    """``console`` or ``json`` as configured; ``auto``: the console format on a terminal, JSON otherwise."""
    if settings.format == "console":
        return True
    if settings.format == "json":
        return False
    return _is_tty(stream)


def configure_logging(settings: LoggingSettings, redactor: Redactor, stream: TextIO | None = None) -> None:
    """Configure structlog and the standard library root logger for this process.

    Logging is process-wide by nature (like the stdlib's); this is called once by the entry point, and again only
    by tests. The redactor stays owned by the caller so secrets can be swapped on reload.
    """
    out = stream if stream is not None else sys.stdout
    renderer: Processor
    if use_console(settings, out):
        colour = _is_tty(out)  # no escape codes in a file, even when the console format is asked for
        renderer = structlog.dev.ConsoleRenderer(
            colors=colour, exception_formatter=structlog.dev.rich_traceback if colour else structlog.dev.plain_traceback
        )
    else:
        renderer = structlog.processors.JSONRenderer(default=str, sort_keys=False)
    shared = _shared_processors(redactor)
    level = logging.getLevelNamesMapping()[settings.level]
    structlog.configure(
        processors=[structlog.stdlib.filter_by_level, *shared, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        wrapper_class=structlog.stdlib.BoundLogger,
        logger_factory=structlog.stdlib.LoggerFactory(),
        cache_logger_on_first_use=False,
    )
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=[structlog.stdlib.add_logger_name, *shared],
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            _drop_stdlib_internals,
            _order_keys,
            renderer,
        ],
    )
    handler = _AlchemiserHandler(out)
    handler.setFormatter(formatter)
    root = logging.getLogger()
    for existing in list(root.handlers):
        if isinstance(existing, _AlchemiserHandler):
            root.removeHandler(existing)
    root.addHandler(handler)
    root.setLevel(level)
    # httpx logs every request at INFO; the adapter's own metrics and logs already cover requests.
    for noisy in ("uvicorn.access", "aiosqlite", "asyncio", "httpx", "httpcore"):
        logging.getLogger(noisy).setLevel(max(level, logging.WARNING))
    reclaim_stdlib_loggers()


RECLAIMED_LOGGERS = ("uvicorn", "uvicorn.error", "uvicorn.access", "websockets", "httpx")


def reclaim_stdlib_loggers(names: Iterable[str] = RECLAIMED_LOGGERS) -> list[str]:
    """Route these library loggers back through our handler (JSON + redaction).

    Libraries may install their own handlers with ``propagate = False`` (uvicorn does whenever a ``uvicorn.Config``
    is built with its default ``log_config``), which would bypass redaction. Returns the names that were changed.
    """
    changed = []
    for name in names:
        logger = logging.getLogger(name)
        foreign = [h for h in logger.handlers if not isinstance(h, _AlchemiserHandler)]
        if foreign or not logger.propagate:
            for handler in foreign:
                logger.removeHandler(handler)
            logger.propagate = True
            changed.append(name)
    return changed


class _AlchemiserHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """The handler ``configure_logging`` installs (recognised so a second call replaces it)."""


def get_logger(component: str, **initial: Any) -> structlog.stdlib.BoundLogger:
    """A logger whose lines carry ``component``.

    It stays a lazy proxy (no ``bind`` here): modules create their loggers at import time, before
    ``configure_logging`` runs, and a logger bound that early would keep structlog's default console renderer.
    """
    logger: structlog.stdlib.BoundLogger = structlog.stdlib.get_logger(
        f"alchemiser.{component}", component=component, **initial
    )
    return logger


@contextmanager
def bind_ids(**ids: str | None) -> Iterator[None]:
    """Bind correlation ids (run_id, decision_id, order_id, …) to every log line in this context."""
    present = {k: v for k, v in ids.items() if v is not None}
    with structlog.contextvars.bound_contextvars(**present):
        yield


def bind_run_id(run_id: str) -> None:
    """Bind the run id for the rest of this task and the tasks it creates (called once at daemon start)."""
    structlog.contextvars.bind_contextvars(run_id=run_id)
