"""Per-process caches of the active configuration (compiled) and the routing context.

Writers bump a counter in the ``meta`` table in the same transaction as their change;
each ingest reads the counters (one small query) and rebuilds what is stale, so every
worker routes with the committed configuration and catalog.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from affroute.config import RoutingConfig, parse_config_text
from affroute.domain import (
    Anomaly,
    AnomalyStatus,
    Campaign,
    Channel,
    Deal,
    Partner,
    PartnerTier,
    PromotionType,
)
from affroute.engine import Router, RoutingContext
from affroute.service.errors import ConflictError
from affroute.store.models import (
    AnomalyRow,
    CampaignRow,
    ConfigVersionRow,
    DealRow,
    MetaRow,
    ModelRow,
    PartnerRow,
)

if TYPE_CHECKING:
    from affroute.ml.compiled import TicketModel
    from affroute.service.predictor import ModelPredictor

log = logging.getLogger(__name__)

CONFIG_COUNTER = "config"
CONTEXT_COUNTER = "context"
MODELS_COUNTER = "models"
# Where a session keeps the routing it read, so a transaction reads the counters once.
_SESSION_KEY = "affroute.routing"


def bump(session: Session, counter: str) -> None:
    """Mark a cache stale for every worker, as part of the caller's transaction."""
    session.execute(update(MetaRow).where(MetaRow.key == counter).values(value=MetaRow.value + 1))
    session.info.pop(_SESSION_KEY, None)


@dataclass(frozen=True, slots=True)
class Models:
    """The registry's models in use, as this worker loaded them."""

    team: ModelPredictor | None = None
    team_shadow: ModelPredictor | None = None
    priority: ModelPredictor | None = None
    priority_shadow: ModelPredictor | None = None
    problems: dict[str, str] = field(default_factory=dict)  # model id: why it is not used

    def router(self, config: RoutingConfig) -> Router:
        return Router(
            config,
            predictor=self.team,
            shadow=self.team_shadow,
            priority_predictor=self.priority,
            priority_shadow=self.priority_shadow,
        )


@dataclass(frozen=True, slots=True)
class Routing:
    config: RoutingConfig
    router: Router
    context: RoutingContext
    models: Models = Models()
    # How fresh each CRM source's values are; decision traces carry it.
    enrichment: dict[str, Any] = field(default_factory=dict)


def partner_from_row(row: PartnerRow) -> Partner:
    return Partner(
        id=row.id,
        name=row.name,
        tier=PartnerTier(row.tier),
        region=row.region,
        weekly_active_leads=row.weekly_active_leads,
        click_through_rate=row.click_through_rate,
        portal_logins=row.portal_logins,
        lead_volume=row.lead_volume,
        account_manager=row.account_manager,
    )


def load_context(session: Session, config: RoutingConfig) -> RoutingContext:
    """The routing context from the stored catalog (only unresolved anomalies)."""
    return RoutingContext.build(
        partners=[partner_from_row(r) for r in session.scalars(select(PartnerRow))],
        deals=[Deal(r.id, r.partner_id, r.value) for r in session.scalars(select(DealRow))],
        campaigns=[
            Campaign(r.id, r.name, Channel(r.channel), r.region, PromotionType(r.promotion_type))
            for r in session.scalars(select(CampaignRow))
        ],
        anomalies=[
            Anomaly(r.id, r.kind, r.partner_id, r.campaign_id, r.severity, AnomalyStatus(r.status))
            for r in session.scalars(
                select(AnomalyRow).where(AnomalyRow.status != AnomalyStatus.RESOLVED.value)
            )
        ],
        scoring=config.scoring,
    )


def active_config(session: Session) -> RoutingConfig:
    row = session.scalars(select(ConfigVersionRow).where(ConfigVersionRow.active)).first()
    if row is None:
        raise ConflictError("no active configuration; load one with PUT /api/v1/config")
    return parse_config_text(row.yaml, source=f"config version {row.version}")


_COUNTERS = select(MetaRow.key, MetaRow.value)


_IN_USE = select(ModelRow.id, ModelRow.name, ModelRow.sha256, ModelRow.label, ModelRow.mode).where(
    ModelRow.mode != "registered"
)


class RoutingCache:
    """The compiled router and context for the committed state, rebuilt when stale."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._versions: tuple[int, int, int] | None = None
        self._routing: Routing | None = None
        self._loaded: dict[str, TicketModel] = {}  # by content hash: reloaded only when new

    def current(self, session: Session) -> Routing:
        """The routing for this transaction (read once per transaction: see ``run_grouped``)."""
        seen: Routing | None = session.info.get(_SESSION_KEY)
        if seen is not None:
            return seen
        routing = self._current(session)
        session.info[_SESSION_KEY] = routing
        return routing

    def _current(self, session: Session) -> Routing:
        counters: dict[str, int] = {k: v for k, v in session.connection().execute(_COUNTERS)}
        versions = (
            counters.get(CONFIG_COUNTER, 0),
            counters.get(CONTEXT_COUNTER, 0),
            counters.get(MODELS_COUNTER, 0),
        )
        with self._lock:
            routing = self._routing
            if routing is not None and self._versions == versions:
                return routing
            seen = self._versions
            if routing is None or seen is None or seen[0] != versions[0] or seen[2] != versions[2]:
                config = (
                    active_config(session)
                    if routing is None or seen is None or seen[0] != versions[0]
                    else routing.config
                )
                models = self._load_models(session, config)
                router = models.router(config)
            else:
                config, router, models = routing.config, routing.router, routing.models
            from affroute.service.enrichment import trace_notes  # it bumps these counters

            context = load_context(session, config)
            routing = Routing(config, router, context, models, trace_notes(session))
            self._routing, self._versions = routing, versions
            return routing

    def _load_models(self, session: Session, config: RoutingConfig) -> Models:
        """The shadow and active models of the registry; one that cannot be used is logged,
        named in ``problems``, and left out: routing goes on without it."""
        from affroute.ml.modelfile import ModelError, model_from_bytes
        from affroute.service.predictor import ModelPredictor, check_classes

        in_use: dict[str, ModelPredictor] = {}
        problems: dict[str, str] = {}
        loaded: dict[str, TicketModel] = {}
        for model_id, name, sha256, label, mode in session.execute(_IN_USE):
            try:
                model = self._loaded.get(sha256)
                if model is None:
                    content = session.scalar(
                        select(ModelRow.content).where(ModelRow.id == model_id)
                    )
                    model = model_from_bytes(content or b"", source=f"model {model_id}")
                check_classes(label, model.classes.tolist(), config)
            except ModelError as exc:
                log.warning("model %s (%s) not used, routing without it: %s", model_id, name, exc)
                problems[model_id] = str(exc)
                continue
            loaded[sha256] = model
            in_use[f"{label}:{mode}"] = ModelPredictor(model, name)
        self._loaded = loaded
        return Models(
            team=in_use.get("team:active"),
            team_shadow=in_use.get("team:shadow"),
            priority=in_use.get("priority:active"),
            priority_shadow=in_use.get("priority:shadow"),
            problems=problems,
        )
