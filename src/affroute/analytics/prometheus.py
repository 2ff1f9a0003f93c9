"""Operational counters and gauges in the Prometheus text format, read from the database.

Every figure is derived from the database at scrape time (facts, open tickets, the
escalation ledger), not counted in process memory: any worker answers a scrape with the
same totals, whatever worker or command did the work, and totals survive restarts.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from itertools import accumulate

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from affroute.analytics.facts import WATERMARK
from affroute.analytics.metrics import Filters
from affroute.analytics.operational import agent_load, open_queues
from affroute.store.models import EscalationRow, MetaRow, TicketEventRow, TicketFactRow

F = TicketFactRow
# Creation to first agent: at once, within minutes, hours, a day.
LATENCY_BUCKETS = (1.0, 10.0, 60.0, 300.0, 900.0, 1800.0, 3600.0, 4 * 3600.0, 86400.0)


def families(session: Session) -> list[Metric]:
    """The metric families of one scrape."""
    ingested = CounterMetricFamily(
        "affroute_tickets_ingested", "Tickets stored, by the team first chosen", labels=["team"]
    )
    routed = CounterMetricFamily(
        "affroute_tickets_routed",
        "Tickets routed, by what chose the team (rule, model, default)",
        labels=["source"],
    )
    sources: Counter[str] = Counter()
    for decided_by, team, count in session.execute(
        select(F.decided_by, F.first_team, func.count()).group_by(F.decided_by, F.first_team)
    ):
        ingested.add_metric([team], count)
        sources[decided_by.split(":", 1)[0]] += count
    for source, count in sorted(sources.items()):
        routed.add_metric([source], count)

    resolved = CounterMetricFamily("affroute_tickets_resolved", "Tickets solved", labels=["team"])
    breaches = CounterMetricFamily(
        "affroute_sla_breaches", "Tickets whose SLA was breached", labels=["priority"]
    )
    escalated = CounterMetricFamily(
        "affroute_tickets_escalated", "Tickets escalated at least once", labels=["priority"]
    )
    totals: dict[str, Counter[str]] = {
        "resolved": Counter(),
        "breached": Counter(),
        "up": Counter(),
    }
    assigned, assigned_sum = 0, 0.0
    for team, priority, solved, breached, up, n, total in session.execute(
        select(
            F.team, F.priority,
            func.count(F.resolved_at),
            func.count().filter(F.breached.is_(True)),
            func.count().filter(F.escalated.is_(True)),
            func.count(F.assigned_seconds), func.coalesce(func.sum(F.assigned_seconds), 0.0),
        ).group_by(F.team, F.priority)
    ):  # fmt: skip
        totals["resolved"][team] += solved
        totals["breached"][priority] += breached
        totals["up"][priority] += up
        assigned += n
        assigned_sum += float(total or 0.0)
    buckets = _latency_buckets(session)
    for team, count in sorted(totals["resolved"].items()):
        resolved.add_metric([team], count)
    for priority, count in sorted(totals["breached"].items()):
        breaches.add_metric([priority], count)
    for priority, count in sorted(totals["up"].items()):
        escalated.add_metric([priority], count)
    histogram = HistogramMetricFamily(
        "affroute_assignment_latency_seconds", "From a ticket's creation to its first agent"
    )
    histogram.add_metric(
        [],
        [(repr(bound), count) for bound, count in zip(LATENCY_BUCKETS, buckets, strict=True)]
        + [("+Inf", assigned)],
        assigned_sum,
    )

    steps = CounterMetricFamily(
        "affroute_escalation_steps", "Escalation steps fired, by action", labels=["action"]
    )
    for action, count in session.execute(
        select(EscalationRow.action, func.count()).group_by(EscalationRow.action)
    ):
        steps.add_metric([action], count)

    open_tickets = GaugeMetricFamily(
        "affroute_tickets_open", "Open tickets", labels=["team", "priority"]
    )
    queued = GaugeMetricFamily(
        "affroute_tickets_queued", "Tickets waiting in a team queue", labels=["team", "priority"]
    )
    for queue in open_queues(session=session, filters=Filters()):
        open_tickets.add_metric([queue.team, queue.priority], queue.open)
        queued.add_metric([queue.team, queue.priority], queue.waiting)
    load = GaugeMetricFamily("affroute_agent_load", "Open tickets per agent", labels=["agent"])
    capacity = GaugeMetricFamily("affroute_agent_capacity", "Agent capacity", labels=["agent"])
    for agent in agent_load(session=session, filters=Filters()):
        load.add_metric([agent.agent_id], agent.load)
        capacity.add_metric([agent.agent_id], agent.capacity)

    seen = session.scalar(select(MetaRow.value).where(MetaRow.key == WATERMARK)) or 0
    newest = session.scalar(select(func.max(TicketEventRow.id))) or 0
    lag = GaugeMetricFamily(
        "affroute_analytics_lag_events", "Ticket events not yet in the analytics facts"
    )
    lag.add_metric([], max(0, newest - seen))
    return [
        ingested, routed, resolved, breaches, escalated, histogram, steps,
        open_tickets, queued, load, capacity, lag,
    ]  # fmt: skip


def _latency_buckets(session: Session) -> list[int]:
    """Tickets assigned within each bound: one range count per bucket on the index of
    ``assigned_seconds``, summed up (nine tests on each of a million rows cost more)."""
    counts, lower = [], None
    for bound in LATENCY_BUCKETS:
        inside = [F.assigned_seconds <= bound]
        if lower is not None:
            inside.append(F.assigned_seconds > lower)
        counts.append(int(session.scalar(select(func.count()).where(*inside)) or 0))
        lower = bound
    return list(accumulate(counts))


class _Scrape(Collector):
    def __init__(self, metrics: list[Metric]) -> None:
        self.metrics = metrics

    def collect(self) -> Iterator[Metric]:
        return iter(self.metrics)


def exposition(session: Session) -> bytes:
    """The scrape body, in the Prometheus text format."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_Scrape(families(session)))
    return generate_latest(registry)
