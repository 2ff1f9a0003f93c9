"""A seeded affiliate program: partners, deals, campaigns, anomalies and labelled tickets.

Numbers are drawn with NumPy in whole arrays; only the ticket text is written one ticket
at a time. The ground truth (team and priority an expert lead would choose) is computed by
`true_team_for` and `true_priority_for` from the same facts a router sees.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import numpy as np
from numpy.typing import NDArray

from affroute.domain import (
    Anomaly,
    AnomalyStatus,
    Campaign,
    Category,
    Channel,
    Deal,
    Partner,
    PartnerTier,
    Priority,
    PromotionType,
    Ticket,
    Urgency,
)
from affroute.synth.text import TicketFacts, write_ticket_text

REGIONS: tuple[str, ...] = ("NA", "EMEA", "APAC", "LATAM")
TEAMS: tuple[str, ...] = (
    "senior_support",
    "analytics",
    "finance",
    "promotions",
    "account_management",
    "compliance",
    "emea_support",
    "apac_support",
    "general_support",
)
ANOMALY_KINDS: tuple[str, ...] = (
    "duplicate_leads",
    "conversion_mismatch",
    "click_spike",
    "conversion_drop",
    "short_click_to_conversion",
)
TICKET_CHANNELS: tuple[str, ...] = ("portal", "email", "api")
ACCOUNT_MANAGERS: tuple[str, ...] = tuple(f"am-{i:02d}" for i in range(1, 7))
SENIOR_DEAL_VALUE = 50_000.0
TOP_ENGAGEMENT_SHARE = 0.2
# Partners write during their own office hours, so arrivals follow local time.
REGION_UTC_OFFSET_HOURS: dict[str, int] = {"NA": -5, "EMEA": 1, "APAC": 8, "LATAM": -3}

_TIERS = tuple(PartnerTier)
_TIER_SHARES = (0.55, 0.28, 0.13, 0.04)
# Log-scale lift per tier (bronze..premium) of activity and deal size.
_TIER_LIFT = np.array([0.0, 0.45, 0.9, 1.5])
_REGION_SHARES = (0.38, 0.30, 0.20, 0.12)
_CHANNELS = tuple(Channel)
_CHANNEL_SHARES = (0.25, 0.20, 0.15, 0.15, 0.15, 0.10)
_PROMOTIONS = tuple(PromotionType)
_PROMOTION_SHARES = (0.35, 0.25, 0.40)
_CATEGORIES = tuple(Category)
_CATEGORY_SHARES = np.array([0.17, 0.14, 0.16, 0.14, 0.15, 0.10, 0.09, 0.05])
# How often a partner names a campaign when writing about each category.
_CAMPAIGN_MENTION = np.array([0.6, 0.1, 0.85, 0.85, 0.97, 0.9, 0.05, 0.5])
_URGENCIES = (Urgency.LOW, Urgency.NORMAL, Urgency.HIGH, Urgency.URGENT)
_URGENCY_SHARES = np.array([0.15, 0.55, 0.20, 0.10])
_URGENCY_SHARES_FLAGGED = np.array([0.08, 0.45, 0.30, 0.17])
_DECLARED_SHARE = 0.6
_TICKET_CHANNEL_SHARES = (0.55, 0.35, 0.10)
# Relative ticket intensity by local hour (0..23) and weekday (Monday..Sunday).
_HOURLY = np.array([
    0.05, 0.04, 0.04, 0.04, 0.05, 0.08, 0.15, 0.35, 0.7, 1.0, 1.0, 1.0,  # 00-11
    0.8, 0.95, 1.0, 1.0, 0.9, 0.7, 0.45, 0.3, 0.25, 0.2, 0.12, 0.08,  # 12-23
])  # fmt: skip
_WEEKDAY = np.array([1.1, 1.0, 1.0, 1.0, 0.85, 0.22, 0.18])
_PROGRESS_CHUNK = 5_000

_NAME_STEMS = (
    "Bright", "Coupon", "Deal", "Savvy", "Urban", "Blue", "North", "Peak", "Smart", "Green",
    "Golden", "Swift", "Clever", "True", "Prime", "Daily", "Happy", "Silver", "Cedar", "Open",
    "Maple", "Harbor", "Summit", "Lucky", "Nimble", "Pixel", "Atlas", "Orbit", "Velvet", "Zen",
)  # fmt: skip
_NAME_TAILS = (
    "Deals", "Media", "Reviews", "Saver", "Hub", "Finds", "Picks", "Digital", "Network",
    "Lab", "Cashback", "Guide", "Insider", "Compare", "Rewards", "Voucher", "Leads", "Studio",
)  # fmt: skip
_LEGAL_FORMS: dict[str, tuple[str, ...]] = {
    "NA": ("LLC", "Inc."),
    "EMEA": ("Ltd", "GmbH", "B.V.", "SAS"),
    "APAC": ("Pte Ltd", "Pty Ltd", "K.K."),
    "LATAM": ("S.A.", "Ltda."),
}
_CAMPAIGN_THEMES: dict[PromotionType, tuple[str, ...]] = {
    PromotionType.SEASONAL: (
        "Spring Sale", "Summer Sale", "Back to School", "Black Friday", "Cyber Monday",
        "Holiday Gifts", "New Year", "Valentine's", "Singles' Day", "Autumn Sale",
    ),
    PromotionType.LAUNCH: (
        "Nova X Launch", "Atlas Pro Launch", "Aurora Launch", "Flex Plan Launch",
        "Spark Mini Launch", "Orion Launch",
    ),
    PromotionType.EVERGREEN: (
        "Always-On Cashback", "Welcome Offer", "Loyalty", "Referral", "Brand", "Free Trial",
    ),
}  # fmt: skip


@dataclass(frozen=True, slots=True)
class GeneratorSpec:
    """How big the generated program is and where its tickets fall in time."""

    partners: int = 400
    campaigns: int = 60
    tickets: int = 5000
    weeks: int = 8
    start: datetime = datetime(2026, 1, 5, tzinfo=UTC)  # a Monday
    anomaly_share: float = 0.06  # share of partners/campaigns with an open attribution anomaly

    def __post_init__(self) -> None:
        if self.partners < 1 or self.campaigns < 1:
            raise ValueError("GeneratorSpec needs at least one partner and one campaign")
        if self.tickets < 0 or self.weeks < 1:
            raise ValueError("GeneratorSpec.tickets must be >= 0 and weeks >= 1")
        if not 0.0 <= self.anomaly_share <= 1.0:
            raise ValueError(f"GeneratorSpec.anomaly_share {self.anomaly_share} is not in 0..1")
        if self.start.tzinfo is None:
            raise ValueError("GeneratorSpec.start must be timezone-aware")


@dataclass(frozen=True, slots=True)
class LabelledTicket:
    """A ticket with the team and priority an expert lead would choose for it."""

    ticket: Ticket
    true_team: str
    true_priority: Priority


@dataclass(frozen=True, slots=True)
class AffiliateProgram:
    """Everything one generated program holds."""

    partners: list[Partner]
    deals: list[Deal]
    campaigns: list[Campaign]
    anomalies: list[Anomaly]
    tickets: list[LabelledTicket]


def generate_program(
    spec: GeneratorSpec,
    rng: np.random.Generator,
    progress: Callable[[int], None] | None = None,
) -> AffiliateProgram:
    """Generate a whole affiliate program from `spec`; the same seed gives the same program."""
    partners = _generate_partners(spec.partners, rng)
    deals = _generate_deals(partners, rng)
    campaigns = _generate_campaigns(spec.campaigns, rng)
    anomalies = _generate_anomalies(spec.anomaly_share, partners, campaigns, rng)
    tickets = _generate_tickets(
        spec,
        rng,
        partners=partners,
        deals=deals,
        campaigns=campaigns,
        anomalies=anomalies,
        progress=progress,
    )
    return AffiliateProgram(partners, deals, campaigns, anomalies, tickets)


def true_team_for(
    *,
    category: Category,
    region: str,
    deal_value: float | None,
    has_open_anomaly: bool,
    promotion_type: PromotionType | None,
    top_engagement: bool,
) -> str:
    """The team an expert lead would choose; the first matching reason wins."""
    if deal_value is not None and deal_value >= SENIOR_DEAL_VALUE:
        return "senior_support"
    if has_open_anomaly or category is Category.TRACKING_ATTRIBUTION:
        return "analytics"
    if category in (Category.COMMISSION_DISPUTE, Category.PAYOUT):
        return "finance"
    if promotion_type in (PromotionType.SEASONAL, PromotionType.LAUNCH) and category in (
        Category.CAMPAIGN_PERFORMANCE,
        Category.CREATIVE_REQUEST,
    ):
        return "promotions"
    if top_engagement:
        return "account_management"
    if category is Category.COMPLIANCE:
        return "compliance"
    if region == "EMEA":
        return "emea_support"
    if region == "APAC":
        return "apac_support"
    return "general_support"


def expert_urgency(declared: Urgency | None, text_cue: Urgency | None) -> Urgency:
    """The urgency a lead reads: the declared one, else the text's cue words, else normal."""
    return declared or text_cue or Urgency.NORMAL


