import csv
import json
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from affroute.domain import (
    PRIORITY_RANK,
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
from affroute.synth import (
    TEAMS,
    AffiliateProgram,
    GeneratorSpec,
    LabelledTicket,
    generate_program,
    top_engaged_partner_ids,
    true_priority_for,
    true_team_for,
    write_program,
)
from affroute.synth.generator import REGION_UTC_OFFSET_HOURS

SMALL = GeneratorSpec(partners=50, campaigns=10, tickets=400, weeks=2)


@pytest.fixture(scope="module")
def program() -> AffiliateProgram:
    return generate_program(GeneratorSpec(), np.random.default_rng(7))


def _open_anomaly_ids(program: AffiliateProgram) -> set[str]:
    return {
        a.partner_id or a.campaign_id or ""
        for a in program.anomalies
        if a.status is AnomalyStatus.OPEN
    }


def test_same_seed_gives_identical_program() -> None:
    first = generate_program(SMALL, np.random.default_rng(42))
    second = generate_program(SMALL, np.random.default_rng(42))
    assert first == second


def test_different_seed_gives_different_program() -> None:
    first = generate_program(SMALL, np.random.default_rng(1))
    second = generate_program(SMALL, np.random.default_rng(2))
    assert first.partners != second.partners
    assert [t.ticket.body for t in first.tickets] != [t.ticket.body for t in second.tickets]


def test_counts_match_the_spec(program: AffiliateProgram) -> None:
    spec = GeneratorSpec()
    assert len(program.partners) == spec.partners
    assert len(program.campaigns) == spec.campaigns
    assert len(program.tickets) == spec.tickets
    assert 0.85 * spec.partners <= len(program.deals) <= 1.25 * spec.partners
    open_anomalies = [a for a in program.anomalies if a.status is AnomalyStatus.OPEN]
    assert sum(a.partner_id is not None for a in open_anomalies) == round(0.06 * spec.partners)
    assert sum(a.campaign_id is not None for a in open_anomalies) == round(0.06 * spec.campaigns)
    assert [p.id for p in program.partners][:2] == ["P00001", "P00002"]
    assert [t.ticket.id for t in program.tickets][:2] == ["T000001", "T000002"]


def test_partners_look_like_an_affiliate_program(program: AffiliateProgram) -> None:
    tiers = Counter(p.tier for p in program.partners)
    assert tiers[PartnerTier.BRONZE] > tiers[PartnerTier.SILVER] > tiers[PartnerTier.GOLD]
    assert tiers[PartnerTier.GOLD] > tiers[PartnerTier.PREMIUM] > 0
    for p in program.partners:
        assert 0.0 <= p.click_through_rate <= 0.2
        assert (p.account_manager is not None) == (
            p.tier in (PartnerTier.GOLD, PartnerTier.PREMIUM)
        )
    leads = np.array([p.weekly_active_leads for p in program.partners])
    volume = np.array([p.lead_volume for p in program.partners])
    assert np.mean(leads) > 1.2 * np.median(leads)  # long tail
    assert np.corrcoef(np.log1p(leads), np.log1p(volume))[0, 1] > 0.5
    values = np.array([d.value for d in program.deals])
    assert 5_000 < np.median(values) < 12_000
    assert values.max() > 100_000


def test_tickets_are_sorted_and_inside_the_window(program: AffiliateProgram) -> None:
    spec = GeneratorSpec()
    times = [t.ticket.created_at for t in program.tickets]
    assert times == sorted(times)
    assert spec.start <= times[0]
    assert times[-1] < spec.start + timedelta(weeks=spec.weeks)


def test_fewer_tickets_at_night_and_on_weekends(program: AffiliateProgram) -> None:
    per_slot: Counter[str] = Counter()
    for labelled in program.tickets:
        t = labelled.ticket
        local = t.created_at + timedelta(hours=REGION_UTC_OFFSET_HOURS[t.region])
        if local.weekday() >= 5:
            per_slot["weekend"] += 1
        elif 9 <= local.hour < 17:
            per_slot["business"] += 1
        elif local.hour < 6:
            per_slot["night"] += 1
    # Compare tickets per hour: 5 days x 8 hours, 5 x 6 night hours, 2 x 24 weekend hours.
    business = per_slot["business"] / 40
    assert per_slot["night"] / 30 < business / 5
    assert per_slot["weekend"] / 48 < business / 3


def test_every_reference_exists(program: AffiliateProgram) -> None:
    partners = {p.id: p for p in program.partners}
    deals = {d.id: d for d in program.deals}
    campaigns = {c.id for c in program.campaigns}
    for labelled in program.tickets:
        t = labelled.ticket
        assert t.partner_id in partners
        assert t.region == partners[t.partner_id].region
        assert t.deal_id is None or deals[t.deal_id].partner_id == t.partner_id
        assert t.campaign_id is None or t.campaign_id in campaigns
    for a in program.anomalies:
        assert (a.partner_id in partners) or (a.campaign_id in campaigns)


def test_tracking_questions_come_more_often_from_flagged_partners(
    program: AffiliateProgram,
) -> None:
    flagged = _open_anomaly_ids(program)

    def tracking_share(tickets: list[Ticket]) -> float:
        return sum(t.category is Category.TRACKING_ATTRIBUTION for t in tickets) / len(tickets)

    tickets = [t.ticket for t in program.tickets]
    from_flagged = [t for t in tickets if t.partner_id in flagged]
    others = [t for t in tickets if t.partner_id not in flagged and t.campaign_id not in flagged]
    assert tracking_share(from_flagged) > 1.5 * tracking_share(others)


def test_about_forty_percent_declare_no_urgency(program: AffiliateProgram) -> None:
    undeclared = sum(t.ticket.urgency is None for t in program.tickets) / len(program.tickets)
    assert 0.35 < undeclared < 0.45
    declared = Counter(t.ticket.urgency for t in program.tickets if t.ticket.urgency)
    assert declared.most_common(1)[0][0] is Urgency.NORMAL


def test_every_team_occurs_on_a_default_program(program: AffiliateProgram) -> None:
    assert {t.true_team for t in program.tickets} == set(TEAMS)


def test_true_team_follows_the_precedence(program: AffiliateProgram) -> None:
    deal_value = {d.id: d.value for d in program.deals}
    promotion = {c.id: c.promotion_type for c in program.campaigns}
    flagged = _open_anomaly_ids(program)
    top = top_engaged_partner_ids(program.partners)
    for labelled in program.tickets:
        t, team = labelled.ticket, labelled.true_team
        value = deal_value.get(t.deal_id or "", 0.0)
        promoted = promotion.get(t.campaign_id or "") in (
            PromotionType.SEASONAL,
            PromotionType.LAUNCH,
        )
        if value >= 50_000:
            assert team == "senior_support", t.id
        elif (
            t.partner_id in flagged
            or t.campaign_id in flagged
            or t.category is Category.TRACKING_ATTRIBUTION
        ):
            assert team == "analytics", t.id
        elif t.category in (Category.COMMISSION_DISPUTE, Category.PAYOUT):
            assert team == "finance", t.id
        elif promoted and t.category in (Category.CAMPAIGN_PERFORMANCE, Category.CREATIVE_REQUEST):
            assert team == "promotions", t.id
        elif t.partner_id in top:
            assert team == "account_management", t.id
        elif t.category is Category.COMPLIANCE:
            assert team == "compliance", t.id
        else:
            expected = {"EMEA": "emea_support", "APAC": "apac_support"}.get(t.region)
            assert team == (expected or "general_support"), t.id


@pytest.mark.parametrize(
    ("overrides", "team"),
    [
        ({"deal_value": 50_000.0, "has_open_anomaly": True}, "senior_support"),
        ({"has_open_anomaly": True, "category": Category.PAYOUT}, "analytics"),
        ({"category": Category.TRACKING_ATTRIBUTION, "top_engagement": True}, "analytics"),
        ({"category": Category.PAYOUT, "top_engagement": True}, "finance"),
        ({"promotion_type": PromotionType.LAUNCH, "top_engagement": True}, "promotions"),
        ({"promotion_type": PromotionType.EVERGREEN, "top_engagement": True}, "account_management"),
        ({"category": Category.COMPLIANCE, "region": "EMEA"}, "compliance"),
        ({"region": "EMEA"}, "emea_support"),
        ({"region": "APAC"}, "apac_support"),
        ({"deal_value": 49_999.0}, "general_support"),
    ],
)
def test_true_team_for_first_reason_wins(overrides: dict[str, Any], team: str) -> None:
    facts: dict[str, Any] = {
        "category": Category.CAMPAIGN_PERFORMANCE,
        "region": "NA",
        "deal_value": None,
        "has_open_anomaly": False,
        "promotion_type": None,
        "top_engagement": False,
    }
    assert true_team_for(**(facts | overrides)) == team


@given(
    facts=st.fixed_dictionaries(
        {
            "category": st.sampled_from(Category),
            "deal_value": st.one_of(st.none(), st.floats(0, 500_000)),
            "urgency": st.sampled_from(Urgency),
            "has_open_anomaly": st.booleans(),
            "top_engagement": st.booleans(),
        }
    ),
    extra=st.floats(0, 200_000),
)
def test_true_priority_never_drops_as_value_urgency_or_flags_rise(
    facts: dict[str, Any], extra: float
) -> None:
    def rank(**changes: Any) -> int:
        return int(PRIORITY_RANK[true_priority_for(**(facts | changes))])

    ladder = list(Urgency)
    more_urgent = ladder[min(ladder.index(facts["urgency"]) + 1, len(ladder) - 1)]
    assert rank(deal_value=(facts["deal_value"] or 0.0) + extra) <= rank()
    assert rank(urgency=more_urgent) <= rank()
    assert rank(has_open_anomaly=True) <= rank()
    assert rank(top_engagement=True) <= rank()


def test_priorities_cover_p1_to_p4(program: AffiliateProgram) -> None:
    assert {t.true_priority for t in program.tickets} == set(Priority)


def test_top_engaged_partners_rank_on_the_mean_percentile() -> None:
    partners = [
        Partner(
            f"P{i}", f"p{i}", weekly_active_leads=i, click_through_rate=i / 100, portal_logins=i
        )
        for i in range(1, 11)
    ]
    assert top_engaged_partner_ids(partners) == {"P9", "P10"}


def test_subjects_vary_and_vocabulary_is_shared(program: AffiliateProgram) -> None:
    subjects = {t.ticket.subject for t in program.tickets}
    assert len(subjects) > 500
    bodies = [t.ticket.body for t in program.tickets]
    assert min(len(b) for b in bodies) < 80  # one-liners
    assert max(len(b) for b in bodies) > 600  # several paragraphs
    for word in ("commission", "conversion", "tracking", "leads"):
        categories = {
            t.ticket.category
            for t in program.tickets
            if word in f"{t.ticket.subject} {t.ticket.body}".lower()
        }
        assert len(categories) >= 4, word


def test_urgency_cues_follow_declared_urgency(program: AffiliateProgram) -> None:
    cues = ("asap", "urgent", "blocking", "today")

    def cue_share(urgency: Urgency) -> float:
        texts = [
            f"{t.ticket.subject} {t.ticket.body}".lower()
            for t in program.tickets
            if t.ticket.urgency is urgency
        ]
        return sum(any(c in text for c in cues) for text in texts) / len(texts)

    assert cue_share(Urgency.URGENT) > 0.5
    assert cue_share(Urgency.NORMAL) < 0.1


def test_progress_reports_tickets_done_in_chunks() -> None:
    done: list[int] = []
    generate_program(
        GeneratorSpec(partners=20, campaigns=5, tickets=12_000, weeks=1),
        np.random.default_rng(3),
        progress=done.append,
    )
    assert done == sorted(done)
    assert len(done) > 1
    assert done[-1] == 12_000


def test_spec_rejects_a_naive_start() -> None:
    with pytest.raises(ValueError, match="timezone"):
        GeneratorSpec(start=datetime(2026, 1, 5))


@settings(max_examples=15, deadline=None)
@given(
    spec=st.builds(
        GeneratorSpec,
        partners=st.integers(1, 30),
        campaigns=st.integers(1, 8),
        tickets=st.integers(0, 150),
        weeks=st.integers(1, 3),
        start=st.datetimes(datetime(2025, 1, 1), datetime(2027, 1, 1), timezones=st.just(UTC)),
        anomaly_share=st.floats(0.0, 1.0),
    ),
    seed=st.integers(0, 2**32),
)
def test_any_small_program_is_consistent(spec: GeneratorSpec, seed: int) -> None:
    program = generate_program(spec, np.random.default_rng(seed))
    assert len(program.tickets) == spec.tickets
    deals = {d.id: d.partner_id for d in program.deals}
    campaign_ids = {c.id for c in program.campaigns}
    times = [t.ticket.created_at for t in program.tickets]
    assert times == sorted(times)
    for labelled in program.tickets:
        t = labelled.ticket
        assert spec.start <= t.created_at < spec.start + timedelta(weeks=spec.weeks)
        assert t.deal_id is None or deals[t.deal_id] == t.partner_id
        assert t.campaign_id is None or t.campaign_id in campaign_ids
        assert labelled.true_team in TEAMS


def _read_csv(path: Path) -> list[dict[str, Any]]:
    with path.open(encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f))
    # CSV writes None as "" and lists joined by ";"; bring rows to the JSONL shape.
    for row in rows:
        for key, value in row.items():
            row[key] = None if value == "" else value
        if "tags" in row:
            row["tags"] = row["tags"].split(";") if row["tags"] else []
    return rows


