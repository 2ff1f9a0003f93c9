"""Local HTTP servers on loopback that answer as Zendesk, Freshdesk, HubSpot and Salesforce
document their APIs, recording every request they get."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import yaml

from tests.api.conftest import pg_ok  # noqa: F401 - the PostgreSQL fixture, shared
from tests.conftest import EXAMPLE


@dataclass
class Seen:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: Any


@dataclass
class Reply:
    status: int = 200
    body: Any = field(default_factory=dict)
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0


Handler = Callable[[Seen], Reply]


class FakeApi:
    """Answers each request with ``handler(request)``; scripted replies go first."""

    def __init__(self, handler: Handler) -> None:
        self.handler = handler
        self.script: list[Reply] = []
        self.seen: list[Seen] = []
        self.lock = threading.Lock()
        api = self

        class _Handler(BaseHTTPRequestHandler):
            def _serve(self) -> None:
                parts = urlsplit(self.path)
                length = int(self.headers.get("content-length") or 0)
                raw = self.rfile.read(length) if length else b""
                seen = Seen(
                    self.command,
                    parts.path,
                    parse_qs(parts.query),
                    {k.lower(): v for k, v in self.headers.items()},
                    json.loads(raw) if raw else None,
                )
                with api.lock:
                    api.seen.append(seen)
                    reply = api.script.pop(0) if api.script else None
                reply = reply or api.handler(seen)
                time.sleep(reply.delay)
                data = json.dumps(reply.body).encode()
                try:
                    self.send_response(reply.status)
                    for name, value in {
                        "content-type": "application/json",
                        **reply.headers,
                    }.items():
                        self.send_header(name, value)
                    self.send_header("content-length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (a timeout test)

            do_GET = do_PUT = do_POST = _serve  # noqa: N815

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def zendesk_handler(seen: Seen) -> Reply:
    """``PUT /api/v2/tickets/{id}.json`` answers ``{"ticket": {...}, "audit": {...}}``."""
    if seen.method == "PUT" and seen.path.startswith("/api/v2/tickets/"):
        ticket_id = int(seen.path.split("/")[-1].removesuffix(".json"))
        ticket = {
            "id": ticket_id,
            **{k: v for k, v in seen.body["ticket"].items() if k != "comment"},
        }
        return Reply(200, {"ticket": ticket, "audit": {"id": 1, "ticket_id": ticket_id}})
    return Reply(404, {"error": "InvalidEndpoint", "description": "Not found"})


def freshdesk_handler(seen: Seen) -> Reply:
    """``PUT /api/v2/tickets/{id}`` answers the ticket; ``POST .../notes`` 201 the note."""
    parts = seen.path.strip("/").split("/")
    if seen.method == "PUT" and len(parts) == 4:
        return Reply(200, {"id": int(parts[3]), **seen.body})
    if seen.method == "POST" and parts[-1] == "notes":
        return Reply(201, {"id": 5, "ticket_id": int(parts[3]), **seen.body})
    return Reply(404, {"code": "invalid_url"})


@pytest.fixture
def fake() -> Iterator[Callable[[Handler], FakeApi]]:
    made: list[FakeApi] = []

    def make(handler: Handler) -> FakeApi:
        made.append(FakeApi(handler))
        return made[-1]

    yield make
    for api in made:
        api.close()


MAPPING = {
    "zendesk": {
        "fields": {"partner_id": "360001", "deal_id": "360002", "campaign_id": "360003"},
        "groups": {"senior_support": 501, "general_support": 502, "finance": 503},
        "agents": {"ss-01": 9001, "ss-02": 9002, "ss-03": 9003, "ss-04": 9004},
    },
    "freshdesk": {
        "fields": {"partner_id": "cf_partner_id", "deal_id": "cf_deal_id"},
        "groups": {"senior_support": 601, "general_support": 602},
        "agents": {"ss-01": 7001},
    },
}


def config_with(tmp_path: Path, integrations: dict[str, Any]) -> Path:
    """The example configuration plus an integrations section."""
    data = yaml.safe_load(EXAMPLE.read_text(encoding="utf-8"))
    data["integrations"] = integrations
    path = tmp_path / "with-integrations.yaml"
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    return path
