"""Each metric on the hand-built program of conftest.py, against figures worked out by hand."""

from __future__ import annotations

import math
from datetime import date
from typing import Any

import pytest
from alembic import command
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from affroute.analytics import facts, metrics, operational, prometheus
from affroute.analytics.metrics import Filters
from affroute.service import satisfaction
from affroute.service.errors import NotFoundError
from affroute.service.uow import UnitOfWork
from affroute.store import migrate
from affroute.store.db import make_engine, session_factory
from affroute.store.models import ModelRow, TicketRow
from affroute.store.models import TicketFactRow as F
from tests.analytics.conftest import NOW, T0, H, event
from tests.conftest import T0 as MONDAY

ALL = Filters()


def by_segment(rows: list[metrics.SegmentResolution], period: str = "all") -> dict[str, tuple]:
    return {
        r.segment: (r.tickets, r.resolved, r.mean_hours, r.median_hours)
        for r in rows
        if r.period == period
    }


def test_resolution_by_deal_value_segment(uow: UnitOfWork) -> None:
    rows = uow.run(lambda s: metrics.resolution_by_segment(session=s, filters=ALL))
    assert by_segment(rows) == {
        "no deal": (2, 1, 20.0, 20.0),  # t4 solved in 20 h; t5 open
        "under $5K": (2, 2, 3.0, 3.0),  # t1 2 h, t2 4 h
        "$5K-$20K": (0, 0, None, None),
        "$20K-$50K": (0, 0, None, None),
        "$50K+": (1, 1, 10.0, 10.0),
    }


def test_segments_are_configurable(uow: UnitOfWork) -> None:
    rows = uow.run(lambda s: metrics.resolution_by_segment(session=s, filters=ALL, edges=[2_000]))
    assert by_segment(rows) == {
        "no deal": (2, 1, 20.0, 20.0),
        "under $2K": (1, 1, 2.0, 2.0),
        "$2K+": (2, 2, 7.0, 7.0),  # t2 4 h and t3 10 h
    }


def test_before_and_after_a_configuration_change(uow: UnitOfWork) -> None:
    rows = uow.run(lambda s: metrics.resolution_by_segment(session=s, filters=ALL, around="v2"))
    before, after = by_segment(rows, "before"), by_segment(rows, "after")
    assert before["under $5K"] == (2, 2, 3.0, 3.0)
    assert before["$50K+"] == (1, 1, 10.0, 10.0)
    assert before["no deal"] == (0, 0, None, None)
    assert after["no deal"] == (2, 1, 20.0, 20.0)
    assert after["under $5K"] == (0, 0, None, None)
    latest = uow.run(
        lambda s: metrics.resolution_by_segment(session=s, filters=ALL, around="latest")
    )
    assert latest == rows
    with pytest.raises(NotFoundError):
        uow.run(lambda s: metrics.resolution_by_segment(session=s, filters=ALL, around="v9"))


def test_filters_by_tier_team_and_creation_time(uow: UnitOfWork) -> None:
    gold = uow.run(
        lambda s: metrics.resolution_by_segment(session=s, filters=Filters(partner_tier="gold"))
    )
    assert sum(r.tickets for r in gold) == 2
    analytics = uow.run(
        lambda s: metrics.misroute_rate(session=s, filters=Filters(team="analytics"))
    )
    assert analytics[-1].tickets == 3  # t2, t3, t4 are on analytics now
    window = Filters(created_from=T0 + H, created_to=T0 + 3 * H)  # t2 and t3
    rows = uow.run(lambda s: metrics.resolution_by_segment(session=s, filters=window))
    assert by_segment(rows)["under $5K"] == (1, 1, 4.0, 4.0)


def test_misroute_rate_is_blamed_on_the_first_decision(uow: UnitOfWork) -> None:
    rows = uow.run(lambda s: metrics.misroute_rate(session=s, filters=ALL))
    found = {r.decided_by: (r.kind, r.tickets, r.misrouted, r.escalated) for r in rows}
    assert found == {
        "rule:r1": ("rule", 2, 1, 1),
        "model:m1": ("model", 2, 1, 0),
        "default": ("default", 1, 0, 0),
        "all": ("all", 5, 2, 1),
    }
    total = rows[-1]
    assert (total.misroute_rate, total.escalation_rate) == (0.4, 0.2)