def true_priority_for(
    *,
    category: Category,
    deal_value: float | None,
    urgency: Urgency,
    has_open_anomaly: bool,
    top_engagement: bool,
) -> Priority:
    """The priority an expert lead would give, as points summed and cut into P1..P4.

    Points: urgency (see `expert_urgency`) low 0, normal 1, high 2, urgent 4; deal value
    >= 100,000 adds 3, >= 50,000 adds 2, >= 20,000 adds 1; an open anomaly on the partner
    or campaign adds 2 (revenue is leaking); a top-20% engaged partner adds 1; a compliance
    question adds 1 (regulatory exposure). Then 5+ is P1, 3-4 P2, 1-2 P3, 0 P4. So a plain
    normal ticket is P3, an urgent one P2, and urgent plus any other reason P1.
    """
    points = {Urgency.LOW: 0, Urgency.NORMAL: 1, Urgency.HIGH: 2, Urgency.URGENT: 4}[urgency]
    value = deal_value or 0.0
    points += 3 if value >= 100_000 else 2 if value >= 50_000 else 1 if value >= 20_000 else 0
    points += 2 if has_open_anomaly else 0
    points += 1 if top_engagement else 0
    points += 1 if category is Category.COMPLIANCE else 0
    if points >= 5:
        return Priority.P1
    if points >= 3:
        return Priority.P2
    return Priority.P3 if points >= 1 else Priority.P4


