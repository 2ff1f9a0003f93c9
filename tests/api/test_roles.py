"""Who may do what: every endpoint for every role (and no key), over real HTTP on both databases.

The matrix is one table. Each cell gets fresh tickets and catalog ids, so cells do not
depend on each other; a refused write is checked by reading the resource back as admin.
"""

from __future__ import annotations

import contextlib
import itertools
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
import yaml

from tests.api.conftest import Server, seed_catalog
from tests.api.test_tickets import ticket
from tests.conftest import EXAMPLE

ROLES = ("admin", "analyst", "agent", "integration", "none")  # "none": no X-API-Key at all
ME, TEAMMATE = "fi-01", "fi-02"  # the conftest's agent key is bound to fi-01 (team finance)
ROOMY = 1000  # capacity that never runs out while the matrix hands these two agents tickets


# -- the world the matrix runs in --------------------------------------------------------


@dataclass
class World:
    """Fresh tickets in each situation an agent can meet, and fresh catalog ids."""

    clients: dict[str, httpx.Client] = field(repr=False)
    active_yaml: str = field(repr=False)
    counter: Iterator[int] = field(default_factory=itertools.count)

    @property
    def admin(self) -> httpx.Client:
        return self.clients["admin"]

    def new_id(self) -> str:
        return f"M-{next(self.counter):04d}"

    def _create(self, body: dict[str, Any]) -> str:
        response = self.admin.post("/api/v1/tickets", json=body)
        assert response.status_code == 201, response.text
        return str(response.json()["id"])

    def _reassign(self, ticket_id: str, **target: str) -> dict[str, Any]:
        response = self.admin.post(
            f"/api/v1/tickets/{ticket_id}/reassign", json={"reason": "matrix setup", **target}
        )
        assert response.status_code == 200, response.text
        result: dict[str, Any] = response.json()
        return result

    def assigned_to(self, agent_id: str) -> str:
        ticket_id = self._create(ticket(category="payout"))
        assert self._reassign(ticket_id, agent_id=agent_id)["agent_id"] == agent_id
        return ticket_id

    def queued_in(self, team: str) -> str:
        """A ticket waiting in ``team`` that nobody there can take (it needs senior:3)."""
        ticket_id = self._create(ticket(partner_id="P003", deal_id="D-BIG"))
        moved = self._reassign(ticket_id, team=team)
        assert moved["queued"] and moved["agent_id"] is None, moved
        return ticket_id

    def solved(self) -> str:
        """A solved ticket from no known partner (so no survey cooldown applies)."""
        ticket_id = self._create(ticket(partner_id=None))
        response = self.admin.post(f"/api/v1/tickets/{ticket_id}/status", json={"status": "solved"})
        assert response.status_code == 200, response.text
        return ticket_id

    def survey(self) -> str:
        listed = self.admin.get("/api/v1/surveys", params={"ticket_id": self.solved()}).json()
        return str(listed[0]["id"])

    def placeholders(self) -> dict[str, Callable[[], str]]:
        return {
            "solved": self.solved,
            "survey": self.survey,
            "own": lambda: self.assigned_to(ME),
            "other_agent": lambda: self.assigned_to(TEAMMATE),
            "queued_mine": lambda: self.queued_in("finance"),
            "queued_other": lambda: self.queued_in("compliance"),
            "new": self.new_id,
        }

    def restore(self) -> None:
        """Undo what allowed writes to shared state (config, presence, capacity) did."""
        if self.admin.get("/api/v1/config").json()["yaml"] != self.active_yaml:
            put = self.admin.put("/api/v1/config", json={"yaml": self.active_yaml})
            assert put.status_code == 200, put.text
        for agent_id in (ME, TEAMMATE):
            for what, body in (
                ("presence", {"status": "online"}),
                ("capacity", {"capacity": ROOMY}),
            ):
                response = self.admin.put(f"/api/v1/agents/{agent_id}/{what}", json=body)
                assert response.status_code == 200, response.text