def outcomes(uow: UnitOfWork, by: metrics.OutcomeKey, filters: Filters = ALL) -> dict[str, tuple]:
    rows = uow.run(lambda s: metrics.routing_outcomes(session=s, filters=filters, by=by))
    return {
        r.group: (r.tickets, r.solved, r.csat, r.responses, r.median_resolution_hours,
                  r.mean_resolution_hours, r.reopen_rate, r.reassignment_rate)
        for r in rows
    }  # fmt: skip


def test_routing_outcomes_of_each_first_decision(uow: UnitOfWork) -> None:
    # rule:r1 is t1 (2 h, CSAT 5, reopened) and t2 (4 h, CSAT 3, moved); model:m1 is t3
    # (10 h, CSAT 4) and t4 (20 h, moved, survey not answered); default is t5, still open.
    assert outcomes(uow, metrics.OutcomeKey.DECIDED_BY) == {
        "default": (1, 0, None, 0, None, None, None, 0.0),
        "model:m1": (2, 2, 4.0, 1, 15.0, 15.0, 0.0, 0.5),
        "rule:r1": (2, 2, 4.0, 2, 3.0, 3.0, 0.5, 0.5),
    }


def test_routing_outcomes_of_the_team_first_chosen(uow: UnitOfWork) -> None:
    found = outcomes(uow, metrics.OutcomeKey.TEAM)
    assert found["analytics"] == (1, 1, 4.0, 1, 10.0, 10.0, 0.0, 0.0)  # t3
    assert found["general"] == (1, 0, None, 0, None, None, None, 0.0)  # t5
    # t1, t2, t4: 2, 4 and 20 hours; t1 reopened; t2 and t4 moved to analytics.
    assert found["finance"] == pytest.approx((3, 3, 4.0, 2, 4.0, 26 / 3, 1 / 3, 2 / 3))
    later = outcomes(uow, metrics.OutcomeKey.DECIDED_BY, Filters(created_from=T0 + H))
    assert later["rule:r1"] == (1, 1, 3.0, 1, 4.0, 4.0, 0.0, 1.0)  # t2 alone


def test_model_precision_and_recall_from_outcomes(uow: UnitOfWork) -> None:
    rows = uow.run(lambda s: metrics.model_quality(session=s, filters=ALL))
    found = {
        r.team: (r.decisions, r.confirmed, r.corrected, r.missed, r.precision, r.recall)
        for r in rows
    }
    # t3 sent to analytics and solved there; t4 sent to finance, moved to analytics.
    assert found == {
        "analytics": (1, 1, 0, 1, 1.0, 0.5),
        "finance": (1, 0, 1, 0, 0.0, None),
    }
    assert {(r.source, r.model) for r in rows} == {("live", "model:m1")}


def _register(session: Session, name: str, mode: str, classes: list[dict[str, object]]) -> None:
    session.add(
        ModelRow(
            id=name, name=name, sha256=name * 8, label="team", mode=mode,
            classes=[c["label"] for c in classes], fingerprint="f", size=1, content=b"-",
            metrics={"macro_f1": 0.8, "classes": classes},
            registered_at=NOW, registered_by="t", mode_changed_at=NOW, mode_changed_by="t",
        )
    )  # fmt: skip


def test_the_last_evaluation_of_models_in_use_is_listed_beside_the_live_figures(
    uow: UnitOfWork,
) -> None:
    # Held out: 40 finance tickets, 30 found (recall 0.75); 36 sent there, 30 right.
    finance = {"label": "finance", "precision": 30 / 36, "recall": 0.75, "support": 40}
    uow.run(lambda s: _register(s, "m1", "active", [finance]))
    uow.run(lambda s: _register(s, "old", "registered", [finance]))  # not in use: not listed
    rows = uow.run(lambda s: metrics.model_quality(session=s, filters=ALL))
    assert [r.source for r in rows] == ["live", "live", "evaluation"]
    held = rows[-1]
    assert (held.model, held.team, held.decisions) == ("model:m1", "finance", 36)
    assert (held.confirmed, held.corrected, held.missed) == (30, 6, 10)
    assert held.precision == pytest.approx(30 / 36) and held.recall == 0.75


