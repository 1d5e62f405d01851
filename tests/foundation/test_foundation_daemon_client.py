"""The CLI's stdlib client of the daemon API against a real loopback HTTP server: JSON, text, auth header, errors."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import ClassVar

import pytest

from alchemiser.cli.daemon_client import DaemonClient, DaemonUnreachable
from alchemiser.cli.main import main


class _Handler(BaseHTTPRequestHandler):
    seen: ClassVar[list[tuple[str, str, str | None, bytes]]] = []

    def _answer(self, code: int, body: bytes, content_type: str) -> None:
        self.send_response(code)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:
        self.seen.append(("GET", self.path, self.headers.get("Authorization"), b""))
        if self.path == "/base/status":
            self._answer(200, json.dumps({"mode": "sim"}).encode(), "application/json")
        else:
            self._answer(503, b"overloaded", "text/plain")

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        self.seen.append(("POST", self.path, self.headers.get("Authorization"), body))
        self._answer(403, json.dumps({"error": "bad token"}).encode(), "application/json")

    def log_message(self, format: str, *args: object) -> None:
        del format, args


@pytest.fixture
def server() -> Iterator[str]:
    _Handler.seen = []
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}/base"
    finally:
        httpd.shutdown()
        httpd.server_close()


def test_json_and_text_replies_and_the_bearer_token(server: str) -> None:
    client = DaemonClient(server, "t" * 20, timeout=5)
    ok = client.get("/status")
    assert (ok.status_code, ok.is_success, ok.payload) == (200, True, {"mode": "sim"})
    text = client.get("/other")
    assert (text.status_code, text.is_success, text.error_message()) == (503, False, "overloaded")
    refused = client.post("/api/kill", {"reason": "drill"})
    assert (refused.status_code, refused.error_message()) == (403, "bad token")
    assert _Handler.seen[-1] == ("POST", "/base/api/kill", "Bearer " + "t" * 20, b'{"reason": "drill"}')
    assert DaemonClient(server, None, timeout=5).get("/status").is_success
    assert _Handler.seen[-1][2] is None  # no token, no header


def test_a_refusal_is_exit_1_with_the_daemons_message(server: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["kill", "--url", server, "--token", "t" * 20, "--reason", "drill"]) == 1
    assert "daemon answered 403: bad token" in capsys.readouterr().err


def test_bad_url_and_no_listener_are_unreachable(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(DaemonUnreachable, match="not an http"):
        DaemonClient("ftp://127.0.0.1:1", None, timeout=1)
    assert main(["status", "--url", "127.0.0.1:8787"]) == 1
    assert "not an http(s) URL" in capsys.readouterr().err
    with pytest.raises(DaemonUnreachable):
        DaemonClient("http://127.0.0.1:9", None, timeout=1).get("/status")