@pytest.fixture
def world(server: Server) -> Iterator[World]:
    with contextlib.ExitStack() as stack:
        clients = {role: stack.enter_context(server.client(role)) for role in ROLES}
        admin = clients["admin"]
        seed_catalog(admin)
        anomaly = {"id": "A-SEED", "kind": "click_spike", "partner_id": "P-NONE", "severity": 0.2}
        assert admin.put("/api/v1/anomalies/A-SEED", json=anomaly).status_code == 200
        state = World(clients, admin.get("/api/v1/config").json()["yaml"])
        state.restore()
        yield state


# -- the table -----------------------------------------------------------------------------


Expected = int


def allow(
    status: int, roles: str, *, refused: int = 403, **per_role: Expected
) -> dict[str, Expected]:
    """``status`` for the listed roles, ``refused`` for the other keys, 401 without a key."""
    allowed = roles.split()
    table: dict[str, Expected] = {
        role: status if role in allowed else refused for role in ROLES if role != "none"
    }
    table["none"] = 401
    table.update(per_role)
    return table


@dataclass(frozen=True)
class Row:
    method: str
    path: str
    expect: Mapping[str, Expected]
    body: Any = None
    read_back: str | None = None  # GET as admin; a refused call must leave it unchanged

    def __str__(self) -> str:
        return f"{self.method} {self.path}"


EVERYONE = "admin analyst agent integration"
CATALOG_READERS = "admin analyst integration"
CATALOG_WRITERS = "admin integration"
STAFF = "admin analyst agent"  # agents, teams and queues
# An agent sees a ticket queued in its team but may not change it: refused, not hidden.
NOT_YOURS = 403
PENDING = {"status": "pending"}
TO_COMPLIANCE = {"team": "compliance", "reason": "a disclosure question"}
CATALOG_BODIES: dict[str, dict[str, Any]] = {
    "partners": {"id": "{new}", "name": "Matrix Partner", "tier": "gold"},
    "deals": {"id": "{new}", "partner_id": "P005", "value": 1200},
    "campaigns": {"id": "{new}", "channel": "social", "promotion_type": "launch"},
    "anomalies": {"id": "{new}", "kind": "click_spike", "partner_id": "P-NONE"},
}
EXISTING = {"partners": "P005", "deals": "D-BIG", "campaigns": "C-XMAS", "anomalies": "A-SEED"}


def _edited_config() -> str:
    data = yaml.safe_load(EXAMPLE.read_text())
    data["default_team"] = "emea_support"
    return yaml.safe_dump(data)


EDITED_CONFIG = {"yaml": _edited_config()}


def _ticket_rows() -> list[Row]:
    rows = [
        Row("GET", "/api/v1/tickets", allow(200, EVERYONE)),
        Row(
            "POST",
            "/api/v1/tickets",
            allow(201, "admin integration"),
            ticket(),
            read_back="/api/v1/tickets",
        ),
        Row("GET", "/api/v1/tickets/no-such-ticket", allow(404, EVERYONE)),
        Row("GET", "/api/v1/tickets/{own}", allow(200, EVERYONE)),
        Row("GET", "/api/v1/tickets/{queued_mine}", allow(200, EVERYONE)),
        Row("GET", "/api/v1/tickets/{other_agent}", allow(200, EVERYONE, agent=404)),
        Row("GET", "/api/v1/tickets/{queued_other}", allow(200, EVERYONE, agent=404)),
    ]
    # Status: admin, integration, and an agent on its own ticket. Reassign: admin, own agent.
    for action, body, roles in (
        ("status", PENDING, "admin integration agent"),
        ("reassign", TO_COMPLIANCE, "admin agent"),
    ):
        for whose, agent in (
            ("own", 200),
            ("other_agent", 404),
            ("queued_mine", NOT_YOURS),
            ("queued_other", 404),
        ):
            rows.append(
                Row(
                    "POST",
                    f"/api/v1/tickets/{{{whose}}}/{action}",
                    allow(200, roles, agent=agent),
                    body,
                    read_back=f"/api/v1/tickets/{{{whose}}}",
                )
            )
    return rows