def test_score_and_resolution_speed_correlation(uow: UnitOfWork) -> None:
    found = uow.run(lambda s: metrics.score_resolution_correlation(session=s, filters=ALL))
    # (score, hours): (90, 2), (70, 4), (40, 10), (20, 20); means 55 and 9.
    assert (found.resolved, found.sample) == (4, 4)
    assert found.spearman == pytest.approx(-1.0)
    assert found.pearson == pytest.approx(-720 / math.sqrt(2900 * 196))
    medians = {b.low: b.median_hours for b in found.bins if b.tickets}
    assert medians == {20.0: 20.0, 40.0: 10.0, 70.0: 4.0, 90.0: 2.0}
    assert sorted((p.score, p.hours) for p in found.points) == [
        (20.0, 20.0), (40.0, 10.0), (70.0, 4.0), (90.0, 2.0)
    ]  # fmt: skip


def test_satisfaction_by_engagement_level(uow: UnitOfWork) -> None:
    rows = uow.run(lambda s: metrics.satisfaction_by_engagement(session=s, filters=ALL))
    overall = {r.group: (r.surveys, r.responses, r.csat, r.nps) for r in rows if r.week is None}
    # top: CSAT 5 and 3, NPS 10 (promoter) and 6 (detractor); low: CSAT 4, NPS 9.
    assert overall == {"top": (2, 2, 4.0, 0.0), "low": (1, 1, 4.0, 100.0)}


def test_the_overview_reads_the_three_satisfaction_views_at_once(uow: UnitOfWork) -> None:
    found = uow.run(lambda s: metrics.survey_figures(session=s, filters=ALL))
    assert found.by_engagement == uow.run(
        lambda s: metrics.satisfaction_by_engagement(session=s, filters=ALL)
    )
    assert found.trend == uow.run(lambda s: metrics.satisfaction_trend(session=s, filters=ALL))
    # t1 5 / 10, t2 3 / 6, t3 4 / 9 answered; t4's survey is still scheduled.
    whole = found.overall
    assert (whole.group, whole.week, whole.surveys, whole.responses) == ("all", None, 3, 3)
    assert whole.csat == 4.0 and whole.nps == pytest.approx(100 / 3)


def test_satisfaction_trend_week_by_week(uow: UnitOfWork) -> None:
    rows = uow.run(lambda s: metrics.satisfaction_trend(session=s, filters=ALL))
    assert len(rows) == 1
    week = rows[0]
    assert week.week == MONDAY.date()
    assert (week.surveys, week.responses, week.csat) == (3, 3, 4.0)
    assert week.nps == pytest.approx(100 * (2 - 1) / 3)


def test_sla_compliance_and_escalations_by_priority_team_and_tier(uow: UnitOfWork) -> None:
    rows = uow.run(lambda s: metrics.sla_compliance(session=s, filters=ALL))
    found = {(r.axis, r.key): (r.tickets, r.breached, r.escalated, r.compliance) for r in rows}
    assert found[("priority", "p2")] == (1, 1, 1, 0.0)
    assert found[("priority", "p3")] == (2, 0, 0, 1.0)
    assert found[("partner_tier", "gold")] == (2, 1, 1, 0.5)
    assert found[("partner_tier", "unknown")] == (1, 0, 0, 1.0)
    assert found[("team", "analytics")] == (3, 1, 1, round(2 / 3, 4))
    gold = next(r for r in rows if r.key == "gold")
    assert gold.escalated_share == 0.5


def test_attribution_errors_detected_and_resolved_per_week(uow: UnitOfWork) -> None:
    rows = uow.run(lambda s: metrics.attribution_errors(session=s, filters=ALL))
    first, second = MONDAY.date(), date(2026, 3, 9)
    assert [(r.week, r.detected, r.resolved, r.open) for r in rows] == [
        (first, 2, 1, 1),
        (second, 1, 1, 1),
    ]
    silver = uow.run(
        lambda s: metrics.attribution_errors(session=s, filters=Filters(partner_tier="silver"))
    )
    assert [(r.detected, r.resolved) for r in silver] == [(1, 1)]


