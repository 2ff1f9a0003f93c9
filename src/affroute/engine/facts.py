"""Enrichment: a ticket plus everything known about its partner, deal and campaign.

``Facts`` holds one attribute per rule field (``partner.tier`` -> ``partner_tier``), so
compiled rules read plain attributes; ``priority`` and ``team`` live on the rule state.
Text fields are lower-cased once here.
"""

from __future__ import annotations

from dataclasses import dataclass

from affroute.domain import Anomaly, Category, Ticket, Urgency
from affroute.engine.context import NEUTRAL_PERCENTILE, RoutingContext


@dataclass(slots=True)
class Facts:
    ticket_category: Category | None
    ticket_urgency: Urgency | None
    ticket_urgency_declared: bool
    ticket_channel: str
    ticket_region: str
    ticket_subject: str
    ticket_body: str
    ticket_text: str
    ticket_tags: tuple[str, ...]
    partner_id: str | None
    partner_known: bool
    partner_tier: str | None
    partner_region: str | None
    partner_weekly_active_leads: float | None
    partner_click_through_rate: float | None
    partner_portal_logins: float | None
    partner_lead_volume: float | None
    partner_account_manager: str | None
    deal_id: str | None
    deal_value: float | None
    deal_inferred: bool  # no deal on the ticket: the partner's largest deal was used
    campaign_id: str | None
    campaign_name: str | None
    campaign_channel: str | None
    campaign_region: str | None
    campaign_promotion_type: str | None
    engagement_score: float
    engagement_percentile: float
    lead_volume_percentile: float
    has_open_anomaly: bool
    anomaly_kinds: tuple[str, ...]
    anomalies: tuple[Anomaly, ...]
    score: float = 0.0  # set by the scorer before the rules run


def enrich(ticket: Ticket, context: RoutingContext) -> Facts:
    """Join the ticket with its partner, deal, campaign and open anomalies."""
    partner = context.partners.get(ticket.partner_id) if ticket.partner_id else None
    stats = context.stats.get(partner.id) if partner else None
    deal = context.deals.get(ticket.deal_id) if ticket.deal_id else None
    deal_inferred = False
    if deal is None and ticket.partner_id:
        deal = context.largest_deal.get(ticket.partner_id)
        deal_inferred = deal is not None
    campaign = context.campaigns.get(ticket.campaign_id) if ticket.campaign_id else None
    anomalies = context.anomalies_for(
        partner.id if partner else ticket.partner_id, campaign.id if campaign else None
    )
    subject = ticket.subject.lower()
    body = ticket.body.lower()
    return Facts(
        ticket_category=ticket.category,
        ticket_urgency=ticket.urgency,
        ticket_urgency_declared=ticket.urgency is not None,
        ticket_channel=ticket.channel,
        ticket_region=ticket.region or (partner.region if partner else ""),
        ticket_subject=subject,
        ticket_body=body,
        ticket_text=f"{subject}\n{body}",
        ticket_tags=ticket.tags,
        partner_id=ticket.partner_id,
        partner_known=partner is not None,
        partner_tier=partner.tier if partner else None,
        partner_region=partner.region if partner else None,
        partner_weekly_active_leads=partner.weekly_active_leads if partner else None,
        partner_click_through_rate=partner.click_through_rate if partner else None,
        partner_portal_logins=partner.portal_logins if partner else None,
        partner_lead_volume=partner.lead_volume if partner else None,
        partner_account_manager=partner.account_manager if partner else None,
        deal_id=deal.id if deal else None,
        deal_value=deal.value if deal else None,
        deal_inferred=deal_inferred,
        campaign_id=campaign.id if campaign else ticket.campaign_id,
        campaign_name=campaign.name if campaign else None,
        campaign_channel=campaign.channel if campaign else None,
        campaign_region=campaign.region if campaign else None,
        campaign_promotion_type=campaign.promotion_type if campaign else None,
        engagement_score=stats.engagement_score if stats else NEUTRAL_PERCENTILE,
        engagement_percentile=stats.engagement_percentile if stats else NEUTRAL_PERCENTILE,
        lead_volume_percentile=stats.lead_volume_percentile if stats else NEUTRAL_PERCENTILE,
        has_open_anomaly=bool(anomalies),
        anomaly_kinds=tuple(a.kind for a in anomalies),
        anomalies=anomalies,
    )
