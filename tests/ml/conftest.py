"""A small generated affiliate program as model data, and models fitted on it once."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pytest
from sklearn.model_selection import train_test_split

from affroute.config import RoutingConfig
from affroute.engine import RoutingContext
from affroute.engine.facts import enrich
from affroute.ml.classifier import TicketClassifier
from affroute.service.predictor import ticket_record
from affroute.synth import GeneratorSpec, generate_program


@dataclass(frozen=True)
class Split:
    train: list[dict[str, Any]]
    test: list[dict[str, Any]]
    y_train: np.ndarray
    y_test: np.ndarray


@pytest.fixture(scope="session")
def program_records(
    example_config: RoutingConfig,
) -> tuple[list[dict[str, Any]], np.ndarray, np.ndarray]:
    """Records as the router's predictor builds them, with the true team and priority."""
    spec = GeneratorSpec(partners=150, campaigns=20, tickets=1500)
    program = generate_program(spec, np.random.default_rng(11))
    context = RoutingContext.build(
        partners=program.partners,
        deals=program.deals,
        campaigns=program.campaigns,
        anomalies=program.anomalies,
        scoring=example_config.scoring,
    )
    records = [ticket_record(t.ticket, enrich(t.ticket, context)) for t in program.tickets]
    teams = np.array([t.true_team for t in program.tickets])
    priorities = np.array([t.true_priority.value for t in program.tickets])
    return records, teams, priorities


@pytest.fixture(scope="session")
def team_split(program_records: tuple[list[dict[str, Any]], np.ndarray, np.ndarray]) -> Split:
    records, teams, _ = program_records
    train, test = train_test_split(
        np.arange(len(records)), test_size=0.25, stratify=teams, random_state=0
    )
    return Split([records[i] for i in train], [records[i] for i in test], teams[train], teams[test])


@pytest.fixture(scope="session")
def team_model(team_split: Split) -> TicketClassifier:
    return TicketClassifier(random_state=0).fit(team_split.train, team_split.y_train)