def engagement_scores(partners: Sequence[Partner]) -> NDArray[np.float64]:
    """Mean of each partner's percentiles of weekly active leads, click rate and portal logins."""
    kpis = np.array(
        [(p.weekly_active_leads, p.click_through_rate, p.portal_logins) for p in partners],
        dtype=np.float64,
    ).reshape(-1, 3)
    # Percentile = share of partners at or below the value, so ties share one percentile.
    percentiles = [np.searchsorted(np.sort(col), col, side="right") / len(col) for col in kpis.T]
    return np.mean(percentiles, axis=0) if len(partners) else np.zeros(0)


def top_engaged_partner_ids(
    partners: Sequence[Partner], share: float = TOP_ENGAGEMENT_SHARE
) -> frozenset[str]:
    """Ids of the `share` most engaged partners by `engagement_scores`; ties go to the earlier."""
    scores = engagement_scores(partners)
    ranked = np.argsort(-scores, kind="stable")[: round(share * len(partners))]
    return frozenset(partners[i].id for i in ranked)


def _generate_partners(count: int, rng: np.random.Generator) -> list[Partner]:
    tier = rng.choice(len(_TIERS), size=count, p=_TIER_SHARES)
    region = rng.choice(len(REGIONS), size=count, p=_REGION_SHARES)
    lift = _TIER_LIFT[tier]
    # One latent activity factor drives every KPI, so they correlate with each other and tier.
    activity = rng.standard_normal(count)
    weekly_active_leads = np.exp(
        2.3 + 0.6 * lift + 0.8 * activity + 0.35 * rng.standard_normal(count)
    )
    lead_volume = np.exp(4.6 + 0.6 * lift + 0.8 * activity + 0.45 * rng.standard_normal(count))
    click_through_rate = np.minimum(
        rng.beta(np.maximum(2.0 + lift + 0.5 * activity, 0.5), 45.0), 0.2
    )
    portal_logins = rng.poisson(np.exp(0.6 + 0.4 * lift + 0.5 * activity))
    manager = rng.integers(len(ACCOUNT_MANAGERS), size=count)
    names = _partner_names(region, rng)
    return [
        Partner(
            id=f"P{i + 1:05d}",
            name=names[i],
            tier=_TIERS[tier[i]],
            region=REGIONS[region[i]],
            weekly_active_leads=round(float(weekly_active_leads[i]), 1),
            click_through_rate=round(float(click_through_rate[i]), 4),
            portal_logins=float(portal_logins[i]),
            lead_volume=float(np.round(lead_volume[i])),
            account_manager=ACCOUNT_MANAGERS[manager[i]] if tier[i] >= 2 else None,
        )
        for i in range(count)
    ]


