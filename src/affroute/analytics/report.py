"""The overview as one self-contained HTML file: tables and inline SVG charts, no requests."""

from __future__ import annotations

import io
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import matplotlib

matplotlib.use("Agg")  # no display: charts are drawn to SVG text

import matplotlib.pyplot as plt
from jinja2 import Environment
from sqlalchemy.orm import Session

from affroute.analytics import metrics, operational
from affroute.analytics.metrics import Filters
from affroute.service.errors import NotFoundError
from affroute.service.satisfaction import Satisfaction

plt.rcParams.update({"svg.fonttype": "path", "svg.hashsalt": "affroute", "font.size": 9})


@dataclass(frozen=True, slots=True)
class Overview:
    """Every number of the report, as the metric functions return them."""

    filters: Filters
    generated_at: datetime
    change: metrics.ConfigChange | None
    resolution: list[metrics.SegmentResolution]
    engagement: list[Satisfaction]
    trend: list[Satisfaction]
    misroutes: list[metrics.MisrouteRate]
    attribution: list[metrics.AttributionWeek]
    correlation: metrics.ScoreCorrelation
    sla: list[metrics.SlaCompliance]
    models: list[metrics.ModelQuality]
    queues: list[operational.QueueLoad]
    agents: list[operational.AgentLoad]
    waiting: list[operational.WaitingTicket]
    at_risk: list[operational.AtRisk]


def overview(*, session: Session, filters: Filters, now: datetime) -> Overview:
    """Compute every metric for the report; before/after the latest config change if any."""
    try:
        change: metrics.ConfigChange | None = metrics.config_change(
            session=session, version="latest"
        )
    except NotFoundError:
        change = None
    around = change.version if change is not None else None
    return Overview(
        filters=filters,
        generated_at=now,
        change=change,
        resolution=metrics.resolution_by_segment(session=session, filters=filters, around=around),
        engagement=metrics.satisfaction_by_engagement(session=session, filters=filters),
        trend=metrics.satisfaction_trend(session=session, filters=filters),
        misroutes=metrics.misroute_rate(session=session, filters=filters),
        attribution=metrics.attribution_errors(session=session, filters=filters),
        correlation=metrics.score_resolution_correlation(session=session, filters=filters),
        sla=metrics.sla_compliance(session=session, filters=filters),
        models=metrics.model_quality(session=session, filters=filters),
        queues=operational.open_queues(session=session, filters=filters),
        agents=operational.agent_load(session=session, filters=filters),
        waiting=operational.oldest_waiting(session=session, filters=filters, now=now),
        at_risk=operational.about_to_breach(session=session, filters=filters, now=now),
    )


def _svg(figure: Any) -> str:
    buffer = io.StringIO()
    figure.savefig(buffer, format="svg", bbox_inches="tight")
    plt.close(figure)
    text = buffer.getvalue()
    return text[text.index("<svg") :]  # drop the XML prolog and doctype: inline SVG


def _resolution_chart(rows: list[metrics.SegmentResolution]) -> str:
    figure, axes = plt.subplots(figsize=(7, 3))
    periods = list(dict.fromkeys(r.period for r in rows))
    names = list(dict.fromkeys(r.segment for r in rows))
    width = 0.8 / len(periods)
    for i, period in enumerate(periods):
        values = [
            next(
                (r.median_hours or 0.0 for r in rows if r.period == period and r.segment == n), 0.0
            )
            for n in names
        ]
        axes.bar([x + i * width for x in range(len(names))], values, width, label=period)
    axes.set_xticks([x + width * (len(periods) - 1) / 2 for x in range(len(names))], names)
    axes.set_ylabel("median hours to resolve")
    axes.legend()
    return _svg(figure)


def _trend_chart(rows: list[Satisfaction]) -> str:
    figure, axes = plt.subplots(figsize=(7, 2.6))
    weeks = [str(r.week) for r in rows if r.csat is not None]
    axes.plot(weeks, [r.csat for r in rows if r.csat is not None], marker="o", label="CSAT (1-5)")
    axes.set_ylim(1, 5)
    axes.set_ylabel("CSAT")
    figure.autofmt_xdate()
    return _svg(figure)


