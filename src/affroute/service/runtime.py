"""Per-process caches of the active configuration (compiled) and the routing context.

Writers bump a counter in the ``meta`` table in the same transaction as their change;
each ingest reads the counters (one small query) and rebuilds what is stale, so every
worker routes with the committed configuration and catalog.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any

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
    PartnerRow,
)

CONFIG_COUNTER = "config"
CONTEXT_COUNTER = "context"
# Where a session keeps the routing it read, so a transaction reads the counters once.
_SESSION_KEY = "affroute.routing"


def bump(session: Session, counter: str) -> None:
    """Mark a cache stale for every worker, as part of the caller's transaction."""
    session.execute(update(MetaRow).where(MetaRow.key == counter).values(value=MetaRow.value + 1))
    session.info.pop(_SESSION_KEY, None)


@dataclass(frozen=True, slots=True)
class Routing:
    config: RoutingConfig
    router: Router
    context: RoutingContext
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


class RoutingCache:
    """The compiled router and context for the committed state, rebuilt when stale."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._versions: tuple[int, int] | None = None
        self._routing: Routing | None = None

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
        versions = (counters.get(CONFIG_COUNTER, 0), counters.get(CONTEXT_COUNTER, 0))
        with self._lock:
            routing = self._routing
            if routing is not None and self._versions == versions:
                return routing
            if routing is None or self._versions is None or self._versions[0] != versions[0]:
                config = active_config(session)
                router = Router(config)
            else:
                config, router = routing.config, routing.router
            from affroute.service.enrichment import trace_notes  # it bumps these counters

            routing = Routing(config, router, load_context(session, config), trace_notes(session))
            self._routing, self._versions = routing, versions
            return routing