def _partner_names(region: NDArray[np.int64], rng: np.random.Generator) -> list[str]:
    stems = rng.integers(len(_NAME_STEMS), size=len(region))
    tails = rng.integers(len(_NAME_TAILS), size=len(region))
    with_form = rng.random(len(region)) < 0.5
    form = rng.random(len(region))
    names = []
    for i, r in enumerate(region):
        name = f"{_NAME_STEMS[stems[i]]}{_NAME_TAILS[tails[i]]}"
        forms = _LEGAL_FORMS[REGIONS[r]]
        names.append(f"{name} {forms[int(form[i] * len(forms))]}" if with_form[i] else name)
    return names


def _generate_deals(partners: Sequence[Partner], rng: np.random.Generator) -> list[Deal]:
    per_partner = rng.choice(3, size=len(partners), p=(0.08, 0.80, 0.12))
    owner = np.repeat(np.arange(len(partners)), per_partner)
    lift = _TIER_LIFT[[_TIERS.index(partners[i].tier) for i in owner.tolist()]]
    # Median near $8K overall, premium deals larger, a long tail past $100K.
    value = np.exp(np.log(7_000) + 0.55 * lift + 1.1 * rng.standard_normal(len(owner)))
    value = np.maximum(np.round(value), 250.0)
    return [
        Deal(id=f"D{i + 1:05d}", partner_id=partners[p].id, value=float(v))
        for i, (p, v) in enumerate(zip(owner.tolist(), value.tolist(), strict=True))
    ]


def _generate_campaigns(count: int, rng: np.random.Generator) -> list[Campaign]:
    channel = rng.choice(len(_CHANNELS), size=count, p=_CHANNEL_SHARES)
    region = rng.choice(len(REGIONS), size=count, p=_REGION_SHARES)
    promotion = rng.choice(len(_PROMOTIONS), size=count, p=_PROMOTION_SHARES)
    theme = rng.random(count)
    campaigns = []
    for i in range(count):
        kind = _PROMOTIONS[promotion[i]]
        themes = _CAMPAIGN_THEMES[kind]
        name = f"{themes[int(theme[i] * len(themes))]} {REGIONS[region[i]]} {_CHANNELS[channel[i]]}"
        campaigns.append(
            Campaign(f"C{i + 1:04d}", name, _CHANNELS[channel[i]], REGIONS[region[i]], kind)
        )
    return campaigns