def _correlation_chart(found: metrics.ScoreCorrelation) -> str:
    figure, axes = plt.subplots(figsize=(7, 3))
    axes.scatter([p.score for p in found.points], [p.hours for p in found.points], s=4, alpha=0.4)
    middles = [(b.low + b.high) / 2 for b in found.bins if b.median_hours is not None]
    axes.plot(middles, [b.median_hours for b in found.bins if b.median_hours is not None],
              color="crimson", marker="o", label="median per score bin")  # fmt: skip
    axes.set_xlabel("priority score")
    axes.set_ylabel("hours to resolve")
    axes.legend()
    return _svg(figure)


def _sla_chart(rows: list[metrics.SlaCompliance]) -> str:
    figure, axes = plt.subplots(figsize=(7, 2.6))
    mine = [r for r in rows if r.axis == "priority"]
    axes.bar([r.key for r in mine], [100 * r.compliance for r in mine], color="seagreen")
    axes.set_ylim(0, 100)
    axes.set_ylabel("% within SLA")
    return _svg(figure)


def _attribution_chart(rows: list[metrics.AttributionWeek]) -> str:
    figure, axes = plt.subplots(figsize=(7, 2.6))
    weeks = [str(r.week) for r in rows]
    axes.bar(weeks, [r.detected for r in rows], width=3, label="detected")
    axes.bar(weeks, [-r.resolved for r in rows], width=3, label="resolved (below)")
    axes.legend()
    figure.autofmt_xdate()
    return _svg(figure)


def _number(value: Any, digits: int = 2) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:,.{digits}f}"
    return f"{value:,}" if isinstance(value, int) else str(value)


def _percent(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.1f}%"