def test_operational_view(uow: UnitOfWork) -> None:
    queues = uow.run(lambda s: operational.open_queues(session=s, filters=ALL))
    assert [(q.team, q.priority, q.open, q.waiting) for q in queues] == [("general", "p3", 1, 1)]
    waiting = uow.run(lambda s: operational.oldest_waiting(session=s, filters=ALL, now=NOW))
    assert [(w.ticket_id, w.waiting_hours) for w in waiting] == [("t5", 26.0)]
    risky = uow.run(lambda s: operational.about_to_breach(session=s, filters=ALL, now=NOW))
    assert [(r.ticket_id, r.minutes_left) for r in risky] == [("t5", 30.0)]
    later = uow.run(lambda s: operational.about_to_breach(session=s, filters=ALL, now=NOW - 2 * H))
    assert later == []  # due in 2.5 h: not within the hour


def test_refresh_follows_new_events_and_breaches_without_one(uow: UnitOfWork) -> None:
    again = uow.run(lambda s: facts.refresh(session=s))
    assert again.events == 0
    before = uow.run(lambda s: metrics.misroute_rate(session=s, filters=ALL))[-1]

    def move(session: Session) -> None:
        session.add(event("t5", "reassigned", NOW, from_team="general", to_team="finance",
                          misroute=True, overturned="default"))  # fmt: skip

    uow.run(move)
    uow.run(lambda s: facts.refresh(session=s))
    after = uow.run(lambda s: metrics.misroute_rate(session=s, filters=ALL))
    assert after[-1].misrouted == before.misrouted + 1
    assert next(r for r in after if r.decided_by == "default").misrouted == 1

    uow.run(
        lambda s: s.execute(
            update(TicketRow).where(TicketRow.id == "t5").values(sla_status="breached")
        )
    )
    uow.run(lambda s: facts.refresh(session=s))  # a breach has no event: found anyway
    sla = uow.run(lambda s: metrics.sla_compliance(session=s, filters=ALL))
    assert next(r for r in sla if r.key == "unknown").breached == 1


def test_upgrading_to_0012_marks_the_reopened_tickets_from_the_event_log(
    database_url: str,
) -> None:
    command.downgrade(migrate.alembic_config(database_url), "0011")
    migrate.upgrade(database_url)
    uow = UnitOfWork(session_factory(make_engine(database_url)))
    rows = uow.run(lambda s: s.execute(select(F.ticket_id, F.reopened)).all())
    found = {ticket_id: reopened for ticket_id, reopened in rows}
    assert found == {"t1": True, "t2": False, "t3": False, "t4": False, "t5": False}
    assert uow.run(lambda s: facts.refresh(session=s)).events == 0  # nothing left to redo


def test_satisfaction_by_dimension_counted_in_sql(uow: UnitOfWork) -> None:
    # What the satisfaction page shows: the surveys that went out (t4's is scheduled).
    def rows(**window: Any) -> list[tuple[Any, ...]]:
        found = uow.run(
            lambda s: satisfaction.satisfaction(
                session=s, by=satisfaction.Dimension.ENGAGEMENT, **window
            )
        )
        return [(r.group, r.week, r.surveys, r.responses, r.csat, r.nps) for r in found]

    week = MONDAY.date()
    assert rows() == [
        ("low", None, 1, 1, 4.0, 100.0), ("low", week, 1, 1, 4.0, 100.0),  # t3: 4 / 9
        ("top", None, 2, 2, 4.0, 0.0), ("top", week, 2, 2, 4.0, 0.0),  # t1 5 / 10, t2 3 / 6
    ]  # fmt: skip
    assert rows(weekly=False) == [r for r in rows() if r[1] is None]  # the page's
    assert rows(since=T0 + 3 * H, until=T0 + 6 * H) == [
        ("top", None, 1, 1, 3.0, -100.0), ("top", week, 1, 1, 3.0, -100.0),  # t2 alone
    ]  # fmt: skip


def test_the_scrape_counts_assignment_latency_per_bucket(uow: UnitOfWork) -> None:
    families = {f.name: f for f in uow.run(prometheus.families)}
    samples = families["affroute_assignment_latency_seconds"].samples
    buckets = {s.labels["le"]: s.value for s in samples if s.name.endswith("_bucket")}
    # t1..t4 were assigned 15 minutes (900 s, on a bound) after creation; t5 waits.
    assert buckets == {"1.0": 0, "10.0": 0, "60.0": 0, "300.0": 0, "900.0": 4, "1800.0": 4,
                       "3600.0": 4, "14400.0": 4, "86400.0": 4, "+Inf": 4}  # fmt: skip
    assert next(s.value for s in samples if s.name.endswith("_sum")) == 3600.0