def _generate_anomalies(
    share: float,
    partners: Sequence[Partner],
    campaigns: Sequence[Campaign],
    rng: np.random.Generator,
) -> list[Anomaly]:
    targets: list[tuple[str | None, str | None, AnomalyStatus]] = []
    for status, status_share in ((AnomalyStatus.OPEN, share), (AnomalyStatus.RESOLVED, share / 2)):
        # Resolved anomalies are history: they must not count as open flags.
        for chosen in rng.choice(
            len(partners), size=round(status_share * len(partners)), replace=False
        ):
            targets.append((partners[chosen].id, None, status))
        for chosen in rng.choice(
            len(campaigns), size=round(status_share * len(campaigns)), replace=False
        ):
            targets.append((None, campaigns[chosen].id, status))
    kinds = rng.integers(len(ANOMALY_KINDS), size=len(targets))
    severity = np.round(rng.beta(2.0, 2.5, size=len(targets)), 2)
    return [
        Anomaly(
            id=f"A{i + 1:04d}",
            kind=ANOMALY_KINDS[kinds[i]],
            partner_id=partner_id,
            campaign_id=campaign_id,
            severity=float(severity[i]),
            status=status,
        )
        for i, (partner_id, campaign_id, status) in enumerate(targets)
    ]


def _generate_tickets(
    spec: GeneratorSpec,
    rng: np.random.Generator,
    *,
    partners: Sequence[Partner],
    deals: Sequence[Deal],
    campaigns: Sequence[Campaign],
    anomalies: Sequence[Anomaly],
    progress: Callable[[int], None] | None,
) -> list[LabelledTicket]:
    count = spec.tickets
    open_anomalies = [a for a in anomalies if a.status is AnomalyStatus.OPEN]
    open_partner_ids = {a.partner_id for a in open_anomalies if a.partner_id}
    open_campaign_ids = {a.campaign_id for a in open_anomalies if a.campaign_id}
    partner_flagged = np.array([p.id in open_partner_ids for p in partners])
    campaign_flagged = np.array([c.id in open_campaign_ids for c in campaigns])
    partner_region = np.array([REGIONS.index(p.region) for p in partners])
    top_ids = top_engaged_partner_ids(partners)

    # Engaged partners write more; partners whose numbers look wrong write more still.
    volume = np.array([p.lead_volume for p in partners])
    logins = np.array([p.portal_logins for p in partners])
    weight = volume**0.6 * (1.0 + logins) ** 0.3 * np.where(partner_flagged, 1.8, 1.0)
    who = rng.choice(len(partners), size=count, p=weight / weight.sum())

    candidate = _candidate_campaigns(partner_region[who], campaigns, rng)
    flagged = partner_flagged[who] | campaign_flagged[candidate]
    category = _draw_categories(flagged, candidate, campaigns, rng)
    mentions = (rng.random(count) < _CAMPAIGN_MENTION[category]) | (
        campaign_flagged[candidate] & (category == _CATEGORIES.index(Category.TRACKING_ATTRIBUTION))
    )
    campaign = np.where(mentions, candidate, -1)
    deal = _draw_deals(who, partners, deals, rng)

    urgency_shares = np.where(flagged[:, None], _URGENCY_SHARES_FLAGGED, _URGENCY_SHARES)
    felt = _draw_rows(urgency_shares, rng)
    declared = rng.random(count) < _DECLARED_SHARE
    cue = _text_cues(felt, rng)
    channel = rng.choice(len(TICKET_CHANNELS), size=count, p=_TICKET_CHANNEL_SHARES)
    reopened = rng.random(count) < 0.04

    seconds = _arrival_seconds(spec, partner_region[who], rng)
    order = np.argsort(seconds, kind="stable")
    # The text is written with a stdlib Random seeded from `rng`: per-word draws are far
    # cheaper there than NumPy scalar calls, and the stream stays fixed by the seed.
    rand = random.Random(int(rng.integers(2**63)))

    columns = zip(
        *(a[order].tolist() for a in (who, campaign, deal, category, felt, declared, cue, channel)),
        (reopened[order]).tolist(),
        seconds[order].tolist(),
        strict=True,
    )
    tickets: list[LabelledTicket] = []
    for position, row in enumerate(columns):
        p, c, d, cat_index, felt_index, is_declared, cue_index, channel_index, again, second = row
        partner = partners[p]
        camp = campaigns[c] if c >= 0 else None
        deal_value = deals[d].value if d >= 0 else None
        cat = _CATEGORIES[cat_index]
        text_cue = _URGENCIES[cue_index] if cue_index >= 0 else None
        ticket_channel = TICKET_CHANNELS[channel_index]
        subject, body = write_ticket_text(
            TicketFacts(cat, partner.name, camp.name if camp else None, text_cue, ticket_channel),
            rand,
        )
        ticket = Ticket(
            id=f"T{position + 1:06d}",
            subject=subject,
            body=body,
            created_at=spec.start + timedelta(seconds=second),
            partner_id=partner.id,
            deal_id=deals[d].id if d >= 0 else None,
            campaign_id=camp.id if camp else None,
            category=cat,
            urgency=_URGENCIES[felt_index] if is_declared else None,
            channel=ticket_channel,
            region=partner.region,
            tags=_tags(partner, ticket_channel, again),
        )
        anomaly = partner.id in open_partner_ids or (
            camp is not None and camp.id in open_campaign_ids
        )
        top = partner.id in top_ids
        team = true_team_for(
            category=cat,
            region=partner.region,
            deal_value=deal_value,
            has_open_anomaly=anomaly,
            promotion_type=camp.promotion_type if camp else None,
            top_engagement=top,
        )
        priority = true_priority_for(
            category=cat,
            deal_value=deal_value,
            urgency=expert_urgency(ticket.urgency, text_cue),
            has_open_anomaly=anomaly,
            top_engagement=top,
        )
        tickets.append(LabelledTicket(ticket, team, priority))
        if progress is not None and (position + 1) % _PROGRESS_CHUNK == 0:
            progress(position + 1)
    if progress is not None and count % _PROGRESS_CHUNK:
        progress(count)
    return tickets


