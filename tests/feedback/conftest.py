"""Outcome factories and the tuner's fixture configurations."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from affroute.domain import Category, PartnerTier, Priority, Urgency
from affroute.feedback.outcomes import TicketOutcome
from tests.conftest import T0

FIXTURES = Path(__file__).parent / "fixtures"
BAD = FIXTURES / "bad.yaml"
BETTER = FIXTURES / "better.yaml"

OutcomeFactory = Callable[..., TicketOutcome]


@pytest.fixture
def make_outcome() -> OutcomeFactory:
    counter = iter(range(1, 1_000_000))

    def make(**fields: Any) -> TicketOutcome:
        number = next(counter)
        defaults: dict[str, Any] = {
            "ticket_id": f"T{number:06d}",
            "created_at": T0 + timedelta(minutes=number),
            "category": Category.PAYOUT,
            "region": "NA",
            "partner_tier": PartnerTier.SILVER,
            "engagement_percentile": 0.5,
            "deal_value": 10_000.0,
            "promotion_type": None,
            "urgency": Urgency.NORMAL,
            "urgency_detected": False,
            "has_open_anomaly": False,
            "team": "general",
            "team_source": "default",
            "rules": (),
            "priority": Priority.P3,
            "score": 40.0,
            "factors": (0.6, 0.5, 0.5, 0.5, 0.0),
            "agent_id": None,
            "resolution_hours": 5.0,
            "first_response_hours": None,
            "sla_breached": False,
            "reassigned": False,
            "reopened": False,
            "csat": None,
            "nps": None,
        }
        defaults.update(fields)
        return TicketOutcome(**defaults)

    return make