def _catalog_rows() -> list[Row]:
    rows = []
    for kind, body in CATALOG_BODIES.items():
        rows += [
            Row("GET", f"/api/v1/{kind}", allow(200, CATALOG_READERS)),
            Row("GET", f"/api/v1/{kind}/{EXISTING[kind]}", allow(200, CATALOG_READERS)),
            Row(
                "PUT",
                f"/api/v1/{kind}/{{new}}",
                allow(200, CATALOG_WRITERS),
                body,
                read_back=f"/api/v1/{kind}/{{new}}",
            ),
            Row(
                "POST",
                f"/api/v1/{kind}/bulk",
                allow(200, CATALOG_WRITERS),
                [body],
                read_back=f"/api/v1/{kind}/{{new}}",
            ),
        ]
    return rows


def _agent_rows() -> list[Row]:
    rows = [
        Row("GET", "/api/v1/agents", allow(200, STAFF)),
        Row("GET", f"/api/v1/agents/{ME}", allow(200, STAFF)),
        Row("GET", f"/api/v1/agents/{TEAMMATE}", allow(200, STAFF, agent=404)),
        Row("GET", "/api/v1/agents/nobody", allow(404, STAFF)),
        Row("GET", "/api/v1/teams", allow(200, STAFF)),
        Row("GET", "/api/v1/teams/finance/queue", allow(200, STAFF)),
        Row("GET", "/api/v1/teams/compliance/queue", allow(200, STAFF, agent=404)),
        Row("GET", "/api/v1/teams/nowhere/queue", allow(404, STAFF)),
    ]
    for agent_id, presence_roles in ((ME, "admin agent"), (TEAMMATE, "admin")):
        rows += [
            Row(
                "PUT",
                f"/api/v1/agents/{agent_id}/presence",
                allow(200, presence_roles),
                {"status": "away"},
                read_back=f"/api/v1/agents/{agent_id}",
            ),
            Row(
                "PUT",
                f"/api/v1/agents/{agent_id}/capacity",
                allow(200, "admin"),
                {"capacity": ROOMY - 1},
                read_back=f"/api/v1/agents/{agent_id}",
            ),
        ]
    return rows


TABLE: list[Row] = [
    *_ticket_rows(),
    *_catalog_rows(),
    *_agent_rows(),
    Row("GET", "/api/v1/config", allow(200, "admin analyst")),
    Row("PUT", "/api/v1/config", allow(200, "admin"), EDITED_CONFIG, read_back="/api/v1/config"),
    Row(
        "POST",
        "/api/v1/config/dry-run",
        allow(200, "admin analyst"),
        EDITED_CONFIG,
        read_back="/api/v1/config",
    ),
    Row("GET", "/api/v1/sla/board", allow(200, "admin analyst agent")),
    Row("GET", "/api/v1/sla/stats", allow(200, "admin analyst")),
    Row("GET", "/api/v1/surveys", allow(200, "admin analyst")),
    Row("GET", "/api/v1/surveys/satisfaction", allow(200, "admin analyst")),
    Row("GET", "/api/v1/surveys/outcomes", allow(200, "admin analyst")),
    Row("GET", "/api/v1/surveys/{survey}", allow(200, "admin integration")),
    Row(
        "POST",
        "/api/v1/surveys/responses",
        allow(201, "admin integration"),
        {"ticket_id": "{solved}", "csat": 4},
        read_back="/api/v1/surveys?ticket_id={solved}",
    ),
    Row(
        "POST",
        "/api/v1/simulations",
        allow(200, "admin analyst"),
        {"tickets": 50, "days": 1, "seeds": 1},
    ),
    Row("GET", "/health", dict.fromkeys(ROLES, 200)),
    Row("GET", "/ready", dict.fromkeys(ROLES, 200)),
]


# -- running it ----------------------------------------------------------------------------


def _fill(value: Any, ids: dict[str, str]) -> Any:
    if isinstance(value, str):
        return value.format_map(ids) if "{" in value else value
    if isinstance(value, list):
        return [_fill(v, ids) for v in value]
    if isinstance(value, dict):
        return {k: _fill(v, ids) for k, v in value.items()}
    return value


def _fresh_ids(world: World, *templates: Any) -> dict[str, str]:
    """Fresh values for the placeholders the templates name, made anew for each call."""
    text = " ".join(map(str, templates))
    return {name: make() for name, make in world.placeholders().items() if f"{{{name}}}" in text}