def _candidate_campaigns(
    region: NDArray[np.int64], campaigns: Sequence[Campaign], rng: np.random.Generator
) -> NDArray[np.int64]:
    """The campaign each ticket would be about: mostly one in the partner's region."""
    campaign_region = np.array([REGIONS.index(c.region) for c in campaigns])
    popularity = rng.lognormal(0.0, 0.8, size=len(campaigns))
    anywhere = rng.random(len(region)) >= 0.8
    candidate = np.empty(len(region), dtype=np.int64)
    for r in range(len(REGIONS)):
        rows = np.flatnonzero((region == r) & ~anywhere)
        local = np.flatnonzero(campaign_region == r)
        if len(local) == 0:
            anywhere[rows] = True
            continue
        candidate[rows] = rng.choice(
            local, size=len(rows), p=popularity[local] / popularity[local].sum()
        )
    rows = np.flatnonzero(anywhere)
    candidate[rows] = rng.choice(len(campaigns), size=len(rows), p=popularity / popularity.sum())
    return candidate


def _draw_categories(
    flagged: NDArray[np.bool_],
    candidate: NDArray[np.int64],
    campaigns: Sequence[Campaign],
    rng: np.random.Generator,
) -> NDArray[np.int64]:
    """Categories with a realistic mix that shifts with anomalies and campaign kind."""
    shares = np.tile(_CATEGORY_SHARES, (len(flagged), 1))
    index = _CATEGORIES.index
    # Broken numbers make partners write about tracking and lead quality.
    shares[flagged, index(Category.TRACKING_ATTRIBUTION)] *= 3.5
    shares[flagged, index(Category.LEAD_QUALITY)] *= 1.5
    promoted = np.array([c.promotion_type is not PromotionType.EVERGREEN for c in campaigns])[
        candidate
    ]
    shares[promoted, index(Category.CAMPAIGN_PERFORMANCE)] *= 1.3
    shares[promoted, index(Category.CREATIVE_REQUEST)] *= 1.5
    disclosed = np.array([c.channel in (Channel.INFLUENCER, Channel.SOCIAL) for c in campaigns])[
        candidate
    ]
    shares[disclosed, index(Category.COMPLIANCE)] *= 2.0
    return _draw_rows(shares, rng)


