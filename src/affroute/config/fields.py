"""The fields rules may test and the operators each kind of field takes, declared once.

The config loader validates rules against this table and the engine's facts carry one
attribute per field (``partner.tier`` -> ``partner_tier``), so a UI can list both.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from affroute.domain import Category, Channel, PartnerTier, Priority, PromotionType, Urgency


class FieldKind(StrEnum):
    NUMBER = "number"
    STRING = "string"
    ENUM = "enum"
    TEXT = "text"
    BOOL = "bool"
    LIST = "list"


class Op(StrEnum):
    EQ = "=="
    NE = "!="
    LT = "<"
    LE = "<="
    GT = ">"
    GE = ">="
    IN = "in"
    NOT_IN = "not_in"
    CONTAINS = "contains"
    NOT_CONTAINS = "not_contains"
    MATCHES = "matches"
    IS_SET = "is_set"
    NOT_SET = "not_set"
    BETWEEN = "between"


_PRESENCE = frozenset({Op.IS_SET, Op.NOT_SET})
_EQUALITY = frozenset({Op.EQ, Op.NE, Op.IN, Op.NOT_IN})
_ORDERED = frozenset({Op.LT, Op.LE, Op.GT, Op.GE, Op.BETWEEN})
_SUBSTRING = frozenset({Op.CONTAINS, Op.NOT_CONTAINS, Op.MATCHES})

OPS_BY_KIND: dict[FieldKind, frozenset[Op]] = {
    FieldKind.NUMBER: _PRESENCE | _EQUALITY | _ORDERED,
    FieldKind.STRING: _PRESENCE | _EQUALITY | _SUBSTRING,
    FieldKind.ENUM: _PRESENCE | _EQUALITY,
    FieldKind.TEXT: _PRESENCE | _EQUALITY | _SUBSTRING,
    FieldKind.BOOL: frozenset({Op.EQ, Op.NE}),
    FieldKind.LIST: _PRESENCE | frozenset({Op.CONTAINS, Op.NOT_CONTAINS}),
}


@dataclass(frozen=True, slots=True)
class FieldSpec:
    """One testable field: its dotted name, kind, allowed values (enums) and meaning."""

    name: str
    kind: FieldKind
    description: str
    choices: tuple[str, ...] = ()

    @property
    def attr(self) -> str:
        """The attribute that holds this field on the engine's facts."""
        return self.name.replace(".", "_")


def _enum(name: str, values: type[StrEnum], description: str) -> FieldSpec:
    return FieldSpec(name, FieldKind.ENUM, description, tuple(v.value for v in values))


FIELDS: dict[str, FieldSpec] = {
    spec.name: spec
    for spec in (
        _enum("ticket.category", Category, "declared ticket category"),
        _enum("ticket.urgency", Urgency, "declared urgency, or detected from the text"),
        FieldSpec("ticket.urgency_declared", FieldKind.BOOL, "the partner declared an urgency"),
        FieldSpec("ticket.channel", FieldKind.STRING, "where the ticket came in (portal, email)"),
        FieldSpec("ticket.region", FieldKind.STRING, "region on the ticket, else the partner's"),
        FieldSpec("ticket.subject", FieldKind.TEXT, "subject (case-insensitive tests)"),
        FieldSpec("ticket.body", FieldKind.TEXT, "body (case-insensitive tests)"),
        FieldSpec("ticket.text", FieldKind.TEXT, "subject and body together"),
        FieldSpec("ticket.tags", FieldKind.LIST, "tags sent with the ticket"),
        FieldSpec("partner.id", FieldKind.STRING, "partner id"),
        FieldSpec("partner.known", FieldKind.BOOL, "the partner exists in the context"),
        _enum("partner.tier", PartnerTier, "partner tier"),
        FieldSpec("partner.region", FieldKind.STRING, "partner region"),
        FieldSpec("partner.weekly_active_leads", FieldKind.NUMBER, "weekly active leads"),
        FieldSpec("partner.click_through_rate", FieldKind.NUMBER, "click-through rate, 0..1"),
        FieldSpec("partner.portal_logins", FieldKind.NUMBER, "portal logins per week"),
        FieldSpec("partner.lead_volume", FieldKind.NUMBER, "leads per month"),
        FieldSpec("partner.account_manager", FieldKind.STRING, "agent id of the account manager"),
        FieldSpec("deal.id", FieldKind.STRING, "deal id"),
        FieldSpec("deal.value", FieldKind.NUMBER, "deal value in the program's currency"),
        FieldSpec("campaign.id", FieldKind.STRING, "campaign id"),
        FieldSpec("campaign.name", FieldKind.STRING, "campaign name"),
        _enum("campaign.channel", Channel, "campaign channel"),
        FieldSpec("campaign.region", FieldKind.STRING, "campaign region"),
        _enum("campaign.promotion_type", PromotionType, "promotion type"),
        FieldSpec("engagement_score", FieldKind.NUMBER, "weighted engagement KPI score, 0..1"),
        FieldSpec(
            "engagement_percentile", FieldKind.NUMBER, "engagement rank among partners, 0..1"
        ),
        FieldSpec("lead_volume_percentile", FieldKind.NUMBER, "lead volume rank, 0..1"),
        FieldSpec(
            "has_open_anomaly", FieldKind.BOOL, "open attribution anomaly on partner/campaign"
        ),
        FieldSpec("anomaly_kinds", FieldKind.LIST, "kinds of the open anomalies"),
        FieldSpec("score", FieldKind.NUMBER, "priority score, 0..100"),
        _enum("priority", Priority, "priority so far (tier, then earlier rules)"),
        FieldSpec("team", FieldKind.STRING, "team chosen by earlier rules, if any"),
    )
}