def _run_cell(world: World, row: Row, role: str, expected: int) -> str | None:
    """Make the call as ``role``; describe what went wrong, or None."""
    ids = _fresh_ids(world, row.path, row.body, row.read_back)
    path = _fill(row.path, ids)
    read_back = _fill(row.read_back, ids) if row.read_back and expected >= 400 else None
    before = world.admin.get(read_back) if read_back else None
    kwargs = {} if row.body is None else {"json": _fill(row.body, ids)}
    response = world.clients[role].request(row.method, path, **kwargs)
    where = f"{role:<11} {row.method} {path}"
    if response.status_code != expected:
        return f"{where}: expected {expected}, got {response.status_code} {response.text[:200]}"
    if expected >= 400:
        if response.json()["error"]["code"] not in ("unauthorized", "forbidden", "not_found"):
            return f"{where}: refused without the error envelope: {response.text[:200]}"
        if before is not None:
            after = world.admin.get(read_back or "")
            if (after.status_code, after.json()) != (before.status_code, before.json()):
                return f"{where}: refused with {expected}, yet {read_back} changed"
    return None


def _cells(row: Row) -> list[tuple[str, Expected]]:
    """A row's cells, refused ones first so a refused write meets unchanged state."""
    return sorted(
        row.expect.items(),
        key=lambda cell: -cell[1],
    )


def test_every_role_gets_exactly_its_rights(world: World) -> None:
    assert all(set(row.expect) == set(ROLES) for row in TABLE)
    problems = []
    for row in TABLE:
        for role, expected in _cells(row):
            problem = _run_cell(world, row, role, expected)
            if problem:
                problems.append(problem)
        if row.method != "GET":
            world.restore()
    assert problems == [], "\n".join(problems)


# -- what an agent sees in lists -------------------------------------------------------------


def test_an_agent_lists_only_its_tickets_itself_and_its_teams(world: World) -> None:
    mine = {world.assigned_to(ME), world.queued_in("finance")}
    others = {world.assigned_to(TEAMMATE), world.queued_in("compliance")}
    agent, analyst = world.clients["agent"], world.clients["analyst"]

    listed = agent.get("/api/v1/tickets", params={"limit": 500}).json()["items"]
    assert mine <= {t["id"] for t in listed}
    assert not others & {t["id"] for t in listed}
    assert all(t["agent_id"] == ME or (t["queued"] and t["team"] == "finance") for t in listed)
    asking_for_teammate = agent.get("/api/v1/tickets", params={"agent_id": TEAMMATE}).json()
    assert asking_for_teammate["items"] == []
    everything = analyst.get("/api/v1/tickets", params={"limit": 500}).json()["items"]
    assert mine | others <= {t["id"] for t in everything}

    assert [a["id"] for a in agent.get("/api/v1/agents").json()] == [ME]
    assert [
        a["id"] for a in agent.get("/api/v1/agents", params={"team": "compliance"}).json()
    ] == []
    assert [t["name"] for t in agent.get("/api/v1/teams").json()] == ["finance"]
    assert len(analyst.get("/api/v1/agents").json()) > 1
    assert len(analyst.get("/api/v1/teams").json()) > 1


# -- mass assignment: nobody sets a field it does not own ------------------------------------

ROUTER_OWNED = {
    "status": "open",
    "team": "finance",
    "agent_id": ME,
    "score": 99.0,
    "priority": "p1",
    "queued": False,
    "team_source": "person:me",
    "required_skills": ["payouts:1"],
    "sla_policy": "p1",
    "id": "T-CHOSEN",
    "updated_at": "2026-03-02T10:00:00Z",
}


@dataclass(frozen=True)
class Smuggle:
    """A write that carries a field its caller does not own, and where it would show."""

    role: str
    method: str
    path: str
    body: Any
    field: str
    read_back: str