def _draw_deals(
    who: NDArray[np.int64],
    partners: Sequence[Partner],
    deals: Sequence[Deal],
    rng: np.random.Generator,
) -> NDArray[np.int64]:
    """One of the writing partner's deals per ticket, -1 where the partner has none."""
    position = {p.id: i for i, p in enumerate(partners)}
    per_partner = np.bincount([position[d.partner_id] for d in deals], minlength=len(partners))
    first = np.concatenate(([0], np.cumsum(per_partner)[:-1]))
    picked = first[who] + (rng.random(len(who)) * per_partner[who]).astype(np.int64)
    return np.where(per_partner[who] > 0, picked, -1)


def _text_cues(felt: NDArray[np.int64], rng: np.random.Generator) -> NDArray[np.int64]:
    """Which urgency the text's cue words signal (index into `_URGENCIES`, -1 for none)."""
    u = rng.random(len(felt))
    low, normal, high, urgent = range(len(_URGENCIES))
    cue = np.full(len(felt), -1, dtype=np.int64)
    cue[(felt == urgent) & (u < 0.8)] = urgent
    # A few normal tickets say "today" too: cue words are a signal, not a label.
    cue[((felt == high) & (u < 0.6)) | ((felt == normal) & (u < 0.05))] = high
    cue[(felt == low) & (u < 0.5)] = low
    return cue


def _arrival_seconds(
    spec: GeneratorSpec, region: NDArray[np.int64], rng: np.random.Generator
) -> NDArray[np.int64]:
    """Seconds after `spec.start`, with local business-hour peaks and quiet weekends."""
    hours = np.arange(spec.weeks * 7 * 24)
    first_hour_of_week = spec.start.weekday() * 24 + spec.start.hour
    # Some days are busier than others (a release, a payout run), beyond the weekly shape.
    day_load = rng.gamma(20.0, 1 / 20, size=spec.weeks * 7 + 1)[(hours + spec.start.hour) // 24]
    seconds = np.empty(len(region), dtype=np.int64)
    for r, name in enumerate(REGIONS):
        rows = np.flatnonzero(region == r)
        local = (first_hour_of_week + hours + REGION_UTC_OFFSET_HOURS[name]) % (7 * 24)
        intensity = _HOURLY[local % 24] * _WEEKDAY[local // 24] * day_load
        slot = rng.choice(len(hours), size=len(rows), p=intensity / intensity.sum())
        seconds[rows] = slot * 3600 + rng.integers(3600, size=len(rows))
    return seconds


def _draw_rows(shares: NDArray[np.float64], rng: np.random.Generator) -> NDArray[np.int64]:
    """One column index per row, drawn with that row's (unnormalised) shares."""
    cumulative = np.cumsum(shares, axis=1)
    u = rng.random(len(shares)) * cumulative[:, -1]
    # The cap guards against u landing exactly on the total through rounding.
    index: NDArray[np.int64] = np.minimum(
        (cumulative < u[:, None]).sum(axis=1), shares.shape[1] - 1
    )
    return index


def _tags(partner: Partner, channel: str, reopened: bool) -> tuple[str, ...]:
    tags = []
    if partner.tier is PartnerTier.PREMIUM:
        tags.append("vip")
    if channel == "api":
        tags.append("automated")
    if reopened:
        tags.append("reopened")
    return tuple(tags)
