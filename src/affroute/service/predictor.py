"""A ticket model as the router's TeamPredictor: the ticket and its facts become a record."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from affroute.config import RoutingConfig
from affroute.domain import Ticket
from affroute.engine import Prediction
from affroute.engine.facts import Facts
from affroute.ml.compiled import TicketModel
from affroute.ml.modelfile import ModelError, load_model

log = logging.getLogger(__name__)


def ticket_record(ticket: Ticket, facts: Facts) -> dict[str, Any]:
    """The columns a ticket model reads, named as `affroute train` reads them by default."""
    return {
        "subject": ticket.subject,
        "body": ticket.body,
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


class ModelTeamPredictor:
    """Suggests a team from a ticket model; the router acts only on confident suggestions."""

    def __init__(self, model: TicketModel, name: str) -> None:
        self.model = model
        self.name = name

    def predict_team(self, ticket: Ticket, facts: Facts) -> Prediction:
        label, confidence, threshold = self.model.predict_one(ticket_record(ticket, facts))
        return Prediction(str(label), confidence, threshold, self.name)


def team_predictor_from_file(path: Path, config: RoutingConfig) -> ModelTeamPredictor | None:
    """The team model in `path`, or None (rules alone) when the file cannot be used.

    A file that is missing, corrupt, of another format version, or whose classes are not
    teams of this configuration is logged and skipped: routing goes on without a model.
    """
    try:
        model = load_model(path)
        teams = [str(c) for c in model.classes.tolist() if str(c) in config.teams]
        if not teams:
            raise ModelError(
                f"{path} predicts {', '.join(map(str, model.classes.tolist()))},"
                f" none of which is a team of configuration {config.version}"
            )
    except ModelError as exc:
        log.warning("routing on rules alone: %s", exc)
        return None
    return ModelTeamPredictor(model, name=path.stem)