def _read_jsonl(path: Path) -> list[dict[str, Any]]:
    with path.open(encoding="utf-8") as f:
        return [json.loads(line) for line in f]


def _partner(row: dict[str, Any]) -> Partner:
    return Partner(
        id=row["id"],
        name=row["name"],
        tier=PartnerTier(row["tier"]),
        region=row["region"],
        weekly_active_leads=float(row["weekly_active_leads"]),
        click_through_rate=float(row["click_through_rate"]),
        portal_logins=float(row["portal_logins"]),
        lead_volume=float(row["lead_volume"]),
        account_manager=row["account_manager"],
    )


def _deal(row: dict[str, Any]) -> Deal:
    return Deal(id=row["id"], partner_id=row["partner_id"], value=float(row["value"]))


def _campaign(row: dict[str, Any]) -> Campaign:
    return Campaign(
        id=row["id"],
        name=row["name"],
        channel=Channel(row["channel"]),
        region=row["region"],
        promotion_type=PromotionType(row["promotion_type"]),
    )


def _anomaly(row: dict[str, Any]) -> Anomaly:
    return Anomaly(
        id=row["id"],
        kind=row["kind"],
        partner_id=row["partner_id"],
        campaign_id=row["campaign_id"],
        severity=float(row["severity"]),
        status=AnomalyStatus(row["status"]),
    )


