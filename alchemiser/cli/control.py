"""``alchemiser kill | resume | status``: talk to a running daemon over its HTTP API.

The URL defaults to ``http://<http.host>:<http.port>`` and the token to ``control_token``, both read from the
same configuration sources as the daemon (TOML, secret files, environment); ``--url`` / ``--token`` override.
Exit codes: 0 success, 1 daemon unreachable or refused, 2 bad configuration/usage.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from alchemiser.cli.common import EXIT_FAILED, EXIT_OK, EXIT_USAGE, add_config_arguments, print_problems
from alchemiser.cli.daemon_client import DaemonClient, DaemonUnreachable, Reply
from alchemiser.config import load_control_settings
from alchemiser.errors import ConfigError


def register(subparsers: Any) -> None:
    for name, help_text in (
        ("kill", "engage the kill switch of a running daemon (latched until resume)"),
        ("resume", "clear the kill switch of a running daemon"),
        ("status", "show the status of a running daemon"),
    ):
        parser = subparsers.add_parser(name, help=help_text)
        add_config_arguments(parser)
        parser.add_argument("--url", help="daemon base URL (default from http.host/http.port)")
        parser.add_argument("--token", help="control token (default: control_token from the configuration)")
        parser.add_argument("--timeout", type=float, default=10.0, help="request timeout in seconds")
        if name in ("kill", "resume"):
            parser.add_argument("--reason", default=None, help="recorded in the audit journal")
        if name == "kill":
            parser.add_argument("--action", choices=("freeze", "cancel", "flatten"), help="default: risk setting")
        parser.set_defaults(func=control_command, control=name)


def daemon_target(args: argparse.Namespace) -> tuple[str, str | None]:
    """The daemon's base URL and control token: ``--url`` / ``--token``, else from the configuration."""
    url: str | None = args.url
    token: str | None = args.token
    if url is None or token is None:
        settings = load_control_settings(args.config)
        if url is None:
            host = settings.http.host
            host = "127.0.0.1" if host in ("0.0.0.0", "::", "") else host  # noqa: S104 - connect, not bind
            host = f"[{host}]" if ":" in host else host
            url = f"http://{host}:{settings.http.port}"
        if token is None and settings.control_token is not None:
            token = settings.control_token.get_secret_value()
    return url.rstrip("/"), token


def control_command(args: argparse.Namespace) -> int:
    try:
        url, token = daemon_target(args)
    except ConfigError as exc:
        print_problems(exc)
        return EXIT_USAGE
    if args.control != "status" and not token:
        print("alchemiser: no control token (set control_token or pass --token)", file=sys.stderr)
        return EXIT_USAGE
    try:
        client = DaemonClient(url, token, args.timeout)
        if args.control == "status":
            reply = client.get("/status")
        else:
            body: dict[str, Any] = {}
            if args.reason:
                body["reason"] = args.reason
            if getattr(args, "action", None):
                body["action"] = args.action
            reply = client.post(f"/api/{args.control}", body)
    except DaemonUnreachable as exc:
        print(f"alchemiser: cannot reach the daemon at {url}: {exc}", file=sys.stderr)
        return EXIT_FAILED
    return _report(reply)


def _report(reply: Reply) -> int:
    if reply.is_success:
        payload = reply.payload
        print(json.dumps(payload, indent=2) if not isinstance(payload, str) else payload)
        return EXIT_OK
    print(f"alchemiser: daemon answered {reply.status_code}: {reply.error_message()}", file=sys.stderr)
    return EXIT_FAILED
