"""What the router looks things up in: partners, deals, campaigns and open anomalies.

Built once per data snapshot; population statistics (engagement and lead-volume
percentiles) are computed here, vectorised, so routing a ticket is a few dict lookups.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from affroute.config import ScoringConfig
from affroute.domain import Anomaly, AnomalyStatus, Campaign, Deal, Partner

# An unknown partner is scored as the median partner: nothing a partner sends is lost or
# pushed to the back just because the CRM has not caught up.
NEUTRAL_PERCENTILE = 0.5
_ENGAGEMENT_KPIS = ("weekly_active_leads", "click_through_rate", "portal_logins")


@dataclass(frozen=True, slots=True)
class PartnerStats:
    engagement_score: float
    engagement_percentile: float
    lead_volume_percentile: float


@dataclass(frozen=True, slots=True)
class RoutingContext:
    """Lookups for enrichment. Anomalies count while open or acknowledged (not resolved)."""

    partners: Mapping[str, Partner]
    deals: Mapping[str, Deal]
    campaigns: Mapping[str, Campaign]
    stats: Mapping[str, PartnerStats]
    largest_deal: Mapping[str, Deal]
    partner_anomalies: Mapping[str, tuple[Anomaly, ...]]
    campaign_anomalies: Mapping[str, tuple[Anomaly, ...]]
    _empty: tuple[Anomaly, ...] = field(default=(), repr=False)

    @classmethod
    def build(
        cls,
        *,
        partners: Iterable[Partner] = (),
        deals: Iterable[Deal] = (),
        campaigns: Iterable[Campaign] = (),
        anomalies: Iterable[Anomaly] = (),
        scoring: ScoringConfig,
    ) -> RoutingContext:
        """Index the data and compute each partner's engagement and lead-volume ranks."""
        partner_list = list(partners)
        deal_map = {d.id: d for d in deals}
        largest: dict[str, Deal] = {}
        for deal in deal_map.values():
            best = largest.get(deal.partner_id)
            if best is None or deal.value > best.value:
                largest[deal.partner_id] = deal
        by_partner: dict[str, list[Anomaly]] = {}
        by_campaign: dict[str, list[Anomaly]] = {}
        for anomaly in anomalies:
            if anomaly.status is AnomalyStatus.RESOLVED:
                continue
            if anomaly.partner_id:
                by_partner.setdefault(anomaly.partner_id, []).append(anomaly)
            if anomaly.campaign_id:
                by_campaign.setdefault(anomaly.campaign_id, []).append(anomaly)
        return cls(
            partners={p.id: p for p in partner_list},
            deals=deal_map,
            campaigns={c.id: c for c in campaigns},
            stats=partner_stats(partner_list, scoring),
            largest_deal=largest,
            partner_anomalies={k: tuple(v) for k, v in by_partner.items()},
            campaign_anomalies={k: tuple(v) for k, v in by_campaign.items()},
        )

    def anomalies_for(self, partner_id: str | None, campaign_id: str | None) -> tuple[Anomaly, ...]:
        """Open anomalies on the partner or the campaign."""
        on_partner = self.partner_anomalies.get(partner_id, self._empty) if partner_id else ()
        on_campaign = self.campaign_anomalies.get(campaign_id, self._empty) if campaign_id else ()
        return on_partner + on_campaign if on_campaign else on_partner


def percentile_ranks(values: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    """Share of the population at or below each value (the top value gets 1.0)."""
    if values.size == 0:
        return values
    ordered = np.sort(values)
    return np.searchsorted(ordered, values, side="right").astype(np.float64) / values.size


def partner_stats(partners: list[Partner], scoring: ScoringConfig) -> dict[str, PartnerStats]:
    """Engagement score (weighted KPI percentiles), its percentile, and lead-volume percentile."""
    if not partners:
        return {}
    engagement = np.zeros(len(partners))
    for kpi in _ENGAGEMENT_KPIS:
        weight = scoring.engagement_weights.get(kpi, 0.0)
        if weight:
            column = np.fromiter((getattr(p, kpi) for p in partners), np.float64, len(partners))
            engagement += weight * percentile_ranks(column)
    engagement_pct = percentile_ranks(engagement)
    leads = np.fromiter((p.lead_volume for p in partners), np.float64, len(partners))
    leads_pct = percentile_ranks(leads)
    return {
        p.id: PartnerStats(float(e), float(ep), float(lp))
        for p, e, ep, lp in zip(partners, engagement, engagement_pct, leads_pct, strict=True)
    }
