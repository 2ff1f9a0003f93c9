"""Shared fixtures: the example configuration, small configs, tickets and contexts."""

from __future__ import annotations

import copy
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml

from affroute.config import RoutingConfig, load_config, parse_config
from affroute.domain import Partner, PartnerTier, Ticket
from affroute.engine import RoutingContext

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "affiliate.yaml"
T0 = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)


@pytest.fixture(scope="session")
def example_config() -> RoutingConfig:
    return load_config(EXAMPLE)


@pytest.fixture
def example_data() -> dict[str, Any]:
    """The example file as plain data, a fresh copy per test to edit freely."""
    return copy.deepcopy(yaml.safe_load(EXAMPLE.read_text()))


def minimal_data(**overrides: Any) -> dict[str, Any]:
    """A small valid configuration: two teams, three agents, no rules."""
    data: dict[str, Any] = {
        "default_team": "general",
        "teams": [{"name": "general"}, {"name": "finance"}],
        "agents": [
            {"id": "a1", "name": "A One", "teams": ["general"], "capacity": 2},
            {"id": "a2", "name": "A Two", "teams": ["general"], "capacity": 2},
            {"id": "f1", "name": "F One", "teams": ["finance"], "skills": {"payouts": 3}},
        ],
        "scoring": {
            "weights": {
                "deal_value": 0.4,
                "engagement": 0.3,
                "lead_volume": 0.1,
                "urgency": 0.1,
                "attribution_anomaly": 0.1,
            }
        },
        "tiers": [
            {"priority": "p1", "min_score": 80},
            {"priority": "p2", "min_score": 60},
            {"priority": "p3", "min_score": 30},
            {"priority": "p4", "min_score": 0},
        ],
        "rules": [],
    }
    data.update(overrides)
    return data


def config_with_rules(*rules: dict[str, Any], **overrides: Any) -> RoutingConfig:
    return parse_config(minimal_data(rules=list(rules), **overrides), source="test.yaml")


TicketFactory = Callable[..., Ticket]


@pytest.fixture
def make_ticket() -> TicketFactory:
    counter = iter(range(1, 1_000_000))

    def make(**fields: Any) -> Ticket:
        defaults: dict[str, Any] = {
            "id": f"T{next(counter):06d}",
            "subject": "Question",
            "body": "Hello, a question about my account.",
            "created_at": T0,
        }
        defaults.update(fields)
        return Ticket(**defaults)

    return make


def ranked_partners(n: int = 100) -> list[Partner]:
    """Partners P000..P{n-1} whose engagement and lead volume rise with the index."""
    return [
        Partner(
            id=f"P{i:03d}",
            name=f"Partner {i}",
            tier=PartnerTier.PREMIUM if i >= n - 5 else PartnerTier.SILVER,
            region=("NA", "EMEA", "APAC")[i % 3],
            weekly_active_leads=float(i),
            click_through_rate=i / 1000,
            portal_logins=float(i),
            lead_volume=float(10 * i),
            account_manager="am-01" if i >= n - 10 else None,
        )
        for i in range(n)
    ]


def context_for(config: RoutingConfig, **data: Any) -> RoutingContext:
    data.setdefault("partners", ranked_partners())
    return RoutingContext.build(scoring=config.scoring, **data)
