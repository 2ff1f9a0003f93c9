"""A ticket model as the router's TeamPredictor: the ticket and its facts become a record."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any

from affroute.config import RoutingConfig
from affroute.domain import Priority, Ticket
from affroute.engine import Prediction
from affroute.engine.facts import Facts
from affroute.ml.compiled import TicketModel
from affroute.ml.modelfile import ModelError, load_model

log = logging.getLogger(__name__)


class ModelMode(StrEnum):
    REGISTERED = "registered"  # stored, not used
    SHADOW = "shadow"  # predicts and records in the decision trace, never acts
    ACTIVE = "active"  # acts when confident and no rule decided the field


class ModelLabel(StrEnum):
    """The fields a registered model can be put to work on."""

    TEAM = "team"
    PRIORITY = "priority"


def check_classes(label: str, classes: Iterable[Any], config: RoutingConfig) -> None:
    """Raise `ModelError` unless the model predicts values the router can use."""
    if label not in set(ModelLabel):
        raise ModelError(f"a model of {label!r} cannot route: only team and priority models can")
    known = set(config.teams) if label == ModelLabel.TEAM else {p.value for p in Priority}
    names = [str(c) for c in classes]
    if not known.intersection(names):
        raise ModelError(
            f"the model predicts {', '.join(names)}, none of which is a {label}"
            f" of configuration {config.version}"
        )


def ticket_record(ticket: Ticket, facts: Facts) -> dict[str, Any]:
    """The columns a ticket model reads, named as `affroute train` reads them by default."""
    return {"subject": ticket.subject, "body": ticket.body} | model_inputs(ticket, facts)


def model_inputs(ticket: Ticket, facts: Facts) -> dict[str, Any]:
    """The structured columns of `ticket_record`: what the ticket was joined with when it
    was routed. Kept in each decision's trace, so a model trained later from the database
    learns from the catalog as it was then, not as it is now."""
    return {
        "category": facts.ticket_category,
        "channel": facts.ticket_channel,
        "region": facts.ticket_region,
        "partner_tier": facts.partner_tier,
        "urgency": ticket.urgency,  # declared only: the model reads cue words in the text
        "promotion_type": facts.campaign_promotion_type,
        "open_anomaly": facts.has_open_anomaly,
        "deal_value": facts.deal_value,
        "engagement_percentile": facts.engagement_percentile if facts.partner_known else None,
    }


class ModelPredictor:
    """Suggests a team (or a priority) from a ticket model; the router acts only on
    confident suggestions."""

    def __init__(self, model: TicketModel, name: str) -> None:
        self.model = model
        self.name = name

    def predict_team(self, ticket: Ticket, facts: Facts) -> Prediction:
        label, confidence, threshold = self.model.predict_one(ticket_record(ticket, facts))
        return Prediction(str(label), confidence, threshold, self.name)

    predict_priority = predict_team  # the same model call; the router reads it as a priority


def team_predictor_from_file(path: Path, config: RoutingConfig) -> ModelPredictor | None:
    """The team model in `path`, or None (rules alone) when the file cannot be used.

    A file that is missing, corrupt, of another format version, or whose classes are not
    teams of this configuration is logged and skipped: routing goes on without a model.
    """
    try:
        model = load_model(path)
        check_classes(ModelLabel.TEAM, model.classes.tolist(), config)
    except ModelError as exc:
        log.warning("routing on rules alone: %s", exc)
        return None
    return ModelPredictor(model, name=path.stem)


@dataclass(frozen=True, slots=True)
class NextTeam:
    """The team a model would try next, and its probability for the ticket."""

    team: str
    probability: float


def next_team(
    model: TicketModel, record: dict[str, Any], tried: Iterable[str], teams: Iterable[str]
) -> NextTeam | None:
    """The most probable team of `teams` not yet tried (None: every class was tried).

    The probability is the model's own for that class, not renormalised over what is left:
    0.2 means the model thinks the ticket belongs there one time in five.
    """
    proba = model.proba_one(record)
    excluded, allowed = set(tried), set(teams)
    for index in proba.argsort()[::-1]:
        label = str(model.classes[index])
        if label in allowed and label not in excluded:
            return NextTeam(label, float(proba[index]))
    return None