_TEMPLATE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<title>affroute overview {{ span }}</title>
<style>
body{font:14px/1.45 system-ui,sans-serif;margin:2rem auto;max-width:60rem;color:#222;padding:0 1rem}
h1{font-size:1.5rem}h2{font-size:1.15rem;margin-top:2.2rem;border-bottom:1px solid #ddd}
table{border-collapse:collapse;margin:.5rem 0;font-variant-numeric:tabular-nums}
th,td{padding:.2rem .6rem;border-bottom:1px solid #eee;text-align:right}
th:first-child,td:first-child{text-align:left}.note{color:#666;font-size:.9em}
svg{max-width:100%;height:auto}
</style></head><body>
<h1>affroute overview</h1>
<p class="note">Tickets created {{ span }}{% if filters.team %}, team {{ filters.team }}{% endif %}
{% if filters.partner_tier %}, partner tier {{ filters.partner_tier }}{% endif %}.
Written {{ o.generated_at.strftime("%Y-%m-%d %H:%M UTC") }}.</p>

<h2>Resolution time by deal value</h2>
{% if o.change %}<p class="note">Before and after configuration {{ o.change.version }},
activated {{ o.change.activated_at.strftime("%Y-%m-%d %H:%M") }}.</p>{% endif %}
<table><tr><th>segment</th><th>period</th><th>tickets</th><th>resolved</th>
<th>mean h</th><th>median h</th></tr>
{% for r in o.resolution %}<tr><td>{{ r.segment }}</td><td>{{ r.period }}</td>
<td>{{ n(r.tickets) }}</td><td>{{ n(r.resolved) }}</td><td>{{ n(r.mean_hours) }}</td>
<td>{{ n(r.median_hours) }}</td></tr>{% endfor %}</table>
{{ charts.resolution | safe }}

<h2>Partner satisfaction by engagement level</h2>
<table><tr><th>engagement</th><th>surveys</th><th>responses</th><th>CSAT</th><th>NPS</th></tr>
{% for r in o.engagement if r.week is none %}<tr><td>{{ r.group }}</td><td>{{ n(r.surveys) }}</td>
<td>{{ n(r.responses) }}</td><td>{{ n(r.csat) }}</td><td>{{ n(r.nps, 1) }}</td></tr>{% endfor %}
</table>

<h2>Satisfaction trend</h2>
{{ charts.trend | safe }}

<h2>Misroutes and escalations, by what made the first decision</h2>
<table><tr><th>decided by</th><th>tickets</th><th>misrouted</th><th>rate</th><th>escalated</th>
<th>rate</th></tr>
{% for r in o.misroutes %}<tr><td>{{ r.decided_by }}</td><td>{{ n(r.tickets) }}</td>
<td>{{ n(r.misrouted) }}</td><td>{{ p(r.misroute_rate) }}</td><td>{{ n(r.escalated) }}</td>
<td>{{ p(r.escalation_rate) }}</td></tr>{% endfor %}</table>

<h2>Attribution errors detected and resolved</h2>
<table><tr><th>week</th><th>detected</th><th>resolved</th><th>open</th></tr>
{% for r in o.attribution %}<tr><td>{{ r.week }}</td><td>{{ r.detected }}</td>
<td>{{ r.resolved }}</td><td>{{ r.open }}</td></tr>{% endfor %}</table>
{{ charts.attribution | safe }}

<h2>Priority score and resolution speed</h2>
<p>Pearson r = <b>{{ n(o.correlation.pearson, 3) }}</b>, Spearman &rho; =
<b>{{ n(o.correlation.spearman, 3) }}</b> over {{ n(o.correlation.sample) }} of
{{ n(o.correlation.resolved) }} resolved tickets (negative: higher scores resolve faster).</p>
{{ charts.correlation | safe }}

<h2>SLA compliance and escalations</h2>
<table><tr><th>by</th><th>key</th><th>tickets</th><th>breached</th><th>compliance</th>
<th>escalated</th></tr>
{% for r in o.sla %}<tr><td>{{ r.axis }}</td><td>{{ r.key }}</td><td>{{ n(r.tickets) }}</td>
<td>{{ n(r.breached) }}</td><td>{{ p(r.compliance) }}</td><td>{{ p(r.escalated_share) }}</td>
</tr>{% endfor %}</table>
{{ charts.sla | safe }}

<h2>Routing models: precision and recall, live and at the last evaluation</h2>
{% if o.models %}<table><tr><th>model</th><th>figures</th><th>team</th><th>decisions</th>
<th>confirmed</th><th>corrected</th><th>precision</th><th>recall</th></tr>
{% for r in o.models %}<tr><td>{{ r.model }}</td><td>{{ r.source }}</td><td>{{ r.team }}</td>
<td>{{ n(r.decisions) }}</td>
<td>{{ n(r.confirmed) }}</td><td>{{ n(r.corrected) }}</td><td>{{ p(r.precision) }}</td>
<td>{{ p(r.recall) }}</td></tr>{% endfor %}</table>
{% else %}<p class="note">No ticket in this window was routed by a model.</p>{% endif %}

<h2>Now: queues, agents, waits, deadlines</h2>
<table><tr><th>team</th><th>priority</th><th>open</th><th>waiting</th></tr>
{% for r in o.queues %}<tr><td>{{ r.team }}</td><td>{{ r.priority }}</td><td>{{ n(r.open) }}</td>
<td>{{ n(r.waiting) }}</td></tr>{% endfor %}</table>
<table><tr><th>agent</th><th>status</th><th>load</th><th>capacity</th></tr>
{% for r in o.agents %}<tr><td>{{ r.name }}</td><td>{{ r.status }}</td><td>{{ r.load }}</td>
<td>{{ r.capacity }}</td></tr>{% endfor %}</table>
<p>{{ o.waiting | length }} oldest waiting tickets listed by the API;
{{ o.at_risk | length }} tickets come due within the hour.</p>
</body></html>
"""


def render(found: Overview) -> str:
    """The report's HTML: one file, inline CSS and SVG, nothing loaded from elsewhere."""
    f = found.filters
    start = f.created_from.date().isoformat() if f.created_from else "the start"
    last = f.created_to - timedelta(microseconds=1) if f.created_to else None  # the end is open
    end = last.date().isoformat() if last else "now"
    charts = {
        "resolution": _resolution_chart(found.resolution),
        "trend": _trend_chart(found.trend),
        "correlation": _correlation_chart(found.correlation),
        "sla": _sla_chart(found.sla),
        "attribution": _attribution_chart(found.attribution),
    }
    template = Environment(autoescape=True).from_string(_TEMPLATE)
    return template.render(
        o=found, filters=f, span=f"{start} to {end}", charts=charts, n=_number, p=_percent
    )