def _labelled_ticket(row: dict[str, Any]) -> LabelledTicket:
    ticket = Ticket(
        id=row["id"],
        subject=row["subject"],
        body=row["body"],
        created_at=datetime.fromisoformat(row["created_at"]),
        partner_id=row["partner_id"],
        deal_id=row["deal_id"],
        campaign_id=row["campaign_id"],
        category=Category(row["category"]),
        urgency=Urgency(row["urgency"]) if row["urgency"] else None,
        channel=row["channel"],
        region=row["region"],
        tags=tuple(row["tags"]),
        external_id=row["external_id"],
    )
    return LabelledTicket(ticket, row["true_team"], Priority(row["true_priority"]))


def test_write_program_round_trips_through_csv_and_jsonl(tmp_path: Path) -> None:
    program = generate_program(SMALL, np.random.default_rng(5))
    written = write_program(program, tmp_path / "out")
    assert set(written) == {
        f"{table}.{ext}"
        for table in ("partners", "deals", "campaigns", "anomalies", "tickets")
        for ext in ("csv", "jsonl")
    }
    for read in (_read_csv, _read_jsonl):
        ext = "csv" if read is _read_csv else "jsonl"
        assert [_partner(r) for r in read(written[f"partners.{ext}"])] == program.partners
        assert [_deal(r) for r in read(written[f"deals.{ext}"])] == program.deals
        assert [_campaign(r) for r in read(written[f"campaigns.{ext}"])] == program.campaigns
        assert [_anomaly(r) for r in read(written[f"anomalies.{ext}"])] == program.anomalies
        tickets = read(written[f"tickets.{ext}"])
        assert [_labelled_ticket(r) for r in tickets] == program.tickets
        assert tickets[0]["created_at"].endswith("+00:00")


def test_csv_leaves_missing_values_empty(tmp_path: Path) -> None:
    program = generate_program(SMALL, np.random.default_rng(5))
    written = write_program(program, tmp_path)
    with written["tickets.csv"].open(encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f))
    assert list(rows[0]) == [
        "id", "external_id", "created_at", "partner_id", "deal_id", "campaign_id", "category",
        "urgency", "channel", "region", "subject", "body", "tags", "true_team", "true_priority",
    ]  # fmt: skip
    assert all(r["external_id"] == "" for r in rows)
    undeclared = [r for r, t in zip(rows, program.tickets, strict=True) if t.ticket.urgency is None]
    assert undeclared
    assert all(r["urgency"] == "" for r in undeclared)
    lines = written["tickets.jsonl"].read_text(encoding="utf-8").splitlines()
    assert json.loads(lines[0])["external_id"] is None
