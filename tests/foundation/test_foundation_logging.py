"""Structured logging: JSON fields, correlation ids, and secret redaction everywhere a secret can appear."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest
import structlog

from alchemiser.config import LoggingSettings
from alchemiser.logging import REDACTED, Redactor, bind_ids, configure_logging, get_logger, reclaim_stdlib_loggers

SECRET = "sk-live-0123456789abcdef"
TOKEN = "bearer-token-fedcba9876543210"


@pytest.fixture
def stream() -> Iterator[io.StringIO]:
    out = io.StringIO()
    configure_logging(LoggingSettings(format="json", level="DEBUG"), Redactor([SECRET, TOKEN]), out)
    yield out
    structlog.reset_defaults()
    for handler in list(logging.getLogger().handlers):
        if type(handler).__name__ == "_AlchemiserHandler":
            logging.getLogger().removeHandler(handler)


def lines(stream: io.StringIO) -> list[dict[str, object]]:
    return [json.loads(line) for line in stream.getvalue().splitlines() if line.strip()]


def test_json_line_fields_and_ids(stream: io.StringIO) -> None:
    log = get_logger("execution")
    with bind_ids(run_id="run-1", decision_id="dec-7"):
        log.info("order.submitted", order_id="ord-3", qty="1.5")
    log.warning("outside")
    first, second = lines(stream)
    assert list(first)[:4] == ["timestamp", "level", "component", "event"]
    assert first["level"] == "info"
    assert first["component"] == "execution"
    assert first["event"] == "order.submitted"
    assert (first["run_id"], first["decision_id"], first["order_id"]) == ("run-1", "dec-7", "ord-3")
    assert str(first["timestamp"]).endswith("Z")
    assert "decision_id" not in second


def test_secrets_redacted_in_values_nested_and_keys(stream: io.StringIO) -> None:
    log = get_logger("adapter")
    log.info(
        f"calling with {SECRET}",
        headers={"APCA-API-SECRET-KEY": SECRET, "nested": [f"Bearer {TOKEN}", (SECRET,)]},
        **{"weird": {SECRET: 1}},
    )
    text = stream.getvalue()
    assert SECRET not in text and TOKEN not in text
    record = lines(stream)[0]
    assert record["event"] == f"calling with {REDACTED}"
    assert record["headers"] == {"APCA-API-SECRET-KEY": REDACTED, "nested": [f"Bearer {REDACTED}", [REDACTED]]}


def test_secrets_redacted_in_exception_text_and_objects(stream: io.StringIO) -> None:
    class Holder:
        def __repr__(self) -> str:
            return f"Holder(key={SECRET})"

    log = get_logger("adapter")
    try:
        raise RuntimeError(f"auth failed for {SECRET}")
    except RuntimeError as exc:
        log.exception("call.failed", error=exc, holder=Holder())
    text = stream.getvalue()
    assert SECRET not in text
    record = lines(stream)[0]
    assert record["level"] == "error"
    assert "RuntimeError: auth failed for [REDACTED]" in str(record["exception"])
    assert record["holder"] == f"Holder(key={REDACTED})"


def test_stdlib_records_are_json_and_redacted(stream: io.StringIO) -> None:
    logging.getLogger("some.library").error("stdlib says %s", SECRET)
    record = lines(stream)[0]
    assert record["event"] == f"stdlib says {REDACTED}"
    assert record["component"] == "some.library"


def test_library_loggers_that_opted_out_are_reclaimed(stream: io.StringIO) -> None:
    uvicorn_error = logging.getLogger("uvicorn.error")
    private = io.StringIO()
    uvicorn_error.addHandler(logging.StreamHandler(private))  # what uvicorn's default log_config does
    uvicorn_error.propagate = False
    assert "uvicorn.error" in reclaim_stdlib_loggers()
    uvicorn_error.error("server says %s", SECRET)
    assert private.getvalue() == ""
    assert lines(stream)[0]["event"] == f"server says {REDACTED}"
    assert reclaim_stdlib_loggers() == []


def test_redactor_update_rotates_secrets(stream: io.StringIO) -> None:
    redactor = Redactor(["old-secret-value"])
    out = io.StringIO()
    configure_logging(LoggingSettings(format="json"), redactor, out)
    log = get_logger("x")
    redactor.update(["old-secret-value", "new-secret-value"])
    log.info("both", a="old-secret-value", b="new-secret-value")
    assert "secret-value" not in out.getvalue()
    assert redactor.count == 2


def test_overlapping_secrets_longest_first() -> None:
    redactor = Redactor(["abcd", "abcdefgh"])
    assert redactor.redact_text("x abcdefgh y") == f"x {REDACTED} y"


def test_console_renderer_when_requested(stream: io.StringIO) -> None:
    out = io.StringIO()
    configure_logging(LoggingSettings(format="console"), Redactor([SECRET]), out)
    get_logger("ui").info("hello", secret=SECRET)
    text = out.getvalue()
    assert "hello" in text and SECRET not in text and not text.lstrip().startswith("{")


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_auto_format_is_coloured_console_on_a_terminal_and_json_elsewhere(stream: io.StringIO) -> None:
    terminal, file = _Terminal(), io.StringIO()
    configure_logging(LoggingSettings(format="auto"), Redactor([SECRET]), terminal)
    get_logger("ui").warning("to a person", secret=SECRET)
    assert "\x1b[" in terminal.getvalue() and "to a person" in terminal.getvalue()
    assert SECRET not in terminal.getvalue()
    configure_logging(LoggingSettings(format="auto"), Redactor([SECRET]), file)
    get_logger("ui").warning("to a file")
    assert json.loads(file.getvalue())["event"] == "to a file"


def test_console_format_into_a_file_has_no_escape_codes(stream: io.StringIO) -> None:
    out = io.StringIO()
    configure_logging(LoggingSettings(format="console"), Redactor(), out)
    get_logger("ui").error("plain")
    assert "plain" in out.getvalue() and "\x1b[" not in out.getvalue()


def test_level_filtering(stream: io.StringIO) -> None:
    out = io.StringIO()
    configure_logging(LoggingSettings(format="json", level="warning"), Redactor(), out)
    get_logger("x").info("hidden")
    get_logger("x").error("shown")
    assert [r["event"] for r in lines(out)] == ["shown"]


def test_logger_created_before_configuration_follows_it() -> None:
    """Modules build their loggers at import time; those must still render JSON and redact once configured."""
    structlog.reset_defaults()
    early = get_logger("early_module")
    out = io.StringIO()
    configure_logging(LoggingSettings(format="json", level="INFO"), Redactor([SECRET]), out)
    try:
        early.info("started", key=SECRET)
        (line,) = lines(out)
        assert line["component"] == "early_module"
        assert line["event"] == "started"
        assert line["key"] == REDACTED
    finally:
        structlog.reset_defaults()
        for handler in list(logging.getLogger().handlers):
            if type(handler).__name__ == "_AlchemiserHandler":
                logging.getLogger().removeHandler(handler)


def test_httpx_request_lines_are_not_logged_at_info(stream: io.StringIO) -> None:
    logging.getLogger("httpx").info("HTTP Request: GET http://127.0.0.1/v2/account")
    logging.getLogger("httpx").warning("retrying")
    assert [line["event"] for line in lines(stream)] == ["retrying"]