SMUGGLED: list[Smuggle] = [
    *(
        Smuggle(role, "POST", "/api/v1/tickets", {**ticket(), name: value}, name, "/api/v1/tickets")
        for role in ("admin", "integration")
        for name, value in ROUTER_OWNED.items()
    ),
    Smuggle(
        "agent",
        "POST",
        "/api/v1/tickets/{own}/status",
        {"status": "solved", "agent_id": TEAMMATE},
        "agent_id",
        "/api/v1/tickets/{own}",
    ),
    Smuggle(
        "integration",
        "POST",
        "/api/v1/tickets/{own}/status",
        {"status": "pending", "priority": "p1"},
        "priority",
        "/api/v1/tickets/{own}",
    ),
    Smuggle(
        "agent",
        "POST",
        "/api/v1/tickets/{own}/reassign",
        {**TO_COMPLIANCE, "priority": "p1"},
        "priority",
        "/api/v1/tickets/{own}",
    ),
    Smuggle(
        "admin",
        "POST",
        "/api/v1/tickets/{own}/reassign",
        {**TO_COMPLIANCE, "status": "solved"},
        "status",
        "/api/v1/tickets/{own}",
    ),
    *(
        Smuggle(
            role,
            "PUT",
            f"/api/v1/{kind}/{{new}}",
            {**body, "updated_at": "2026-03-02T10:00:00Z"},
            "updated_at",
            f"/api/v1/{kind}/{{new}}",
        )
        for kind, body in CATALOG_BODIES.items()
        for role in ("admin", "integration")
    ),
    Smuggle(
        "agent",
        "PUT",
        f"/api/v1/agents/{ME}/presence",
        {"status": "away", "capacity": ROOMY + 1},
        "capacity",
        f"/api/v1/agents/{ME}",
    ),
    Smuggle(
        "agent",
        "PUT",
        f"/api/v1/agents/{ME}/presence",
        {"status": "away", "load": 0},
        "load",
        f"/api/v1/agents/{ME}",
    ),
    Smuggle(
        "admin",
        "PUT",
        f"/api/v1/agents/{ME}/capacity",
        {"capacity": 3, "load": 0},
        "load",
        f"/api/v1/agents/{ME}",
    ),
    Smuggle(
        "admin",
        "PUT",
        "/api/v1/config",
        {**EDITED_CONFIG, "version": "chosen"},
        "version",
        "/api/v1/config",
    ),
    Smuggle(
        "admin",
        "PUT",
        "/api/v1/config",
        {**EDITED_CONFIG, "created_by": "someone else"},
        "created_by",
        "/api/v1/config",
    ),
    Smuggle(
        "analyst",
        "POST",
        "/api/v1/config/dry-run",
        {**EDITED_CONFIG, "activate": True},
        "activate",
        "/api/v1/config",
    ),
]


def test_no_role_can_set_a_field_it_does_not_own(world: World) -> None:
    problems = []
    for smuggle in SMUGGLED:
        ids = _fresh_ids(world, smuggle.path, smuggle.read_back)
        read_back = _fill(smuggle.read_back, ids)
        before = world.admin.get(read_back)
        response = world.clients[smuggle.role].request(
            smuggle.method, _fill(smuggle.path, ids), json=_fill(smuggle.body, ids)
        )
        where = f"{smuggle.role} {smuggle.method} {smuggle.path} with {smuggle.field!r}"
        if response.status_code != 422:
            problems.append(f"{where}: expected 422, got {response.status_code}")
            continue
        named = {d["field"] for d in response.json()["error"]["details"]}
        if smuggle.field not in named:
            problems.append(f"{where}: 422 names {named}, not the field")
        after = world.admin.get(read_back)
        if (after.status_code, after.json()) != (before.status_code, before.json()):
            problems.append(f"{where}: refused, yet {read_back} changed")
    assert problems == [], "\n".join(problems)


def test_bulk_rows_cannot_carry_fields_the_caller_does_not_own(world: World) -> None:
    for kind, body in CATALOG_BODIES.items():
        new_id = world.new_id()
        rows = [
            _fill(body, {"new": new_id}),
            {**_fill(body, {"new": new_id + "b"}), "updated_at": 0},
        ]
        response = world.clients["integration"].post(f"/api/v1/{kind}/bulk", json=rows)
        assert response.status_code == 422, response.text
        assert response.json()["error"]["details"] == [
            {"row": 1, "field": "updated_at", "message": "Extra inputs are not permitted"}
        ]
        assert world.admin.get(f"/api/v1/{kind}/{new_id}").status_code == 404
